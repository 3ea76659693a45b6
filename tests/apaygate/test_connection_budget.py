"""The PostgreSQL connection budget holds under load: pooled connections, never "too many clients".

A private PostgreSQL (initdb into a temporary folder, a free loopback port) with
`max_connections` 30, far below what the processes' threads would take with a connection
each (2 web processes x (32 + 8) pool threads, plus a Celery worker's 16 and its relay).
Against it: the production web server with two worker processes and a real Celery worker,
each process capped at DATABASE_POOL_MAX_SIZE connections, under concurrent init-payments
(provider stub), signed provider postbacks (delivered to a merchant stub by the worker's
relay) and shopper redirects that miss the KV. Every request is served (the waits are
generous: a request may wait for a connection, none is refused), no answer, log or
PostgreSQL log says "too many clients", and the connections PostgreSQL saw stay within the
budget. Without the pool (DATABASE_POOL=false) the same load gets "too many clients".
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import ThreadingHTTPServer
from pathlib import Path

import psycopg
import pytest
import requests
from django.conf import settings

from providers.signing import hmac_sha256_hex
from tests.apaygate.test_web_server import _start_server, _stop
from tests.support.gateway import CeleryStack, Receiver, _handler_for, free_port
from tests.support.postgres import PeakConnections

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
MAX_CONNECTIONS = 30
POOL_MAX = 8  # per process: 2 web + 1 worker = 24, and room for this test's own two
WEB_PROCESSES = 2
FLOWS = 120  # init-payment, then its provider postback, then the merchant's postback
REDIRECTS = 240
WAIT = 120.0  # a bound on waiting for a condition, never a measured duration
RESENDS_AFTER_503 = 5
TOO_MANY = "too many clients"
OURS = "connection-budget-test"  # this test's own connections, left out of the count

pytestmark = pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="no PostgreSQL binaries")


class PrivatePostgres:
    """A throw-away PostgreSQL server of our own; run as `postgres` when we are root."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="apaygate-pg-"))
        self.port = free_port()
        self.log = self.dir / "postgres.log"
        self.proc: subprocess.Popen | None = None
        self._user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        if self._user:
            os.chown(self.dir, self._user.pw_uid, self._user.pw_gid)

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", "postgres", "--", *args] if self._user else list(args)

    def start(self) -> None:
        data = self.dir / "data"
        subprocess.run(
            self._cmd(str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres",
                      "--auth=trust", "--no-sync"),
            check=True, capture_output=True,
        )  # fmt: skip
        self.proc = subprocess.Popen(
            self._cmd(
                str(PG_BIN / "postgres"), "-D", str(data), "-p", str(self.port),
                "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1",
                "-c", f"max_connections={MAX_CONNECTIONS}", "-c", "fsync=off",
                "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
            ),
            stdout=subprocess.DEVNULL, stderr=self.log.open("w"),
        )  # fmt: skip
        deadline = time.monotonic() + WAIT
        while True:
            try:
                url = self.url("postgres")
                with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
                    conn.execute("CREATE DATABASE apaygate")
                return
            except psycopg.OperationalError:
                assert self.proc.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "PostgreSQL did not start"
                time.sleep(0.2)

    def url(self, name: str = "apaygate") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()  # smart shutdown; our children are gone by now
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture
def private_postgres():
    server = PrivatePostgres()
    try:
        server.start()
        yield server
    finally:
        server.stop()


def _stub(script_step) -> tuple[Receiver, ThreadingHTTPServer]:
    stub = Receiver()
    stub.script.extend([script_step] * 10_000)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(stub))
    server.daemon_threads = True
    stub.port = server.server_address[1]
    serve = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    serve.daemon = True
    serve.start()
    return stub, server


def _invoice(item):
    time.sleep(0.1)  # the provider's own latency: a thread waits here holding no connection
    payment_id = item.json["id"]
    body = {"url": f"https://pay.bansky.example/p/{payment_id}", "reference": f"r-{payment_id}"}
    return 200, {"Content-Type": "application/json"}, json.dumps(body).encode()


def _manage(env: dict, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_two_web_processes_and_a_worker_keep_to_the_connection_budget_under_load(
    private_postgres, tmp_path
):
    # given: the schema and a merchant in the private database
    pool_env = {
        "DATABASE_URL": private_postgres.url(),
        "DATABASE_POOL": "true",
        "DATABASE_POOL_MAX_SIZE": str(POOL_MAX),
        # Generous waits: on a busy machine a request may wait its turn, but none is refused,
        # so every answer is the request's own (shedding is tested in test_load_shedding.py).
        "DATABASE_POOL_TIMEOUT": str(WAIT),
    }
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "apaygate.test_settings", **pool_env}
    _manage(env, "migrate", "--no-input")
    _manage(env, "create_merchant", "budget-shop", "--name", "Budget Shop", "--provider", "bansky")
    key = _manage(env, "issue_token", "budget-shop")
    provider, provider_server = _stub(_invoice)
    merchant, merchant_server = _stub((200, {}, b"ok"))
    stack = CeleryStack(
        broker_url=settings.CELERY_BROKER_URL, tmp=tmp_path,
        extra_env={**pool_env, "POSTBACK_ALLOW_PRIVATE": "true"},
    )  # fmt: skip
    stack.worker(concurrency=16)
    web, base = _start_server(
        tmp_path,
        {
            **pool_env,
            "WEB_CONCURRENCY": str(WEB_PROCESSES),
            "WEB_PROVIDER_QUEUE_BUDGET": str(WAIT),
            "WEB_PROVIDER_QUEUE_MAX": "1000",
            "WEB_QUEUE_BUDGET": str(WAIT),
            "WEB_QUEUE_MAX": "1000",
            "BANSKY_API_URL": provider.url_for(""),
            "POSTBACK_ALLOW_PRIVATE": "true",
            "LOG_LEVEL": "INFO",
        },
    )
    answers: list[requests.Response] = []
    own = psycopg.connect(private_postgres.url(), autocommit=True, application_name=OURS)
    own_lock = threading.Lock()
    lock = threading.Lock()

    resent: list[requests.Response] = []

    def keep(response: requests.Response) -> requests.Response:
        with lock:
            answers.append(response)
        return response

    def flow(i: int) -> None:
        body = {
            "id": f"flow-{i}",
            "customerEmail": "a@example.com",
            "amount": "10.00",
            "currency": "USD",
            "successUrl": "https://shop.example/s",
            "errorUrl": "https://shop.example/e",
        }
        # A 503 with Retry-After (past capacity on a busy machine, or a pooled connection
        # not free within its timeout) is an answer a client waits out and resends, as the
        # SDKs do; it is kept apart and still checked for "too many clients" below.
        for _try in range(RESENDS_AFTER_503):
            created = requests.post(
                f"{base}/api/v1/init-payment",
                json=body,
                headers={"Authorization": f"Token {key}"},
                timeout=WAIT,
            )
            if created.status_code != 503:
                break
            with lock:
                resent.append(created)
            time.sleep(float(created.headers.get("Retry-After") or 1))
        keep(created)
        if created.status_code != 201:
            return
        payment_id = created.json()["id"]
        # The API takes only https postback URLs on DNS names; the merchant stub is plain
        # http on loopback, so the test points the payment at it (as the factories do).
        with own_lock:
            own.execute(
                "UPDATE payments_payment SET postback_url = %s WHERE public_id = %s",
                [merchant.url, payment_id],
            )
        postback = json.dumps(
            {"id": payment_id, "reference": f"r-{payment_id}", "status": "paid",
             "amount": "10.00", "currency": "USD"}
        ).encode()  # fmt: skip
        signature = hmac_sha256_hex(os.environ["BANSKY_POSTBACK_SECRET"], postback)
        keep(
            requests.post(
                f"{base}/api/payment-verify/bansky",
                data=postback,
                headers={"Content-Type": "application/json", "X-Bansky-Signature": signature},
                timeout=WAIT,
            )
        )

    def redirect(i: int) -> None:
        keep(requests.get(f"{base}/integration/pay?id=missing-{i}", timeout=WAIT))

    try:
        # when: init-payments with their postbacks, and shoppers' redirects, all at once
        with (
            PeakConnections(private_postgres.url(), exclude_application=OURS) as peak,
            ThreadPoolExecutor(48) as clients,
        ):
            jobs = [clients.submit(flow, i) for i in range(FLOWS)]
            jobs += [clients.submit(redirect, i) for i in range(REDIRECTS)]
            for job in jobs:
                job.result()
            intakes = [a for a in answers if "payment-verify" in a.url and a.status_code == 200]
            delivered = merchant.wait_for(len(intakes), WAIT)
    finally:
        own.close()
        _stop(web)
        stack.stop_all()
        for server in (provider_server, merchant_server):
            server.shutdown()
            server.server_close()

    # then: answered, within the budget, and nobody was refused a connection
    logs = "\n".join(
        path.read_text(errors="replace")
        for path in (tmp_path / "web.log", tmp_path / "worker.log", private_postgres.log)
        if path.exists()
    )
    assert TOO_MANY not in logs
    assert not [a for a in answers + resent if TOO_MANY in a.text]
    print(f"init-payments resent after a 503: {len(resent)}")  # reported, not asserted
    samples = {a.status_code: a.text[:300] for a in answers}
    inits = [a.status_code for a in answers if a.url.endswith("/init-payment")]
    redirects = [a.status_code for a in answers if "/integration/pay" in a.url]
    assert inits == [201] * FLOWS, samples
    assert len(intakes) == FLOWS, samples
    assert redirects == [404] * REDIRECTS, samples
    assert delivered, f"{len(merchant.requests)} of {len(intakes)} postbacks reached the merchant"
    assert 0 < peak.peak <= (WEB_PROCESSES + 1) * POOL_MAX, peak.peak
