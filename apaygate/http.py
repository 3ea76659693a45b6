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

import requests
from django.conf import settings
from requests_hardened import Config, HTTPSession
from requests_hardened.ip_filter import InvalidIPAddress

from apaygate.addresses import address_is_refused, install_delivery_filter, url_host_is_refused

__all__ = [
    "InvalidIPAddress",
    "address_is_refused",
    "merchant_session",
    "provider_session",
    "url_host_is_refused",
]

USER_AGENT = "APayGate/1.0 (+postbacks)"

install_delivery_filter()


def _timeout() -> tuple[float, float]:
    return (settings.PROVIDER_CONNECT_TIMEOUT, settings.PROVIDER_READ_TIMEOUT)


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
