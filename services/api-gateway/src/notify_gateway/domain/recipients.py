"""Who a service may send to with a given key: team members and guest list for team keys and trial mode."""

from __future__ import annotations

from typing import Any

from notify_content.recipients.team import team_and_guest_list

TEAM_KEY_MESSAGE = "Can’t send to this recipient using a team-only API key"
TRIAL_MESSAGE = "Can’t send to this recipient when service is in trial mode – see https://www.notifications.service.gov.uk/trial-mode"


def allowed_recipients(service: dict[str, Any], kind: str) -> frozenset[str]:
    """Normalised numbers or addresses of the team and guest list, memoised on the cached service record."""
    cache_key = f"_allowed_{kind}"
    if cache_key not in service:
        service[cache_key] = team_and_guest_list(service, kind)
    return service[cache_key]  # type: ignore[no-any-return]


def restriction_message(service: dict[str, Any], key_type: str, kind: str, normalised: str) -> str | None:
    """The refusal message if this key may not send to this recipient, else None."""
    if key_type == "test":
        return None
    if key_type == "team" or service["restricted"]:
        if normalised not in allowed_recipients(service, kind):
            return TEAM_KEY_MESSAGE if key_type == "team" else TRIAL_MESSAGE
    return None
