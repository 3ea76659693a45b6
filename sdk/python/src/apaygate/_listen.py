"""`apaygate listen --forward-to URL`: the gateway's test-mode postbacks, forwarded locally.

Reads `GET /api/v1/postbacks/stream` (server-sent events; test tokens only) and POSTs each
postback to a URL on your machine with the body and the signature headers exactly as the
gateway signed them, so your own handler verifies them with your postback secret. One line
is printed per postback with your handler's answer; a local error is printed and the next
postback is still forwarded. When the stream ends (the gateway ends each after a while, or
the network drops) it reconnects with `Last-Event-ID` and misses nothing the gateway kept.

The forward target is yours, on your machine: unlike the gateway's own deliveries, a
loopback or private address is what it is for.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Optional, TextIO

import httpx

from ._version import __version__

STREAM_PATH = "/api/v1/postbacks/stream"
FORWARD_TIMEOUT = 10.0
# Seconds without a byte (the gateway sends a comment every 15 s) before reconnecting.
READ_TIMEOUT = 45.0
MAX_BACKOFF = 30.0


class ListenRefused(Exception):
    """The gateway refused the stream for good (a live token, a bad token): do not retry."""


@dataclass(frozen=True)
class StreamEvent:
    event: str
    data: str
    id: Optional[str]


def sse_events(lines: Iterator[str]) -> Iterator[StreamEvent]:
    """Parse a server-sent event stream (WHATWG HTML, "event stream interpretation")."""
    event, data, last_id = "message", [], None
    for raw in lines:
        line = raw.rstrip("\r")
        if not line:
            if data:
                yield StreamEvent(event=event, data="\n".join(data), id=last_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id" and "\0" not in value:
            last_id = value


@dataclass
class Forwarded:
    """What the local handler answered (or why it could not)."""

    status_code: Optional[int]
    error: str
    duration_ms: int


def forward(http: httpx.Client, url: str, postback: dict) -> Forwarded:
    """POST one postback to `url`, body and signature headers unchanged."""
    started = time.monotonic()
    try:
        response = http.post(
            url, content=postback["body"].encode("utf-8"), headers=postback["headers"]
        )
        return Forwarded(response.status_code, "", int((time.monotonic() - started) * 1000))
    except httpx.HTTPError as exc:
        reason = str(exc) or type(exc).__name__
        return Forwarded(None, reason, int((time.monotonic() - started) * 1000))


def summary_line(postback: dict, answer: Forwarded, *, now: Optional[datetime] = None) -> str:
    """One line per postback: time, event, payment id, the local answer."""
    stamp = (now or datetime.now()).strftime("%H:%M:%S")
    if answer.status_code is not None:
        outcome = f"{answer.status_code} ({answer.duration_ms} ms)"
    else:
        outcome = f"failed: {answer.error}"
    webhook_id = postback["headers"].get("webhook-id", "")
    return (
        f"{stamp}  {postback.get('event', '?'):<20} {postback.get('paymentId', '?')}  "
        f"{webhook_id}  -> {outcome}"
    )


def _refusal(response: httpx.Response) -> str:
    response.read()
    try:
        body = response.json()
        return f"{body.get('code')}: {body.get('message')}"
    except ValueError:
        return f"HTTP {response.status_code}"


@dataclass
class Listener:
    base_url: str
    token: str
    forward_to: str
    out: TextIO = sys.stdout
    err: TextIO = sys.stderr
    last_event_id: Optional[str] = None
    sleep: Callable[[float], None] = time.sleep

    def _stream_once(self, gateway: httpx.Client, local: httpx.Client) -> None:
        headers = {
            "Accept": "text/event-stream",
            "Authorization": f"Token {self.token}",
            "User-Agent": f"apaygate-sdk-python/{__version__} listen",
        }
        if self.last_event_id:
            headers["Last-Event-ID"] = self.last_event_id
        url = self.base_url.rstrip("/") + STREAM_PATH
        with gateway.stream("GET", url, headers=headers) as response:
            if response.status_code in (401, 403):
                raise ListenRefused(_refusal(response))
            if response.status_code != 200:
                raise httpx.HTTPStatusError(
                    _refusal(response), request=response.request, response=response
                )
            print(
                f"Ready. Forwarding test-mode postbacks to {self.forward_to} (Ctrl-C to stop)",
                file=self.err,
                flush=True,
            )
            for event in sse_events(response.iter_lines()):
                if event.event != "postback":
                    continue
                postback = json.loads(event.data)
                answer = forward(local, self.forward_to, postback)
                print(summary_line(postback, answer), file=self.out, flush=True)
                self.last_event_id = event.id or self.last_event_id

    def run(self) -> int:
        """Listen until interrupted; reconnect after any end but a refusal."""
        timeout = httpx.Timeout(10.0, read=READ_TIMEOUT)
        backoff = 1.0
        with (
            httpx.Client(timeout=timeout, follow_redirects=False) as gateway,
            httpx.Client(timeout=FORWARD_TIMEOUT, follow_redirects=False) as local,
        ):
            while True:
                started = time.monotonic()
                try:
                    self._stream_once(gateway, local)
                except ListenRefused as exc:
                    print(f"apaygate listen: refused by the gateway: {exc}", file=self.err)
                    return 2
                except httpx.HTTPError as exc:
                    print(f"apaygate listen: {exc}; reconnecting", file=self.err, flush=True)
                    backoff = 1.0 if time.monotonic() - started > 30 else backoff
                    self.sleep(backoff)
                    backoff = min(backoff * 2, MAX_BACKOFF)
                    continue
                backoff = 1.0  # the gateway ended the stream: reconnect at once


def main(argv: Optional[list] = None) -> int:
    parser = argparse.ArgumentParser(prog="apaygate", description="APayGate developer tools.")
    commands = parser.add_subparsers(dest="command", required=True)
    listen = commands.add_parser(
        "listen",
        help="forward the gateway's test-mode postbacks to a local URL",
        description=(
            "Stream your test-mode postbacks from the gateway and POST each, body and "
            "signature headers unchanged, to a URL on this machine."
        ),
    )
    listen.add_argument("--forward-to", required=True, help="e.g. http://localhost:5173/postback")
    listen.add_argument(
        "--base-url",
        default=os.environ.get("APAYGATE_BASE_URL"),
        help="the gateway (default: $APAYGATE_BASE_URL)",
    )
    listen.add_argument(
        "--token",
        default=os.environ.get("APAYGATE_TOKEN"),
        help="a TEST token (default: $APAYGATE_TOKEN)",
    )
    args = parser.parse_args(argv)
    if not args.base_url or not args.token:
        parser.error("--base-url and --token (or APAYGATE_BASE_URL and APAYGATE_TOKEN) are needed")
    listener = Listener(base_url=args.base_url, token=args.token, forward_to=args.forward_to)
    try:
        return listener.run()
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())
