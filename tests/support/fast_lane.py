"""Calling the redirect's fast lane (payments/shopper/fast_lane.py) as the ASGI app does."""

from __future__ import annotations

from payments.kv import kv_async_client
from payments.shopper.fast_lane import pay_fast
from tests.support.aio import run_coroutine


def call_fast_lane(
    public_id: str,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    scheme: str | None = None,
    read_entry=None,
) -> tuple[bool, list[dict]]:
    """Run `pay_fast` on a GET /integration/pay?id=`public_id` scope; return whether it
    answered and the ASGI messages it sent. `headers` default to a Host of `testserver`;
    the KV's async client is closed afterwards (it belongs to the loop the call ran on)."""
    sent: list[dict] = []

    async def send(message):
        sent.append(message)

    async def run():
        scope = {
            "type": "http",
            "method": "GET",
            "path": "/integration/pay",
            "query_string": f"id={public_id}".encode(),
            "headers": headers if headers is not None else [(b"host", b"testserver")],
        }
        if scheme is not None:
            scope["scheme"] = scheme
        try:
            return await pay_fast(scope, send, read_entry=read_entry)
        finally:
            client = kv_async_client()
            if client is not None:
                await client.aclose()

    return run_coroutine(run()), sent
