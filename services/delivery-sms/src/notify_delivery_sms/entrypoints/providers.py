"""Internal admin routes for the SMS provider priorities (api role; never routed by the ingress, which only
forwards provider receipts under ``/notifications/sms``).

``GET /internal/providers`` shows each provider's priority, whether it is active, its resting point and the share
of texts it currently gets, with the latest history. ``POST /internal/providers/{name}`` with
``{"priority": 0-100}`` (and optionally ``"active"``) sets them by hand; the change is recorded as ``manual`` and
counts as a change for the automatic rules' "not if changed recently" guards.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..domain.priorities import ProviderPriority, weights
from ..handlers.failover import Failover

router = APIRouter(prefix="/internal")


async def _failover(request: Request) -> Failover:
    return request.app.state.context.failover  # type: ignore[no-any-return]


FailoverDep = Annotated[Failover, Depends(_failover)]


class PrioritySetting(BaseModel):
    model_config = ConfigDict(extra="forbid")

    priority: int = Field(ge=0, le=100)
    active: bool | None = None


def _shares(providers: Mapping[str, ProviderPriority], *, international: bool) -> dict[str, float]:
    """Percentage of texts each provider gets now (0 for those that cannot take them); see ``choose``."""
    by_name = weights(providers.values(), international=international)
    total = sum(by_name.values())
    if by_name and not total:  # every candidate at 0: chosen evenly
        by_name, total = dict.fromkeys(by_name, 1), len(by_name)
    return {name: round(100 * by_name.get(name, 0) / total, 1) if total else 0.0 for name in providers}


def _all_shares(providers: Mapping[str, ProviderPriority]) -> dict[str, dict[str, float]]:
    return {
        "uk": _shares(providers, international=False),
        "international": _shares(providers, international=True),
    }


def _provider(p: ProviderPriority, failover: Failover, shares: dict[str, dict[str, float]]) -> dict[str, Any]:
    return {
        "name": p.name,
        "priority": p.priority,
        "active": p.active,
        "resting_priority": failover.resting.get(p.name),
        "supports_international": p.supports_international,
        "updated_at": p.updated_at.isoformat() if p.updated_at else None,
        "share_percent": {kind: by_name.get(p.name, 0.0) for kind, by_name in shares.items()},
    }


@router.get("/providers")
async def get_providers(
    failover: FailoverDep, history: Annotated[int, Query(ge=0, le=1000)] = 50
) -> dict[str, Any]:
    providers, changes = await failover.overview(history_limit=history)
    shares = _all_shares(providers)
    return {
        "providers": [_provider(p, failover, shares) for _, p in sorted(providers.items())],
        "history": [
            {
                "id": row["id"],
                "provider": row["provider"],
                "previous_priority": row["previous_priority"],
                "priority": row["priority"],
                "active": row["active"],
                "reason": row["reason"],
                "detail": row["detail"],
                "created_at": row["created_at"].isoformat(),
            }
            for row in changes
        ],
    }


@router.post("/providers/{name}")
async def set_provider(name: str, setting: PrioritySetting, failover: FailoverDep) -> JSONResponse:
    updated = await failover.set_by_hand(name, priority=setting.priority, active=setting.active)
    if updated is None:
        return JSONResponse({"result": "error", "message": "Unknown provider"}, status_code=404)
    shares = _all_shares(failover.pool.priorities)
    return JSONResponse({"provider": _provider(updated, failover, shares)})
