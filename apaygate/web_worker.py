"""The web server's worker class: uvicorn's, without its proxy-header rewriting.

uvicorn trusts `X-Forwarded-For` from 127.0.0.1 by default and replaces the client
address with it, so anything on loopback could pick the address the login throttle keys
on. Here the socket's peer stays `REMOTE_ADDR`; how far `X-Forwarded-For` is trusted is
`AXES_PROXY_COUNT`'s business alone (`apaygate.login_throttle.client_address`), and the
scheme comes from `X-Forwarded-Proto` through Django's `SECURE_PROXY_SSL_HEADER`.
"""

from __future__ import annotations

from uvicorn.workers import UvicornWorker


class Worker(UvicornWorker):
    CONFIG_KWARGS = {**UvicornWorker.CONFIG_KWARGS, "proxy_headers": False}
