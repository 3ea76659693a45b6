"""Turn a provider HTTP exchange into an `Invoice` or a `ProviderError`, the same way for all."""

from __future__ import annotations

import logging

import requests

from foundation.http import provider_timeout
from providers.base import ProviderError

logger = logging.getLogger(__name__)


def post_invoice(
    session: requests.Session, url: str, *, body: dict, headers: dict, name: str
) -> dict:
    """POST `body` as JSON and return the decoded answer; map every failure to ProviderError.

    The session is the process's shared one (keep-alive), so the timeout goes with the call.
    """
    try:
        response = session.post(url, json=body, headers=headers, timeout=provider_timeout())
    except requests.Timeout as exc:
        logger.warning("%s timed out: %s", name, type(exc).__name__)
        raise ProviderError(f"{name} did not answer in time", kind="timeout") from exc
    except requests.RequestException as exc:
        logger.warning("%s unreachable: %s", name, type(exc).__name__)
        raise ProviderError(f"{name} could not be reached", kind="unavailable") from exc
    if response.status_code == 503:
        raise ProviderError(f"{name} is unavailable (HTTP 503)", kind="unavailable")
    if not 200 <= response.status_code < 300:
        logger.warning("%s refused the invoice: HTTP %s", name, response.status_code)
        raise ProviderError(
            f"{name} refused the invoice (HTTP {response.status_code})",
            kind="refused",
            permanent=400 <= response.status_code < 500,
        )
    try:
        data = response.json()
    except ValueError as exc:
        raise ProviderError(f"{name} answered with something that is not JSON") from exc
    if not isinstance(data, dict) or not isinstance(data.get("url"), str) or not data["url"]:
        raise ProviderError(f"{name} answered without a payment URL")
    if not data["url"].startswith(("https://", "http://")):
        raise ProviderError(f"{name} answered with a payment URL that is not http(s)")
    return data
