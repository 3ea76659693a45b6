"""API keys and postback secrets: generation and hashing, nothing else.

Keys are `apg_live_<43 chars>` / `apg_test_<43 chars>`: 256 random bits, URL-safe. Only
the SHA-256 digest is stored. A plain (unsalted) hash is right here: the key is random
and long, so there is nothing to brute-force, and it lets us find the row by its digest
with one indexed query instead of trying every row.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

TOKEN_PREFIXES = {"live": "apg_live_", "test": "apg_test_"}
DISPLAY_PREFIX_LENGTH = 14  # "apg_test_" plus five characters: enough to tell keys apart


def token_digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_generate(*, mode: str) -> str:
    """Return a new plaintext key for `mode` (`live` or `test`)."""
    return TOKEN_PREFIXES[mode] + secrets.token_urlsafe(32)


def display_prefix(key: str) -> str:
    return key[:DISPLAY_PREFIX_LENGTH]


def postback_secret_generate() -> str:
    """Return a Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def payment_id_generate() -> str:
    """Return an unguessable public payment id: `pay_` and 192 random bits, URL-safe."""
    return "pay_" + secrets.token_urlsafe(24)
