"""Test-mode postbacks copied to a per-merchant Redis stream, for `apaygate listen`.

A developer's laptop behind NAT cannot receive the gateway's postbacks; `apaygate listen
--forward-to URL` (both SDKs) streams them from `GET /api/v1/postbacks/stream`
(payments/api/postback_stream.py) and forwards each, body and signature headers
unchanged, to a local URL. This module is the hand-off between the two sides:

- `postback_publish` is called by `postback_send` (payments/delivery/send.py), the one
  place every attempt is signed, just before the POST, for test-mode payments only: the
  exact body and headers go to the merchant's stream (XADD, one Redis round trip from the
  sender thread). Live postbacks are never published.
- `stream_read` (on the web's event loop) waits for entries after a given id.

Every buffer has a bound: a merchant's stream keeps its last `POSTBACK_STREAM_KEEP`
entries and expires `POSTBACK_STREAM_TTL` seconds after the last one, so a reconnecting
client (`Last-Event-ID`) gets what it missed within that window and an unused stream
disappears. The stream is a convenience for development, not a delivery path: with Redis
away nothing is published, nothing raises, and the postback itself is sent and logged as
always (and `resend` publishes it again).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

import redis
import redis.asyncio
from django.conf import settings

from payments import kv

logger = logging.getLogger(__name__)

# Redis stream ids ("<ms>-<seq>"), which the SSE events carry as their `id`.
ENTRY_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
# The headers a receiver verifies; copied to the stream exactly as sent.
FORWARDED_HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature", "Content-Type")


@dataclass(frozen=True)
class StreamedPostback:
    """One postback as the gateway sent it: what the CLI forwards."""

    entry_id: str
    event: str
    payment_id: str
    headers: dict[str, str]
    body: str

    def sse_data(self) -> str:
        return json.dumps(
            {
                "event": self.event,
                "paymentId": self.payment_id,
                "headers": self.headers,
                "body": self.body,
            },
            separators=(",", ":"),
            ensure_ascii=False,
        )


def stream_key(merchant_id: int) -> str:
    return kv.kv_namespaced(f"listen:{merchant_id}")


def postback_publish(*, merchant_id: int, payload: dict, headers: dict[str, str], body: str):
    """Copy one signed test-mode postback to its merchant's stream; never raises."""
    fields = {
        "event": str(payload.get("event", "")),
        "paymentId": str(payload.get("paymentId", "")),
        "headers": json.dumps({k: headers[k] for k in FORWARDED_HEADERS if k in headers}),
        "body": body,
    }
    key = stream_key(merchant_id)

    def command(client: redis.Redis):
        pipe = client.pipeline(transaction=False)
        pipe.xadd(key, fields, maxlen=settings.POSTBACK_STREAM_KEEP, approximate=True)
        pipe.expire(key, settings.POSTBACK_STREAM_TTL)
        return pipe.execute()

    try:
        kv.kv_run(command)
    except kv.KVUnavailable as exc:
        logger.info("listen stream: postback not published (%s)", exc)


def _entry(entry_id: bytes | str, fields: dict) -> StreamedPostback:
    text = {
        (k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
        for k, v in fields.items()
    }
    return StreamedPostback(
        entry_id=entry_id.decode() if isinstance(entry_id, bytes) else entry_id,
        event=text.get("event", ""),
        payment_id=text.get("paymentId", ""),
        headers=json.loads(text.get("headers") or "{}"),
        body=text.get("body", ""),
    )


async def stream_last_id(client: redis.asyncio.Redis, *, merchant_id: int) -> str:
    """The id to read after for a new listener: the newest entry's, or "0-0"."""
    newest = await client.xrevrange(stream_key(merchant_id), count=1)
    if not newest:
        return "0-0"
    entry_id = newest[0][0]
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


async def stream_read(
    client: redis.asyncio.Redis, *, merchant_id: int, after: str, block_ms: int
) -> list[StreamedPostback]:
    """Wait up to `block_ms` for entries after `after`; return them, oldest first."""
    answer = await client.xread(
        {stream_key(merchant_id): after}, count=settings.POSTBACK_STREAM_KEEP, block=block_ms
    )
    return [_entry(entry_id, fields) for _key, rows in answer or [] for entry_id, fields in rows]


# A listener holds a slot in its merchant's set until it ends, or until its stream's longest
# life has passed (a web process killed mid-stream cannot free its slots).
_SLOT_TAKE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[4]) then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


def _slots_key(merchant_id: int) -> str:
    return kv.kv_namespaced(f"listen:{merchant_id}:streams")


async def stream_slot_take(
    client: redis.asyncio.Redis, *, merchant_id: int, listener: str, now: float
) -> bool:
    """Take one of the merchant's `POSTBACK_STREAM_PER_MERCHANT` slots; whether it was free."""
    lifetime = settings.POSTBACK_STREAM_MAX_SECONDS + 60
    taken = await client.eval(
        _SLOT_TAKE,
        1,
        _slots_key(merchant_id),
        now,
        now + lifetime,
        listener,
        settings.POSTBACK_STREAM_PER_MERCHANT,
        int(lifetime),
    )
    return bool(taken)


async def stream_slot_give(client: redis.asyncio.Redis, *, merchant_id: int, listener: str):
    await client.zrem(_slots_key(merchant_id), listener)
