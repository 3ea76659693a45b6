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
import os
from http.cookiejar import DefaultCookiePolicy
from urllib.parse import urlsplit

import requests
from django.conf import settings
from requests.utils import get_environ_proxies
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress

from foundation.addresses import address_is_refused, install_delivery_filter, url_host_is_refused

__all__ = [
    "InvalidIPAddress",
    "ProviderHTTPSession",
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


# Destinations whose proxy settings one provider session remembers (the configured
# provider APIs are a handful; past this the oldest are looked up again).
ENVIRONMENT_CACHE_SIZE = 64
CA_BUNDLE_VARIABLES = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


class ProviderHTTPSession(HTTPSession):
    """A provider session that reads the environment once per destination, not per call.

    requests (`trust_env`) looks up the proxy variables (HTTPS_PROXY, HTTP_PROXY, ALL_PROXY,
    NO_PROXY), the CA bundle variables and ~/.netrc on every call: measured in one process,
    about 140 us of a 460 us provider call, a few per cent of init-payment's CPU. Here the
    proxies for a destination (scheme, host and port) are found by requests' own
    `get_environ_proxies` on its first call and kept, and the CA bundle variables read once,
    so the behaviour is requests' own, except that a change to the environment takes a
    restart (as for every other setting). No ~/.netrc credentials: providers authenticate
    with their configured tokens, and a netrc entry would replace their Authorization header.
    """

    def __init__(self, config: Config):
        super().__init__(config)
        self.trust_env = False  # requests' per-call look-ups; done once below instead
        self._ca_bundle = next(
            (os.environ[name] for name in CA_BUNDLE_VARIABLES if os.environ.get(name)), None
        )
        self._proxies_for = functools.lru_cache(maxsize=ENVIRONMENT_CACHE_SIZE)(_environ_proxies)

    def merge_environment_settings(self, url, proxies, stream, verify, cert):
        proxies = dict(proxies or {})
        if "no_proxy" in proxies:  # a per-call no_proxy: requests' own look-up, uncached
            found = get_environ_proxies(url, no_proxy=proxies["no_proxy"])
        else:
            parts = urlsplit(url)
            found = self._proxies_for(parts.scheme, parts.netloc)
        for scheme, proxy in found.items():
            proxies.setdefault(scheme, proxy)
        if verify is True or verify is None:
            verify = self._ca_bundle or verify
        return super().merge_environment_settings(url, proxies, stream, verify, cert)


def _environ_proxies(scheme: str, netloc: str) -> dict[str, str]:
    """requests' proxies from the environment for one destination (NO_PROXY applied)."""
    return get_environ_proxies(f"{scheme}://{netloc}/")


def provider_session() -> requests.Session:
    """A session for provider APIs: default timeouts, no redirects, the proxy environment
    read once per destination (`ProviderHTTPSession`)."""
    config = Config(
        ip_filter_enable=False,
        ip_filter_allow_loopback_ips=False,
        never_redirect=True,
        default_timeout=_timeout(),
        user_agent_override=USER_AGENT,
    )
    return ProviderHTTPSession(config)


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
