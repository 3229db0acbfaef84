"""The admin error envelope, from the platform (jobs answers admin routes with the same one)."""

from notify_platform.admin_errors import AdminError, install, missing, not_found, parse_uuid

__all__ = ["AdminError", "install", "missing", "not_found", "parse_uuid"]
