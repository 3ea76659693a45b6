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

A KV miss (no entry at all) is answered here too when the caller gives a way to run the
database read off the loop (`read_entry`: apaygate/asgi.py runs it in the general pool's
threads, as Django's view would run): one SELECT of the entry's columns, then, for a
payable payment, one script that refills the KV entry (a pending payment's, as `kv_get`
does) and buffers the event, and the same 302. Anything else (no such payment, an
unpayable one, a full stream, Redis or the database failing, the pool shedding) is left
to Django's view, which reads and answers as before. Measured in bench/ (docs/decisions.md):
Django's request cycle and its four Redis round trips were about two thirds of a miss's CPU.

What depends only on settings (the host rule's inputs, the proxy header, HSTS, the CSP,
the fixed headers) is computed once and recomputed when a setting changes (Django's
`setting_changed`, which tests' settings overrides send); `Expires` once a second.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from string import Template
from urllib.parse import parse_qs

import redis.asyncio
from csp.utils import build_policy
from django.conf import settings
from django.core.signals import setting_changed
from django.db import DatabaseError, close_old_connections
from django.http.request import split_domain_port, validate_host
from django.utils.http import http_date
from redis.exceptions import NoScriptError

from foundation.request_id import clean_request_id
from payments.kv import (
    KVUnavailable,
    kv_entry_from_database,
    kv_entry_value,
    kv_entry_worth_keeping,
    kv_raw_key,
    kv_run_async,
)
from payments.models import EventType
from payments.shopper.event_buffer import buffer_fields, event_time, stream_key
from payments.shopper.redirects import NOT_PAYABLE, entry_payable

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

# What REDIRECT_SCRIPT returns when the KV holds no entry for the id (a miss, which a
# database read may answer), as opposed to nil (an entry, but nothing to redirect to).
KV_MISS = 0

# KEYS: the KV entry, the event stream. ARGV: the event's time, the stream's bound. Returns
# the provider's URL after buffering the event; KV_MISS (nothing written) when there is no
# entry; nil (nothing written) for an unpayable entry or a full stream (Django's view then
# writes the event to the database). The event type and the statuses that are not payable
# are part of the script's text (fewer arguments to encode per call). The stream fields are
# `buffer_fields`' (kept equal by tests/payments/shopper/test_fast_lane.py). cjson reads
# JSON null as cjson.null (not nil) and numbers as doubles: ids are formatted with %d,
# exact below 2^53.
REDIRECT_SCRIPT = Template("""
local raw = redis.call('GET', KEYS[1])
if not raw then return $miss end
local entry = cjson.decode(raw)
local url = entry.provider_url
if type(url) ~= 'string' or url == '' then return nil end
local not_payable = {$not_payable}
if not_payable[entry.status] then return nil end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[2]) then return nil end
local merchant_id = ''
if type(entry.merchant_id) == 'number' then
    merchant_id = string.format('%d', entry.merchant_id)
end
redis.call('XADD', KEYS[2], '*',
    'type', '$type',
    'payment_id', string.format('%d', entry.pk),
    'merchant_id', merchant_id,
    'status', entry.status,
    'provider', entry.provider,
    'at', ARGV[1])
return url
""").substitute(
    miss=KV_MISS,
    not_payable=", ".join(f"['{status}'] = true" for status in sorted(NOT_PAYABLE)),
    type=EventType.SHOPPER_REDIRECTED,
)

# The KV miss's second round trip. KEYS: the KV entry, the event stream. ARGV: the entry's
# stored form (empty: do not store it), its time to live, the stream's bound, then the
# event's field/value pairs (`buffer_fields`). Stores the entry, then appends the event
# and returns 1, or returns 0 (no event written) when the stream is at its bound.
REFILL_SCRIPT = """
if ARGV[1] ~= '' then redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) end
if redis.call('XLEN', KEYS[2]) >= tonumber(ARGV[3]) then return 0 end
redis.call('XADD', KEYS[2], '*', unpack(ARGV, 4))
return 1
"""

# Redis names a script by the SHA-1 of its text (EVALSHA): an identifier, not security.
_SHAS = {
    text: hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
    for text in (REDIRECT_SCRIPT, REFILL_SCRIPT)
}


async def _evaluate(client: redis.asyncio.Redis, text: str, keys: list, args: list):
    """Run a script by its SHA (loading it once if the server lacks it), as redis-py's
    `AsyncScript` does, without its per-call layers (a Protocol isinstance check, argument
    copies): a few per cent of a KV hit's CPU in the profile (docs/decisions.md)."""
    try:
        return await client.execute_command("EVALSHA", _SHAS[text], len(keys), *keys, *args)
    except NoScriptError:
        await client.script_load(text)
        return await client.execute_command("EVALSHA", _SHAS[text], len(keys), *keys, *args)


@dataclass(frozen=True)
class _Config:
    """What the answer depends on in the settings, read once (see `_config`)."""

    allowed_hosts: tuple[str, ...]
    proxy_header: bytes | None  # SECURE_PROXY_SSL_HEADER's name, as an ASGI header name
    proxy_secure_value: str
    ssl_redirect: bool
    headers: tuple[tuple[bytes, bytes], ...]  # HEADERS and the CSP
    hsts: tuple[tuple[bytes, bytes], ...]  # on secure requests: Strict-Transport-Security
    events_max: int
    ttl: int


@functools.cache
def _config() -> _Config:
    proxy = settings.SECURE_PROXY_SSL_HEADER
    name, secure_value = proxy if proxy else (None, "")
    if name is not None:
        name = name.removeprefix("HTTP_").lower().replace("_", "-").encode("latin-1")
    hsts = _hsts_header()
    return _Config(
        allowed_hosts=tuple(settings.ALLOWED_HOSTS),
        proxy_header=name,
        proxy_secure_value=secure_value,
        ssl_redirect=settings.SECURE_SSL_REDIRECT,
        # The policy django-csp sets on every answer (no nonce: a 302 has no page).
        headers=(*HEADERS, (b"content-security-policy", build_policy().encode())),
        hsts=((b"strict-transport-security", hsts),) if hsts else (),
        events_max=settings.SHOPPER_EVENTS_MAX,
        ttl=settings.PAYMENT_TTL,
    )


def _settings_changed(**_kwargs) -> None:
    _config.cache_clear()


setting_changed.connect(_settings_changed, dispatch_uid="fast_lane_config")


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


# The usual query string, `id=` and a public id (token_urlsafe's alphabet): nothing to decode.
_PLAIN_ID = re.compile(rb"id=([A-Za-z0-9_-]{1,64})")


def _public_id(query_string: bytes) -> str | None:
    if plain := _PLAIN_ID.fullmatch(query_string):
        return plain.group(1).decode("latin-1")
    values = parse_qs(query_string.decode("latin-1")).get("id")
    value = values[0] if values else ""
    if not value or len(value) > 64:
        return None
    return value


@functools.lru_cache(maxsize=64)
def _host_allowed(host: bytes | None, allowed_hosts: tuple[str, ...]) -> bool:
    """Django's ALLOWED_HOSTS rule; a refused host is left to Django (its 400)."""
    if host is None:
        return False
    domain, _port = split_domain_port(host.decode("latin-1"))
    return bool(domain) and validate_host(domain, allowed_hosts)


def _secure(scope: dict, config: _Config, proxy_values: list[bytes]) -> bool:
    """Django's `request.is_secure()` for this scope (HttpRequest.scheme, PEP 3333 environ).

    With SECURE_PROXY_SSL_HEADER set, the proxy's header decides when present (its first
    value, as Django reads a comma-joined header); otherwise the connection's own scheme.
    """
    if proxy_values:
        joined = b",".join(proxy_values).decode("latin-1")
        return joined.split(",", 1)[0].strip() == config.proxy_secure_value
    return scope.get("scheme", "http") == "https"


_expires: list = [None, b""]


def _expires_now() -> bytes:
    """As never_cache sets Expires (now, to the second): formatted once a second."""
    now = int(time.time())
    if now != _expires[0]:
        _expires[:] = [now, http_date(now).encode()]
    return _expires[1]


ReadEntry = Callable[[Callable[[], dict | None]], Awaitable[object]]


async def pay_fast(scope: dict, send, *, read_entry: ReadEntry | None = None) -> bool:
    """Answer a payable KV hit with its 302; return False to leave the request to Django.

    `read_entry(call)`: runs `call` (a blocking database read) off the event loop and
    returns its result (anything else when it was not run); given, a KV miss is answered
    here too.
    """
    public_id = _public_id(scope.get("query_string", b""))
    if public_id is None:
        return False
    config = _config()
    host = request_id = None
    proxy_values: list[bytes] = []
    for name, value in scope.get("headers", ()):  # one pass for the three we read
        if name == b"host":
            host = host or value
        elif name == config.proxy_header:
            proxy_values.append(value)
        elif name == b"x-request-id":
            request_id = request_id or value
    if not _host_allowed(host, config.allowed_hosts):
        return False
    secure = _secure(scope, config, proxy_values)
    if config.ssl_redirect and not secure:
        return False  # SecurityMiddleware's 301 to https, before anything is read or written
    key, stream = kv_raw_key(public_id), stream_key()
    try:
        location = await kv_run_async(
            lambda client: _evaluate(
                client, REDIRECT_SCRIPT, [key, stream], [event_time(), config.events_max]
            )
        )
        if location == KV_MISS and read_entry is not None:
            location = await _from_database(public_id, key, stream, config, read_entry)
    except KVUnavailable:
        # Django's view reads the database and writes the event synchronously instead.
        return False
    if not isinstance(location, bytes):
        return False
    headers = [
        *config.headers,
        (b"expires", _expires_now()),
        (b"location", location),
        # As RequestIdMiddleware: the caller's id when well-formed, else a new one.
        (b"x-request-id", clean_request_id(request_id and request_id.decode("latin-1")).encode()),
    ]
    if secure:
        headers.extend(config.hsts)
    await send({"type": "http.response.start", "status": 302, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
    return True


def _entry_read(public_id: str) -> dict | None:
    """The database read of a KV miss, in a pool thread: Django's connection handling around
    it as a request's (`close_old_connections` at its start and end: a pooled connection is
    given back), and None, like a missing payment, when the database fails (Django's view
    then answers, with its own error handling)."""
    close_old_connections()
    try:
        return kv_entry_from_database(public_id)
    except DatabaseError:
        logger.warning("fast lane: database read failed; leaving the redirect to Django")
        return None
    finally:
        close_old_connections()


async def _from_database(
    public_id: str, key: str, stream: str, config: _Config, read_entry: ReadEntry
) -> bytes | None:
    """A KV miss: the view's rules on the database's entry; its URL once the event is buffered.

    None (Django's view answers) for no such payment, an unpayable one, a full stream, or a
    read that was not run (the pool shed it).
    """
    entry = await read_entry(functools.partial(_entry_read, public_id))
    if not isinstance(entry, dict):
        return None
    if not entry_payable(entry):
        return None  # the closed page, Django's
    value = kv_entry_value(entry) if kv_entry_worth_keeping(entry) else ""
    fields = buffer_fields(entry=entry, type=EventType.SHOPPER_REDIRECTED)
    pairs = [item for pair in fields.items() for item in pair]
    buffered = await kv_run_async(
        lambda client: _evaluate(
            client, REFILL_SCRIPT, [key, stream], [value, config.ttl, config.events_max, *pairs]
        )
    )
    return entry["provider_url"].encode() if buffered else None
