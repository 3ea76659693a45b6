"""The one outbound HTTP path: every request the gateway makes goes through here.

Two kinds of destination:
- provider APIs (our own configuration): timeouts always, redirects never followed;
- merchant URLs (anyone's input): the same, plus the host is resolved once, refused if it
  lands on a private, loopback, link-local, CGNAT, multicast, reserved, metadata, NAT64 or
  6to4 address (IPv4-mapped forms included), and the connection goes to the very address
  that was checked, so DNS rebinding gets nothing. That part is `requests-hardened`
  (maintained by Saleor), configured here.

`POSTBACK_ALLOW_PRIVATE` lifts the address rule for local development and tests only.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
from http.cookiejar import DefaultCookiePolicy

import requests
from django.conf import settings
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress

from foundation.addresses import address_is_refused, install_delivery_filter, url_host_is_refused

__all__ = [
    "InvalidIPAddress",
    "address_is_refused",
    "merchant_client",
    "merchant_session",
    "merchant_timeout",
    "provider_client",
    "provider_session",
    "provider_timeout",
    "provider_timeout_capped",
    "url_host_is_refused",
]

USER_AGENT = "APayGate/1.0 (+postbacks)"

install_delivery_filter()


def _timeout() -> tuple[float, float]:
    return (settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT)


_timeout_cap: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "provider_timeout_cap", default=None
)


@contextlib.contextmanager
def provider_timeout_capped(seconds: float):
    """Shorten provider calls made inside the block (a circuit breaker's probe)."""
    token = _timeout_cap.set(seconds)
    try:
        yield
    finally:
        _timeout_cap.reset(token)


def provider_timeout() -> tuple[float, float]:
    """(connect, read) seconds for one provider call, read from settings at call time."""
    connect, read = _timeout()
    cap = _timeout_cap.get()
    return (connect, read) if cap is None else (min(connect, cap), min(read, cap))


def merchant_timeout(seconds: float | None = None) -> tuple[float, float]:
    """(connect, read) seconds for one merchant postback."""
    seconds = seconds if seconds is not None else settings.POSTBACK_TIMEOUT
    return (min(seconds, settings.PROVIDER_CONNECT_TIMEOUT), seconds)


# Keep-alive pools: one per destination, this many connections each. Sized for the web
# process's provider cap and the worker's thread pool, so no connection is thrown away.
POOL_MAXSIZE = 64


def _shared(session: requests.Session) -> requests.Session:
    """Make a session fit for sharing between threads: bigger pools, no cookie jar."""
    # A merchant's Set-Cookie must never ride along to anyone (or even to itself).
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    for adapter in session.adapters.values():
        adapter.init_poolmanager(POOL_MAXSIZE, POOL_MAXSIZE)
    return session


@functools.cache
def provider_client() -> requests.Session:
    """The process's shared provider session: keep-alive connections, no redirects.

    Pass `timeout=provider_timeout()` with every call (settings may change at run time).
    """
    return _shared(provider_session())


@functools.cache
def merchant_client(*, allow_private: bool) -> requests.Session:
    """The process's shared merchant session for one address rule (see `merchant_session`).

    Its pools are keyed by the address that was checked and connected to (the filter pins
    the resolved IP as the pool's host), so keep-alive never skips the check: every new
    name is resolved and judged before a connection is made or reused.
    Pass `timeout=merchant_timeout()` with every call.
    """
    config = Config(
        ip_filter_enable=not allow_private,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=merchant_timeout(),
        user_agent_override=USER_AGENT,
    )
    session = _shared(HTTPSession(config))
    # Nothing from the environment: no proxy (it would connect on our behalf, past the
    # address check), no ~/.netrc credentials for a merchant's host, and no look for
    # that file on every postback.
    session.trust_env = False
    return session


def provider_session() -> requests.Session:
    """A session for provider APIs: default timeouts and no redirects."""
    config = Config(
        ip_filter_enable=False,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=_timeout(),
        user_agent_override=USER_AGENT,
    )
    return HTTPSession(config)


def merchant_session(*, timeout: float | None = None) -> requests.Session:
    """A session for merchant URLs: address filter (unless allowed), timeout, no redirects."""
    seconds = timeout if timeout is not None else settings.POSTBACK_TIMEOUT
    config = Config(
        ip_filter_enable=not settings.POSTBACK_ALLOW_PRIVATE,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=(min(seconds, settings.PROVIDER_CONNECT_TIMEOUT), seconds),
        user_agent_override=USER_AGENT,
    )
    return HTTPSession(config)
