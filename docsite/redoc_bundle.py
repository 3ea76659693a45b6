"""ReDoc's bundle, served without its one call to a CDN.

The sidecar's `redoc.standalone.js` draws the "API docs by Redocly" attribution with an
image from cdn.redoc.ly. Every docs page must load from this origin only (the CSP says
so), so the bundle is served through this module with that image's address emptied: an
`<img src="">` fires `error` without a request, and ReDoc's own error handler then drops
the image, leaving the attribution as text.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders
from django.core.exceptions import ImproperlyConfigured

SIDECAR_BUNDLE = "drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js"
REDOCLY_LOGO_SRC = 'src:"https://cdn.redoc.ly/redoc/logo-mini.svg"'
NO_LOGO_SRC = 'src:""'


@cache
def redoc_bundle() -> tuple[bytes, str]:
    """Return the rewritten bundle and its ETag, read once per process.

    Fails loudly when an upgraded sidecar no longer contains the logo address exactly
    once: the rewrite would silently stop working and the CDN request come back.
    """
    found = finders.find(SIDECAR_BUNDLE)
    if not found:
        raise ImproperlyConfigured(
            f"{SIDECAR_BUNDLE} not found: is drf_spectacular_sidecar installed?"
        )
    source = Path(found).read_text(encoding="utf-8")
    if source.count(REDOCLY_LOGO_SRC) != 1:
        raise ImproperlyConfigured(
            f"ReDoc's bundle changed: expected {REDOCLY_LOGO_SRC} once; update {__name__}"
        )
    body = source.replace(REDOCLY_LOGO_SRC, NO_LOGO_SRC).encode("utf-8")
    return body, f'"{hashlib.sha256(body).hexdigest()[:32]}"'
