"""The shopper class's paths (apaygate/shopper_paths.py): only the shopper's side gets through.

The entry's 404 for any other path is tested on a real shopper process
(tests/apaygate/test_shopper_class.py): importing the ASGI entry here would build the web
application, and its database pool, inside the test process.
"""

from __future__ import annotations

import pytest

from apaygate.shopper_paths import shopper_path


@pytest.mark.parametrize(
    "path",
    [
        "/integration/pay",
        "/integration/status.json",
        "/INTEGRATION/pay",  # Caddy's path matcher ignores case: so does the class
        "/sandbox/pay/ref",
        "/static/apaygate/site.css",
        "/favicon.ico",
        "/healthz",
        "/readyz",
        "/metrics",
    ],
)
def test_the_shopper_class_serves_the_shoppers_paths_and_its_probes(path):
    assert shopper_path(path)


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/init-payment",
        "/api/payment-verify/tele",
        "/portal/",
        "/docs/",
        "/",
        "/integration",  # no trailing slash: not the routed prefix
        "/static",
    ],
)
def test_the_shopper_class_refuses_what_the_proxy_sends_to_web(path):
    assert not shopper_path(path)
