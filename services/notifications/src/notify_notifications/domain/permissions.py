"""User permissions on a service (admin-api.md §5.3): the stored (DB) names, and the admin UI's roles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from .formatting import ALL_USER_PERMISSIONS

UI_ROLES: dict[str, tuple[str, ...]] = {
    "send_messages": ("send_texts", "send_emails", "send_letters"),
    "manage_templates": ("manage_templates",),
    "manage_service": ("manage_users", "manage_settings"),
    "manage_api_keys": ("manage_api_keys",),
    "view_activity": ("view_activity",),
}


class PermissionError_(ValueError):  # noqa: N801 (the builtin PermissionError means something else)
    pass


def db_permissions(items: Iterable[Mapping[str, str] | str]) -> list[str]:
    """``[{"permission": name}…]`` or ``[name…]``, each a DB name or a UI role → DB names, in order, no repeats."""
    result: dict[str, None] = {}
    for item in items:
        name = item.get("permission") if isinstance(item, Mapping) else item
        if name in ALL_USER_PERMISSIONS:
            result[name] = None
        elif name in UI_ROLES:
            result.update(dict.fromkeys(UI_ROLES[name]))
        else:
            raise PermissionError_(f"Invalid permission: '{name}'")
    return list(result)
