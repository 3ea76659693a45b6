"""The redirect's fast lane: `GET /integration/pay` answered from the KV on the event loop.

Under ASGI this runs before Django (apaygate/asgi.py). On a KV hit for a payable payment it
makes one Redis round trip: a small Lua script (`REDIRECT_SCRIPT`) reads the entry and, when
the payment is payable, appends the `shopper.redirected` event to the buffer (XADD) and
returns the provider's URL; the event is therefore acknowledged before the 302, which
carries the headers Django's middleware and `never_cache` would have added, HSTS included
on a secure request. Anything else (a miss, a closed payment, a full event stream, Redis
away or slow, a malformed id, plain http while SECURE_SSL_REDIRECT is on:
SecurityMiddleware's 301) returns False and Django handles it as before, the view with its
database fallback. The Redis call goes through the KV's breaker (`kv_run_async`): after a
failure the lane steps aside at once for `KV_BREAKER_RESET` seconds instead of each
redirect waiting out a timeout. Measured in bench/: the full Django stack costs several
times the KV read itself, and this is the one route shoppers hit in bulk; within the fast
lane, most of the time is the Redis client's per-command cost, so a GET then an XADD (two
round trips) ran at half the raw one-GET app's rate.
"""

from __future__ import annotations

import functools
import logging
import time
from urllib.parse import parse_qs

import redis.asyncio
from csp.utils import build_policy
from django.conf import settings
from django.http.request import split_domain_port, validate_host
from django.utils.http import http_date
from redis.commands.core import AsyncScript

from foundation.request_id import clean_request_id
from payments.kv import KVUnavailable, kv_raw_key, kv_run_async
from payments.models import EventType
from payments.shopper.event_buffer import event_time, stream_key
from payments.shopper.redirects import NOT_PAYABLE

logger = logging.getLogger(__name__)

PATH = "/integration/pay"

# What SecurityMiddleware, XFrameOptionsMiddleware and never_cache add to the Django view's
# 302 with the project's settings; kept equal by tests/payments/shopper/test_fast_lane.py.
HEADERS = [
    (b"content-type", b"text/html; charset=utf-8"),
    (b"content-length", b"0"),
    (b"cache-control", b"max-age=0, no-cache, no-store, must-revalidate, private"),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"cross-origin-opener-policy", b"same-origin"),
]


# KEYS: the KV entry, the event stream. ARGV: the event type, its time, the stream's bound,
# then the statuses that are not payable. Returns the provider's URL after buffering the
# event, or nil (nothing written) on a miss, an unpayable entry or a full stream (Django's
# view then writes the event to the database). The stream fields are `buffer_fields`' (kept
# equal by tests/payments/shopper/test_fast_lane.py). cjson reads JSON null as cjson.null
# (not nil) and numbers as doubles: ids are formatted with %d, exact below 2^53.
REDIRECT_SCRIPT = """
local raw = redis.call('GET', KEYS[1])
if not raw then return nil end
local entry = cjson.decode(raw)
local url = entry.provider_url
if type(url) ~= 'string' or url == '' then return nil end
for i = 4, #ARGV do
    if entry.status == ARGV[i] then return nil end
end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[3]) then return nil end
local merchant_id = ''
if type(entry.merchant_id) == 'number' then merchant_id = string.format('%d', entry.merchant_id) end
redis.call('XADD', KEYS[2], '*',
    'type', ARGV[1],
    'payment_id', string.format('%d', entry.pk),
    'merchant_id', merchant_id,
    'status', entry.status,
    'provider', entry.provider,
    'at', ARGV[2])
return url
"""
NOT_PAYABLE_ARGS = tuple(sorted(NOT_PAYABLE))

_script: AsyncScript | None = None


def _redirect_script(client: redis.asyncio.Redis) -> AsyncScript:
    """The script object, registered once (it keeps the SHA; each loop's client runs it)."""
    global _script
    if _script is None:
        _script = client.register_script(REDIRECT_SCRIPT)
    return _script


def _public_id(scope: dict) -> str | None:
    values = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("id")
    if not values or not values[0] or len(values[0]) > 64:
        return None
    return values[0]


def _header(scope: dict, wanted: bytes) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return value.decode("latin-1")
    return None


@functools.cache
def _csp_header() -> bytes:
    """The policy django-csp sets on every answer (no nonce: a 302 has no page)."""
    return build_policy().encode()


def _secure(scope: dict) -> bool:
    """Django's `request.is_secure()` for this scope (HttpRequest.scheme, PEP 3333 environ).

    With SECURE_PROXY_SSL_HEADER set, the proxy's header decides when present (its first
    value, as Django reads a comma-joined header); otherwise the connection's own scheme.
    """
    proxy_header = settings.SECURE_PROXY_SSL_HEADER
    if proxy_header:
        header, secure_value = proxy_header
        wanted = header.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
        values = [
            value.decode("latin-1") for name, value in scope.get("headers", ()) if name == wanted
        ]
        if values:
            return ",".join(values).split(",", 1)[0].strip() == secure_value
    return scope.get("scheme", "http") == "https"


def _hsts_header() -> bytes | None:
    """SecurityMiddleware's Strict-Transport-Security value (sent on secure requests only)."""
    if not settings.SECURE_HSTS_SECONDS:
        return None
    value = f"max-age={settings.SECURE_HSTS_SECONDS}"
    if settings.SECURE_HSTS_INCLUDE_SUBDOMAINS:
        value += "; includeSubDomains"
    if settings.SECURE_HSTS_PRELOAD:
        value += "; preload"
    return value.encode()


def _host_allowed(scope: dict) -> bool:
    """Django's ALLOWED_HOSTS rule; a refused host is left to Django (its 400)."""
    for name, value in scope.get("headers", ()):
        if name == b"host":
            domain, _port = split_domain_port(value.decode("latin-1"))
            return bool(domain) and validate_host(domain, settings.ALLOWED_HOSTS)
    return False


async def pay_fast(scope: dict, send) -> bool:
    """Answer a payable KV hit with its 302; return False to leave the request to Django."""
    public_id = _public_id(scope)
    if public_id is None or not _host_allowed(scope):
        return False
    secure = _secure(scope)
    if settings.SECURE_SSL_REDIRECT and not secure:
        return False  # SecurityMiddleware's 301 to https, before anything is read or written
    args = [EventType.SHOPPER_REDIRECTED, event_time(), settings.SHOPPER_EVENTS_MAX]
    try:
        location = await kv_run_async(
            lambda client: _redirect_script(client)(
                keys=[kv_raw_key(public_id), stream_key()],
                args=[*args, *NOT_PAYABLE_ARGS],
                client=client,
            )
        )
    except KVUnavailable:
        # Django's view reads the database and writes the event synchronously instead.
        return False
    if location is None:
        return False
    headers = [
        *HEADERS,
        (b"expires", http_date(time.time()).encode()),  # as never_cache sets it: now
        (b"location", location),
        (b"content-security-policy", _csp_header()),
        # As RequestIdMiddleware: the caller's id when well-formed, else a new one.
        (b"x-request-id", clean_request_id(_header(scope, b"x-request-id")).encode()),
    ]
    hsts = _hsts_header() if secure else None
    if hsts:
        headers.append((b"strict-transport-security", hsts))
    await send({"type": "http.response.start", "status": 302, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
    return True
