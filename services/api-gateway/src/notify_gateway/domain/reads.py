"""Pure rules of the public v2 reads: status filter expansion, pagination links, template and preview bodies
(public-api.md §6.2, §6.4-§6.7, §7.3, §11)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from notify_content import ContentError, EmailTemplate, LetterTemplate, MissingPersonalisation, SmsTemplate
from notify_contracts.events import STATUS_FILTER_EXPANSIONS

from ..validation import STATUSES
from .errors import bad_request

PAGE_SIZE = 250

EXPANSIONS = STATUS_FILTER_EXPANSIONS
# The internal statuses without the legacy "failed": asking for all of them means no filter at all.
# Every internal status but the legacy "failed"; the public "accepted"/"received" aliases are not statuses.
NON_LEGACY_STATUSES = frozenset(STATUSES) - {"failed", "accepted", "received"}

# Characters Werkzeug's url_for leaves unescaped in query values (so links match Notify's byte for byte).
_QUERY_SAFE = "!$'()*,/:;?@"


def expand_statuses(requested: Iterable[str]) -> list[str]:
    """Internal statuses for a ``status=`` filter (§7.3), in first-seen order; [] means "no filter"."""
    out: dict[str, None] = {}
    for status in requested:
        for internal in EXPANSIONS.get(status, (status,)):
            out[internal] = None
    if NON_LEGACY_STATUSES <= out.keys():
        return []
    return list(out)


def _query_items(query: Mapping[str, str | Sequence[str]]) -> list[tuple[str, str]]:
    items: list[tuple[str, str]] = []
    for name, value in query.items():
        if isinstance(value, str):
            items.append((name, value))
        else:
            items.extend((name, v) for v in value)
    return items


def _url(root: str, path: str, query: Mapping[str, str | Sequence[str]]) -> str:
    items = _query_items(query)
    if not items:
        return f"{root}{path}"
    return f"{root}{path}?{urlencode(items, safe=_QUERY_SAFE)}"


def page_links(
    root: str, path: str, query: Mapping[str, str | Sequence[str]], last_id: str | None
) -> dict[str, str]:
    """``current`` repeats the validated query; ``next`` (only when the page has items) is the same query with
    ``older_than`` set to the last item's id: replaced in place if present, else appended last."""
    links = {"current": _url(root, path, query)}
    if last_id is not None:
        links["next"] = _url(root, path, {**query, "older_than": last_id})
    return links


def notifications_links(
    root: str, query: Mapping[str, str | Sequence[str]], page: Sequence[Mapping[str, Any]]
) -> dict[str, str]:
    return page_links(root, "v2/notifications", query, page[-1]["id"] if page else None)


def received_texts_links(root: str, page: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """``current`` never repeats ``older_than`` (§6.7)."""
    return page_links(root, "v2/received-text-messages", {}, page[-1]["id"] if page else None)


def received_text_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """The six keys of one received text message."""
    return {
        "id": record["id"],
        "user_number": record["user_number"],
        "notify_number": record["notify_number"],
        "created_at": record["created_at"],
        "service_id": record["service_id"],
        "content": record["content"],
    }


def _template_object(t: Mapping[str, Any]) -> SmsTemplate | EmailTemplate | LetterTemplate:
    kind = t["template_type"]
    if kind == "sms":
        return SmsTemplate(t["content"])
    if kind == "email":
        return EmailTemplate(t.get("subject") or "", t["content"])
    return LetterTemplate(t.get("subject") or "", t["content"], contact_block=t.get("letter_contact_block"))


def template_body(t: Mapping[str, Any]) -> dict[str, Any]:
    """The §6.4 object for one template version."""
    kind = t["template_type"]
    letter = kind == "letter"
    return {
        "id": t["id"],
        "type": kind,
        "created_at": t["created_at"],
        "updated_at": t.get("updated_at"),
        "created_by": t.get("created_by"),
        "version": t["version"],
        "body": t["content"],
        "subject": t.get("subject") if kind in ("email", "letter") else None,
        "name": t["name"],
        "personalisation": {name: {"required": True} for name in _template_object(t).placeholders},
        "postage": t.get("postage") if letter else None,
        "letter_contact_block": t.get("letter_contact_block") if letter else None,
    }


def preview_body(t: Mapping[str, Any], personalisation: Mapping[str, Any] | None) -> dict[str, Any]:
    """The §6.6 preview of the latest version. Raises ``V2Error`` (400) for missing personalisation."""
    kind = t["template_type"]
    template = _template_object(t)
    html: str | None = None
    subject: str | None = None
    try:
        if isinstance(template, SmsTemplate):
            body = template.render(personalisation, check_length=False).body
        elif isinstance(template, EmailTemplate):
            email = template.render(personalisation, check_length=False)
            body, subject, html = email.body, email.subject, email.html_body
        else:
            letter = template.render(personalisation)
            body, subject = letter.body, letter.subject
    except MissingPersonalisation as exc:
        raise bad_request(exc.message) from exc
    except ContentError as exc:
        raise bad_request(exc.message) from exc
    return {
        "id": t["id"],
        "type": kind,
        "version": t["version"],
        "body": body,
        "html": html,
        "subject": subject,
        "postage": t.get("postage") if kind == "letter" else None,
    }
