"""A provider stand-in for real-process tests: Tele's and Bansky's invoice routes on loopback.

Run it under uvicorn (`uvicorn tests.support.provider_stub:app`); each process is one
provider. `POST /control/<mode>` sets how invoices are answered:
- `ok`: 200 with a payment URL (`https://pay.stub.example/<payment id>`) after `STUB_DELAY_MS`;
- `hang`: accept and never answer;
- `fail`: 500 at once;
and `GET /control/calls` returns how many invoice requests arrived.
Tele's body carries our id in `partnerInfo.id`, Bansky's in `id`; the stub reads either.
"""

from __future__ import annotations

import asyncio
import json
import os

DELAY = float(os.environ.get("STUB_DELAY_MS", "50")) / 1000
state = {"mode": "ok", "calls": 0}


async def _body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            return b"".join(chunks)


async def _answer(send, status: int, data: dict) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps(data).encode()})


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    body = await _body(receive)
    path = scope["path"]
    if path == "/control/calls":
        return await _answer(send, 200, {"calls": state["calls"]})
    if path.startswith("/control/"):
        state["mode"] = path.removeprefix("/control/")
        return await _answer(send, 200, {"mode": state["mode"]})
    state["calls"] += 1
    if state["mode"] == "hang":
        await asyncio.sleep(3600)
    if state["mode"] == "fail":
        return await _answer(send, 500, {"error": "internal"})
    await asyncio.sleep(DELAY)
    data = json.loads(body or b"{}")
    payment_id = (data.get("partnerInfo") or {}).get("id") or data.get("id") or "x"
    await _answer(
        send,
        200,
        {
            "url": f"https://pay.stub.example/{payment_id}",
            "invoiceId": f"inv-{payment_id}",
            "reference": f"ref-{payment_id}",
        },
    )
