"""The demo shop as `make run` creates it, for browser tests that walk the demo journey."""

from __future__ import annotations

from payments.merchants import api_token_issue, merchant_create
from payments.models import Merchant, TokenMode


def demo_shop_create(live_server, settings) -> Merchant:
    """The demo merchant and its test key, with the demo shop served by the live server."""
    merchant = merchant_create(
        slug=settings.DEMO_MERCHANT_SLUG, name="Demo Shop", provider="sandbox"
    )
    _token, key = api_token_issue(merchant=merchant, mode=TokenMode.TEST, label="demo")
    settings.DEMO_API_TOKEN = key
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SANDBOX_ENABLED = True
    settings.DEBUG = True  # http:// URLs for the live server's return and postback URLs
    return merchant
