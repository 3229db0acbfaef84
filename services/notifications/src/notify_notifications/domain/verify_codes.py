"""Sign-in codes (admin-api.md §5.2): how they look, how they are kept, how long they last."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

VALID_FOR = timedelta(minutes=30)
MAX_ACTIVE_CODES = 5  # unexpired unused codes per user; further requests are quietly ignored
MAX_FAILED_LOGINS = 10  # from here on every code is "not found"
SMS_CODE_LENGTH = 5


def new_sms_code() -> str:
    """Five random digits, none the same as the one before it (easier to read out and type)."""
    digits = [secrets.choice("0123456789")]
    while len(digits) < SMS_CODE_LENGTH:
        digit = secrets.choice("0123456789")
        if digit != digits[-1]:
            digits.append(digit)
    return "".join(digits)


def code_hash(key: str, code: str) -> str:
    """What is stored instead of the code: an HMAC keyed with the platform's secret, so a copy of the table alone
    does not let anyone try the 100,000 possible SMS codes."""
    return hmac.new(key.encode(), code.strip().encode(), hashlib.sha256).hexdigest()
