"""The raw baselines of `make bench`: the gateway's work per request, in plain Python.

One ASGI app, served by bench/bench_gateway.py under the gateway's own command (gunicorn,
uvicorn workers, apaygate/gunicorn_conf.py, the same worker count: the web's, and for the
redirect rows the shopper class's, a second instance when the two differ), answering the
gateway's paths with the least code that does the same database, Redis and provider work:

- `GET /r`: one Redis GET on the event loop, 302 (the KV-hit baseline, bench/stubs.py);
- `GET /integration/pay?id=`: one SELECT of the entry's columns, 302 (the KV-miss baseline);
- `POST /api/v1/init-payment`: the payment INSERT and its event INSERT (one transaction),
  one call to the provider stub, the conditional UPDATE to pending and its event INSERT
  (one transaction), one Redis SET of the redirect entry;
- `POST /api/payment-verify/bansky`: the HMAC checked, one conditional UPDATE to
  succeeded, one event (export outbox) INSERT, commit.

Serving model as the gateway's (apaygate/asgi.py): the event loop hands blocking work to
reused threads; init-payment in a pool of WEB_PROVIDER_THREADS (32), the rest in
WEB_THREADS (8); database connections borrowed per unit of work from a psycopg pool of at
most DATABASE_POOL_MAX_SIZE (10) per process, as the gateway's (foundation/db_pool.py), so
the raw app keeps the gateway's connection budget (a connection per thread, 80 per
process, ran PostgreSQL out of connections while the gateway and worker held theirs).
The drivers are the gateway's (psycopg 3, redis-py, urllib3 under requests). What it
leaves out is what the gateway adds around that work: Django, DRF, middleware,
authentication, throttling, validation, logging and metrics. Never used outside the bench.

Environment: DATABASE_URL, REDIS_URL, BANSKY_API_URL, BANSKY_POSTBACK_SECRET,
RAW_MERCHANT_ID, RAW_TOKEN_ID (the bench merchant's and token's ids), PAYMENT_TTL.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import os
import secrets
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import psycopg_pool
import redis
import urllib3

from bench.stubs import raw_app

POOLS = {
    "provider": ThreadPoolExecutor(int(os.environ.get("WEB_PROVIDER_THREADS", "32"))),
    "general": ThreadPoolExecutor(int(os.environ.get("WEB_THREADS", "8"))),
}
_pool: psycopg_pool.ConnectionPool | None = None
_pool_lock = threading.Lock()
_redis = redis.Redis.from_url(os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"))
_http = urllib3.PoolManager(maxsize=64, timeout=urllib3.Timeout(connect=5, read=15))
TTL = int(os.environ.get("PAYMENT_TTL", str(24 * 3600)))

INSERT_PAYMENT = """
INSERT INTO payments_payment (public_id, merchant_id, token_id, is_test, provider,
  merchant_reference, idempotency_key, request_fingerprint, customer_email, customer_name,
  amount, currency, payment_type, provider_amount, provider_currency, exchange_rate,
  success_url, error_url, postback_url, provider_reference, provider_url,
  provider_error_code, provider_error_message, status, paid_amount, paid_currency,
  needs_review, review_reason, created_at, updated_at, finalized_at, attempt, retry_of_id)
VALUES (%s, %s, %s, false, 'bansky', %s, NULL, %s, %s, %s, %s, %s, 'fiat', NULL, '', NULL,
  %s, %s, %s, '', '', '', '', 'created', NULL, '', false, '', %s, %s, NULL, 1, NULL)
RETURNING id"""
INSERT_EVENT = """
INSERT INTO payments_paymentevent (id, payment_id, merchant_id, type, status, provider,
  payload, occurred_at, exported_at, export_attempts, export_error, export_claimed_until)
VALUES (%s, %s, %s, %s, %s, 'bansky', %s, %s, NULL, 0, '', NULL)"""
MOVE_PENDING = """
UPDATE payments_payment SET status = 'pending', updated_at = %s, provider_url = %s,
  provider_reference = %s
WHERE id = %s AND status = 'created'"""
MOVE_SUCCEEDED = """
UPDATE payments_payment SET status = 'succeeded', paid_amount = %s, paid_currency = %s,
  updated_at = %s, finalized_at = %s
WHERE public_id = %s AND provider = 'bansky' AND status = 'pending'
RETURNING id, merchant_id"""
READ_ENTRY = """
SELECT id, merchant_id, provider, status, provider_url, success_url, error_url
FROM payments_payment WHERE public_id = %s"""


def _db() -> psycopg_pool.ConnectionPool:
    """This process's connection pool, opened on first use (after gunicorn's fork)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = psycopg_pool.ConnectionPool(
                os.environ["DATABASE_URL"],
                min_size=2,
                max_size=int(os.environ.get("DATABASE_POOL_MAX_SIZE", "10")),
                open=True,
            )
    return _pool


def _now() -> datetime:
    return datetime.now(UTC)


def _event(cur, payment_id: int, merchant_id: int, type_: str, status: str, payload: dict):
    cur.execute(
        INSERT_EVENT,
        (uuid.uuid4(), payment_id, merchant_id, type_, status, json.dumps(payload), _now()),
    )


def init_payment(body: bytes) -> tuple[int, dict, bytes]:
    data = json.loads(body)
    public_id = "pay_" + secrets.token_urlsafe(24)
    merchant_id, token_id = int(os.environ["RAW_MERCHANT_ID"]), int(os.environ["RAW_TOKEN_ID"])
    fingerprint = hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()
    now = _now()
    with _db().connection() as conn, conn.cursor() as cur:
        cur.execute(
            INSERT_PAYMENT,
            (public_id, merchant_id, token_id, data.get("id"), fingerprint,
             data.get("customerEmail", ""), data.get("customerName", ""),
             Decimal(str(data["amount"])), data["currency"], data["successUrl"],
             data["errorUrl"], data.get("postbackUrl", ""), now, now),
        )  # fmt: skip
        pk = cur.fetchone()[0]
        _event(cur, pk, merchant_id, "payment.created", "created", {"test": False})
    invoice_request = {
        "id": public_id,
        "amount": data["amount"],
        "currency": data["currency"],
        "email": data.get("customerEmail", ""),
    }
    answer = _http.request(
        "POST",
        os.environ["BANSKY_API_URL"].rstrip("/") + "/payments",
        body=json.dumps(invoice_request),
        headers={"Content-Type": "application/json"},
    )
    invoice = json.loads(answer.data)
    with _db().connection() as conn, conn.cursor() as cur:
        cur.execute(MOVE_PENDING, (_now(), invoice["url"], invoice["reference"], pk))
        _event(cur, pk, merchant_id, "provider.invoice_created", "pending",
               {"provider_reference": invoice["reference"]})  # fmt: skip
    entry = {"pk": pk, "merchant_id": merchant_id, "provider": "bansky", "status": "pending",
             "provider_url": invoice["url"], "success_url": data["successUrl"],
             "error_url": data["errorUrl"]}  # fmt: skip
    _redis.set(f"raw:payment:{public_id}", json.dumps(entry), ex=TTL)
    gateway = os.environ.get("PUBLIC_BASE_URL", "")
    out = {"status": "success", "id": public_id, "url": f"{gateway}/integration/pay?id={public_id}"}
    return 201, {}, json.dumps(out).encode()


def intake(body: bytes, signature: str) -> tuple[int, dict, bytes]:
    secret = os.environ["BANSKY_POSTBACK_SECRET"].encode()
    expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, signature):
        return 400, {}, b'{"status":"error","code":"invalid_signature"}'
    data = json.loads(body)
    now = _now()
    with _db().connection() as conn, conn.cursor() as cur:
        cur.execute(MOVE_SUCCEEDED, (Decimal(str(data["amount"])), data["currency"], now, now,
                                     data["id"]))  # fmt: skip
        row = cur.fetchone()
        if row is not None:
            _event(cur, row[0], row[1], "payment.succeeded", "succeeded", {"provider": "bansky"})
    code = "applied" if row is not None else "no_change"
    answer = {"status": "success", "code": code, "paymentId": data["id"]}
    return 200, {}, json.dumps(answer).encode()


def kv_miss(public_id: str) -> tuple[int, dict, bytes]:
    with _db().connection() as conn, conn.cursor() as cur:  # committed when given back
        cur.execute(READ_ENTRY, (public_id,))
        row = cur.fetchone()
    if row is None:
        return 404, {}, b"not found"
    return 302, {b"location": row[4].encode()}, b""


async def _body(receive) -> bytes:
    chunks, more = [], True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    path, loop = scope["path"], asyncio.get_running_loop()
    headers: dict = {}
    if path == "/r":  # as the fast lane: on the event loop, no thread
        return await raw_app(scope, receive, send)
    if path == "/integration/pay":
        public_id = parse_qs(scope["query_string"].decode()).get("id", [""])[0]
        status, headers, content = await loop.run_in_executor(POOLS["general"], kv_miss, public_id)
    elif path == "/api/v1/init-payment":
        body = await _body(receive)
        status, headers, content = await loop.run_in_executor(POOLS["provider"], init_payment, body)
    elif path.startswith("/api/payment-verify/"):
        body = await _body(receive)
        signature = dict(scope["headers"]).get(b"x-bansky-signature", b"").decode()
        status, headers, content = await loop.run_in_executor(
            POOLS["general"], intake, body, signature
        )
    else:
        status, content = 404, b""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers.items(), (b"content-length", str(len(content)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": content})
