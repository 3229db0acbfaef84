"""Per-document encryption for "send a file by email" (public-api.md §8).

Each document gets a fresh random 256-bit key. The content is encrypted with AES-256-GCM (the document id is the
associated data, so a ciphertext cannot be moved to another row), and the key is handed back to the caller to put
into the download link; it is never stored, so the database alone cannot decrypt a document. The recipient's
address is kept only as an HMAC-SHA256 keyed with the same key, so it cannot be guessed from the database either.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
NONCE_BYTES = 12


class BadDocumentKey(Exception):
    """The key is malformed or does not decrypt this document."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def encode_key(key: bytes) -> str:
    return base64.urlsafe_b64encode(key).rstrip(b"=").decode()


def decode_key(text: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise BadDocumentKey from exc
    if len(key) != KEY_BYTES:
        raise BadDocumentKey
    return key


def encrypt(key: bytes, document_id: uuid.UUID, content: bytes) -> bytes:
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(key).encrypt(nonce, content, document_id.bytes)


def decrypt(key: bytes, document_id: uuid.UUID, token: bytes) -> bytes:
    token = bytes(token)
    try:
        return AESGCM(key).decrypt(token[:NONCE_BYTES], token[NONCE_BYTES:], document_id.bytes)
    except (InvalidTag, ValueError) as exc:
        raise BadDocumentKey from exc


def recipient_hash(key: bytes, email_address: str) -> str:
    return hmac.new(key, email_address.strip().lower().encode(), hashlib.sha256).hexdigest()


def recipient_matches(key: bytes, stored_hash: str | None, email_address: str) -> bool:
    if not stored_hash:
        return False
    return hmac.compare_digest(recipient_hash(key, email_address), stored_hash)
