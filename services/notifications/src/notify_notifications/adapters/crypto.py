"""Reversible encryption at rest for secrets the platform must read back (API key secrets, callback tokens)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.fernet import Fernet, MultiFernet


class SecretBox:
    """Fernet with keys derived from the configured secret(s); the first encrypts, all decrypt (rotation)."""

    def __init__(self, secrets: list[str]) -> None:
        if not secrets:
            raise ValueError("at least one encryption secret is required")
        self._fernet = MultiFernet(
            [Fernet(base64.urlsafe_b64encode(hashlib.sha256(s.encode()).digest())) for s in secrets]
        )

    def encrypt(self, plaintext: str) -> bytes:
        return self._fernet.encrypt(plaintext.encode())

    def decrypt(self, token: bytes) -> str:
        return self._fernet.decrypt(bytes(token)).decode()
