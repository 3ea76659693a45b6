"""Signed Metabase embeds with the merchant and the mode locked into the token.

Metabase's static embedding trusts only what is inside the HS256-signed token: a
parameter set there is "locked" and cannot be changed from the page, and the URL stops
working at `exp`. The merchant id always comes from the server-side session, never from
the request, so a merchant can see nothing but their own data whatever they edit; the
mode (live or test) is the one the portal shows, so the numbers never mix the two.
"""

from __future__ import annotations

import datetime as dt

import jwt
from django.utils import timezone

from payments.models import Merchant
from reporting.metabase.config import metabase_config

EMBED_TTL = dt.timedelta(minutes=10)
LOCKED_PARAMETER = "merchant_id"
MODE_PARAMETER = "mode"
MODES = ("live", "test")


def metabase_is_configured() -> bool:
    """Embed only when the site, the shared secret and a dashboard are all known."""
    cfg = metabase_config()
    return bool(cfg.site_url and cfg.secret_key and cfg.dashboard_id)


def metabase_embed_token(
    *,
    merchant: Merchant,
    mode: str,
    dashboard_id: int,
    secret: str,
    now: dt.datetime | None = None,
) -> str:
    """Sign a token for one dashboard with `merchant_id` and `mode` locked."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    issued = now or timezone.now()
    payload = {
        "resource": {"dashboard": int(dashboard_id)},
        "params": {LOCKED_PARAMETER: merchant.pk, MODE_PARAMETER: mode},
        "exp": int((issued + EMBED_TTL).timestamp()),
    }
    return jwt.encode(payload, secret, algorithm="HS256")


def metabase_embed_url(
    *, merchant: Merchant, mode: str, now: dt.datetime | None = None
) -> str | None:
    """Return the iframe URL for the merchant's dashboard in `mode`, or None when not configured."""
    if not metabase_is_configured():
        return None
    cfg = metabase_config()
    token = metabase_embed_token(
        merchant=merchant, mode=mode, dashboard_id=cfg.dashboard_id, secret=cfg.secret_key, now=now
    )
    return f"{cfg.site_url}/embed/dashboard/{token}#bordered=true&titled=true"
