"""API tokens found by their digest, remembered by this process for a few seconds.

Every merchant API call authenticates; the token's row and its merchant's (one SELECT,
payments/api/authentication.py) were about a tenth of init-payment's CPU. A merchant's
calls come in bursts from the same key, so the process keeps what it found for
`API_TOKEN_CACHE_SECONDS` (0 turns it off).

The bound this puts on a change: a token revoked or a merchant disabled or edited
(provider, routing, return hosts) is seen by every web process within
API_TOKEN_CACHE_SECONDS, and at once by the process that saved the change (any `save()` of a
token or a merchant here forgets everything remembered: `forget_on_save`, connected in
payments/apps.py). Only tokens that exist are
remembered (an unknown key is looked up every time, so guessing fills nothing), at most
`MAX_ENTRIES`. Each caller gets its own copies of the token and merchant instances.
"""

from __future__ import annotations

import copy
import threading
import time

from django.conf import settings

from payments.models import ApiToken

MAX_ENTRIES = 1024

_lock = threading.Lock()
_entries: dict[str, tuple[float, ApiToken]] = {}


def _copied(token: ApiToken) -> ApiToken:
    """A copy of the token and of its merchant: callers may change their instances."""
    twin = copy.copy(token)
    twin.merchant = copy.copy(token.merchant)
    return twin


def api_token_remembered(digest: str) -> ApiToken | None:
    """The token (with its merchant) found for `digest` less than the bound ago, or None."""
    with _lock:
        entry = _entries.get(digest)
    if entry is None or entry[0] <= time.monotonic():
        return None
    return _copied(entry[1])


def api_token_remember(digest: str, token: ApiToken) -> None:
    seconds = settings.API_TOKEN_CACHE_SECONDS
    if seconds <= 0:
        return
    now = time.monotonic()
    with _lock:
        if len(_entries) >= MAX_ENTRIES:
            for key in [k for k, (until, _t) in _entries.items() if until <= now]:
                del _entries[key]
            if len(_entries) >= MAX_ENTRIES:
                _entries.clear()
        _entries[digest] = (now + seconds, _copied(token))


def api_tokens_forget() -> None:
    """Forget every remembered token (a token or merchant changed in this process)."""
    with _lock:
        _entries.clear()


def forget_on_save(sender, **kwargs) -> None:
    """`post_save` receiver for ApiToken and Merchant (revoked, disabled, edited)."""
    api_tokens_forget()
