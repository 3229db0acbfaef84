"""JSON shapes of the admin API objects (admin-api.md): users, services, templates, API keys, notifications."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

ALL_USER_PERMISSIONS = (
    "manage_users",
    "manage_templates",
    "manage_settings",
    "send_texts",
    "send_emails",
    "send_letters",
    "manage_api_keys",
    "view_activity",
)
DEFAULT_SERVICE_PERMISSIONS = ("sms", "email", "letter", "international_sms", "international_letters")
SERVICE_PERMISSIONS = frozenset(
    {
        "email",
        "sms",
        "letter",
        "international_sms",
        "inbound_sms",
        "email_auth",
        "edit_folder_permissions",
        "international_letters",
        "sms_to_uk_landlines",
    }
)


def ts(value: datetime | None) -> str | None:
    """Notify's timestamp format: UTC, six fractional digits, literal Z."""
    if value is None:
        return None
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def user_json(user: Any, memberships: list[Any]) -> dict[str, Any]:
    """The user object (admin-api.md §5.1). Never the password or its hash."""
    return {
        "id": str(user.id),
        "name": user.name,
        "email_address": user.email_address,
        "mobile_number": user.mobile_number,
        "auth_type": user.auth_type,
        "state": user.state,
        "platform_admin": user.platform_admin,
        "failed_login_count": user.failed_login_count,
        "created_at": ts(user.created_at),
        "logged_in_at": ts(user.logged_in_at),
        "password_changed_at": user.password_changed_at.strftime("%Y-%m-%d %H:%M:%S.%f"),
        "current_session_id": str(user.current_session_id) if user.current_session_id else None,
        "email_access_validated_at": ts(user.email_access_validated_at),
        "organisations": [],
        "organisation_permissions": {},
        "permissions": {str(m.service_id): list(m.permissions) for m in memberships if m.active},
        "services": [str(m.service_id) for m in memberships if m.active],
        "can_use_webauthn": False,
        "take_part_in_research": user.take_part_in_research,
        "receives_new_features_email": user.receives_new_features_email,
    }


ORGANISATION_TYPES = frozenset(
    {
        "central",
        "local",
        "nhs_central",
        "nhs_local",
        "nhs_gp",
        "nhs_notify",
        "emergency_service",
        "school_or_college",
        "other",
    }
)


def service_json(service: Any) -> dict[str, Any]:
    """The service object: the reference's keys, plus ``created_at``/``updated_at`` that the seed shows."""
    return {
        "id": str(service.id),
        "name": service.name,
        "active": service.active,
        "restricted": service.restricted,
        "created_at": ts(service.created_at),
        "updated_at": ts(service.updated_at),
        "email_message_limit": service.email_message_limit,
        "sms_message_limit": service.sms_message_limit,
        "letter_message_limit": service.letter_message_limit,
        "international_sms_message_limit": service.international_sms_message_limit,
        "rate_limit": service.rate_limit,
        "prefix_sms": service.prefix_sms,
        "email_sender_local_part": service.email_sender_local_part,
        "organisation_type": service.organisation_type,
        "permissions": sorted(service.permissions),
        "count_as_live": service.count_as_live,
        "created_by": str(service.created_by_id),
        "billing_contact_email_addresses": service.billing_contact_email_addresses,
        "billing_contact_names": service.billing_contact_names,
        "billing_reference": service.billing_reference,
        "confirmed_email_sender_name": service.confirmed_email_sender_name,
        "confirmed_unique": False,
        "consent_to_research": None,
        "contact_link": service.contact_link,
        "custom_email_sender_name": None,
        "email_branding": service.email_branding,
        "letter_branding": service.letter_branding,
        "free_sms_fragment_limit": service.free_sms_fragment_limit,
        "go_live_at": ts(service.go_live_at),
        "go_live_user": None,
        "has_active_go_live_request": False,
        "notes": service.notes,
        "organisation": None,
        "purchase_order_number": None,
        "service_callback_api": [],
        "volume_email": service.volume_email,
        "volume_letter": service.volume_letter,
        "volume_sms": service.volume_sms,
    }


def template_json(t: Any, folder: str | None = None) -> dict[str, Any]:
    return {
        "id": str(t.id),
        "name": t.name,
        "template_type": t.template_type,
        "content": t.content,
        "subject": t.subject,
        "postage": t.postage,
        "service": str(t.service_id),
        "created_by": str(t.created_by_id),
        "created_at": ts(t.created_at),
        "updated_at": ts(t.updated_at),
        "version": t.version,
        "archived": t.archived,
        "hidden": t.hidden,
        "folder": folder,
        "reply_to": str(t.reply_to) if getattr(t, "reply_to", None) else None,
        "reply_to_text": t.letter_contact_block,
        "redact_personalisation": bool(getattr(t, "redact_personalisation", False)),
        "is_precompiled_letter": False,
        "has_unsubscribe_link": t.has_unsubscribe_link,
        "letter_languages": "english" if t.template_type == "letter" else None,
        "letter_welsh_subject": None,
        "letter_welsh_content": None,
        "letter_attachment": None,
        "email_files": [],
    }


def api_key_json(k: Any) -> dict[str, Any]:
    return {
        "id": str(k.id),
        "name": k.name,
        "key_type": k.key_type,
        "created_by": str(k.created_by_id),
        "created_at": ts(k.created_at),
        "updated_at": ts(k.updated_at),
        "expiry_date": ts(k.expiry_date),
        "version": k.version,
    }


def notification_admin_json(n: Any) -> dict[str, Any]:
    """The stored notification as the admin API shows it (internal status, not the public one)."""
    return {
        "id": str(n.id),
        "to": n.recipient,
        "normalised_to": n.normalised_recipient,
        "job_row_number": n.job_row_number,
        "job": {"id": str(n.job_id), "original_file_name": None} if n.job_id else None,
        "status": n.status,
        "notification_type": n.notification_type,
        "key_type": n.key_type,
        "api_key": str(n.api_key_id) if n.api_key_id else None,
        "reference": n.provider_reference,
        "client_reference": n.client_reference,
        "billable_units": n.billable_units,
        "created_at": ts(n.created_at),
        "sent_at": ts(n.sent_at),
        "updated_at": ts(n.updated_at),
        "sent_by": n.sent_by,
        "international": n.international,
        "phone_prefix": n.phone_prefix,
        "rate_multiplier": n.rate_multiplier,
        "reply_to_text": n.sender,
        "postage": n.postage,
        "unsubscribe_link": n.one_click_unsubscribe_url,
        "personalisation": n.personalisation,
        "service": str(n.service_id),
        "template": {"id": str(n.template_id), "version": n.template_version},
        "created_by": {"id": str(n.created_by_id)} if n.created_by_id else None,
    }
