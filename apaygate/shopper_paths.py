"""The paths of the shopper process class: what the TLS proxy routes to it, and what it serves.

A leaf without Django, so the entry (apaygate/asgi_shopper.py), the tests and tools can
read the list without loading the web application. deploy/proxy/Caddyfile's `@shopper`
matcher lists ROUTED_PREFIXES and ROUTED_PATHS (tests/apaygate/test_shopper_class.py
keeps them equal); deploy/README.md gives the nginx and Kubernetes Ingress equivalents.
"""

from __future__ import annotations

# What the proxy routes to the shopper class: the `/integration/` redirects, the waiting
# page and the success/error hops, the sandbox's hosted pay page, and the static files
# they load.
ROUTED_PREFIXES = ("/integration/", "/sandbox/", "/static/")
ROUTED_PATHS = ("/favicon.ico",)
# Served on the class's own port to probes and the metrics scraper, never through the proxy.
OPERATIONS_PATHS = ("/healthz", "/readyz", "/metrics")


def shopper_path(path: str) -> bool:
    """Whether the shopper class serves `path`; case-insensitive, as Caddy's path matcher is."""
    lowered = path.lower()
    return (
        lowered.startswith(ROUTED_PREFIXES)
        or lowered in ROUTED_PATHS
        or lowered in OPERATIONS_PATHS
    )
