"""Public v2 reads: notification lists, templates, template previews, received text messages
(public-api.md §6.2, §6.4-§6.7). Responses are built as exact JSON; the pydantic models only document them."""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import ORJSONResponse

from ..adapters.internal_client import InternalUnavailable
from ..domain.errors import bad_request, not_found, unavailable, validation_error
from ..domain.presenters import notification_body
from ..domain.read_models import (
    ErrorResponse,
    NotificationList,
    ReceivedTextMessageList,
    Template,
    TemplateList,
    TemplatePreview,
    TemplatePreviewRequest,
)
from ..domain.reads import (
    PAGE_SIZE,
    expand_statuses,
    notifications_links,
    preview_body,
    received_text_body,
    received_texts_links,
    template_body,
)
from ..validation import STATUSES, TEMPLATE_TYPES, ValidationFailed, validate, validate_query
from .bodies import read_limited
from .deps import Auth, Ctx

router = APIRouter(tags=["reads"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorResponse, "description": "Validation or request error"},
    403: {"model": ErrorResponse, "description": "Authentication error"},
}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"model": ErrorResponse, "description": "No result found"}}
TOO_LARGE: dict[int | str, dict[str, Any]] = {
    413: {
        "model": ErrorResponse,
        "description": "BadRequestError: the body is larger than the configured limit",
    }
}


def _param(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _listed(values: list[str]) -> dict[str, Any]:
    """A repeatable query parameter (``?status=a&status=b``)."""
    return {"type": "array", "items": {"type": "string", "enum": values}}


_UUID_PARAM = {"type": "string", "format": "uuid"}
_OLDER_THAN = "the id of the last item of the previous page: the page after it"
# The routes read their query strings themselves (``validation.validate_query``, Notify's messages); these only
# document them, so that clients and generated tests see the parameters.
LIST_NOTIFICATIONS_QUERY = {
    "parameters": [
        _param("template_type", _listed(list(TEMPLATE_TYPES)), "only these types (repeatable)"),
        _param("status", _listed(list(STATUSES)), "only these statuses (repeatable)"),
        _param("reference", {"type": "string"}, "only notifications sent with this reference"),
        _param("older_than", _UUID_PARAM, _OLDER_THAN),
        _param("include_jobs", {"type": "string", "enum": ["true", "True"]}, "include notifications of jobs"),
    ]
}
LIST_TEMPLATES_QUERY = {
    "parameters": [
        _param("type", {"type": "string", "enum": list(TEMPLATE_TYPES)}, "only this template type")
    ]
}
LIST_RECEIVED_TEXTS_QUERY = {"parameters": [_param("older_than", _UUID_PARAM, _OLDER_THAN)]}


def _query(schema: str, request: Request) -> dict[str, Any]:
    try:
        return validate_query(schema, request.query_params.multi_items())
    except ValidationFailed as exc:
        raise validation_error(*exc.messages) from exc


async def _internal(ctx: Ctx, path: str, params: Any = None, cache_key: Any = None) -> dict[str, Any] | None:
    try:
        return await ctx.notifications.get_json(path, params, cache_key=cache_key)
    except InternalUnavailable as exc:
        raise unavailable() from exc


def _template_id(template_id: str) -> uuid.UUID:
    try:
        validate("get_template_by_id", {"id": template_id})
    except ValidationFailed as exc:
        raise validation_error(*exc.messages) from exc
    return uuid.UUID(template_id)


async def _template(ctx: Ctx, caller: Auth, template_id: str, version: int | None) -> dict[str, Any]:
    tid = _template_id(template_id)
    try:
        template = await ctx.notifications.template(caller.service_id, tid, version or None)
    except InternalUnavailable as exc:
        raise unavailable() from exc
    if template is None or template.get("hidden"):
        raise not_found()
    return template


@router.get(
    "/v2/notifications",
    response_model=NotificationList,
    responses=ERRORS,
    summary="List notifications",
    openapi_extra=LIST_NOTIFICATIONS_QUERY,
)
async def list_notifications(request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    query = _query("get_notifications", request)
    root = str(request.base_url)
    if "\x00" in query.get("reference", ""):
        # No stored reference holds a NUL (PostgreSQL text cannot), and the database refuses one in a query (the
        # fuzz test found it as a 503): nothing matches.
        return ORJSONResponse({"notifications": [], "links": notifications_links(root, query, [])})
    params: list[tuple[str, str]] = [("key_type", caller.key.key_type), ("limit", str(PAGE_SIZE))]
    params += [("template_type", t) for t in query.get("template_type", [])]
    params += [("status", s) for s in expand_statuses(query.get("status", []))]
    if "reference" in query:
        params.append(("reference", query["reference"]))
    if "older_than" in query:
        params.append(("older_than", str(uuid.UUID(query["older_than"]))))
    if "include_jobs" in query:
        params.append(("include_jobs", "true"))
    result = await _internal(ctx, f"/internal/services/{caller.service_id}/notifications", params)
    records = (result or {}).get("notifications", [])
    return ORJSONResponse(
        {
            "notifications": [notification_body(r, root) for r in records],
            "links": notifications_links(root, query, records),
        }
    )


@router.get(
    "/v2/template/{template_id}",
    response_model=Template,
    responses={**ERRORS, **NOT_FOUND},
    summary="Get the latest version of a template",
)
async def get_template(template_id: str, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    return ORJSONResponse(template_body(await _template(ctx, caller, template_id, None)))


@router.get(
    "/v2/template/{template_id}/version/{version:int}",
    response_model=Template,
    responses={**ERRORS, **NOT_FOUND},
    summary="Get one version of a template (0 = latest)",
)
async def get_template_version(template_id: str, version: int, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    return ORJSONResponse(template_body(await _template(ctx, caller, template_id, version)))


@router.get(
    "/v2/templates",
    response_model=TemplateList,
    responses=ERRORS,
    summary="List templates",
    openapi_extra=LIST_TEMPLATES_QUERY,
)
async def list_templates(request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    query = _query("get_templates", request)
    kind = query.get("type")
    result = await _internal(
        ctx,
        f"/internal/services/{caller.service_id}/templates",
        {"type": kind} if kind else None,
        cache_key=("templates", caller.service_id, kind),
    )
    return ORJSONResponse({"templates": [template_body(t) for t in (result or {}).get("templates", [])]})


@router.post(
    "/v2/template/{template_id}/preview",
    response_model=TemplatePreview,
    responses={**ERRORS, **NOT_FOUND, **TOO_LARGE},
    summary="Preview the latest version of a template with personalisation",
    openapi_extra={
        "requestBody": {
            "required": False,
            "content": {"application/json": {"schema": TemplatePreviewRequest.model_json_schema()}},
        }
    },
)
async def preview_template(template_id: str, request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    raw = await read_limited(request, ctx.settings.max_json_body_bytes)
    try:
        body = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError as exc:
        raise bad_request("Invalid JSON supplied in POST data") from exc
    if body is None:
        body = {}
    instance = {**body, "id": template_id} if isinstance(body, dict) else body
    try:
        validate("post_template_preview", instance)
    except ValidationFailed as exc:
        raise validation_error(*exc.messages) from exc
    template = await _template(ctx, caller, template_id, None)
    return ORJSONResponse(preview_body(template, body.get("personalisation")))


@router.get(
    "/v2/received-text-messages",
    response_model=ReceivedTextMessageList,
    responses=ERRORS,
    summary="List received text messages",
    openapi_extra=LIST_RECEIVED_TEXTS_QUERY,
)
async def list_received_texts(request: Request, ctx: Ctx, caller: Auth) -> ORJSONResponse:
    query = _query("get_received_texts", request)
    params: dict[str, str] = {"limit": str(PAGE_SIZE)}
    if "older_than" in query:
        params["older_than"] = str(uuid.UUID(query["older_than"]))
    result = await _internal(ctx, f"/internal/services/{caller.service_id}/inbound-sms", params)
    records = (result or {}).get("received_text_messages", [])
    root = str(request.base_url)
    return ORJSONResponse(
        {
            "received_text_messages": [received_text_body(r) for r in records],
            "links": received_texts_links(root, records),
        }
    )
