"""The processes and data behind bench/bench_gateway.py: servers, stubs, worker, fixtures.

Each process is started, waited for and stopped by the tests' process helper
(tests/support/processes.py, which imports nothing of the gateway or of pytest).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from bench import wrk
from tests.support.processes import Process, http_answers, stop_all

DB_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/apaygate_bench")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/9")
PORT_BASE = int(os.environ.get("BENCH_PORT_BASE", "18000"))
POSTBACK_SECRET = "bench-bansky-postback-secret"
BREAKER_RESET = 3.0
# The server model under test: "asgi" is production (apaygate/gunicorn_conf.py); "sync" and
# "gthread" are the models it was chosen over, for the comparison in ARCHITECTURE.md.
SERVER = os.environ.get("BENCH_SERVER", "asgi")
# The environment the bench was started with (Stack.prepare adds the stack's own to it).
CALLER_ENV = dict(os.environ)


def _shipped_shopper_concurrency(root: Path) -> int:
    """scripts/serve.sh's default SHOPPER_CONCURRENCY: the bench runs what ships."""
    text = (root / "scripts" / "serve.sh").read_text()
    return int(re.search(r"SHOPPER_CONCURRENCY:-(\d+)", text).group(1))


SHOPPER_SHIPPED = _shipped_shopper_concurrency(Path(__file__).resolve().parents[1])


def _quantile(values: list[float], q: float) -> float:
    ordered = sorted(values) or [0.0]
    return ordered[min(int(len(ordered) * q), len(ordered) - 1)]


class Stack:
    def __init__(self, *, root: Path):
        self.root = root
        self.bin = Path(sys.executable).parent
        self.tmp = Path(tempfile.mkdtemp(prefix="apaygate-bench-"))
        self.ports = {name: PORT_BASE + i for i, name in enumerate(("gw", "raw", "prov", "merch"))}
        # +4 is bench_failover.py's second provider stub; +6 the raw app at the shopper
        # class's worker count, when it differs from the web's.
        self.ports["shop"] = PORT_BASE + 5
        self.ports["rawshop"] = PORT_BASE + 6
        self.gateway_url = f"http://127.0.0.1:{self.ports['gw']}"
        self.raw_url = f"http://127.0.0.1:{self.ports['raw']}"
        # Where the redirect rows send shoppers (`/integration/pay`): the shopper process
        # class (`scripts/serve.sh shopper`, as the TLS proxy routes them in production),
        # or the web process itself with BENCH_SHOPPER_CLASS=0 (a setup without the proxy).
        self.shopper_class = os.environ.get("BENCH_SHOPPER_CLASS", "1") != "0"
        self.shopper_server = "shop" if self.shopper_class else "gw"
        self.shopper_url = (
            f"http://127.0.0.1:{self.ports['shop']}" if self.shopper_class else self.gateway_url
        )
        self.merchant_url = f"http://127.0.0.1:{self.ports['merch']}/postback"
        self.web_workers = int(os.environ.get("WEB_CONCURRENCY", os.cpu_count() or 2))
        # The shopper class's worker count: the caller's SHOPPER_CONCURRENCY, else the one
        # scripts/serve.sh ships. The redirect rows' raw baseline runs with the same count
        # (`shopper_raw_url`): a raw app on twice the processes is no baseline.
        self.shopper_workers = int(CALLER_ENV.get("SHOPPER_CONCURRENCY") or SHOPPER_SHIPPED)
        self.shopper_raw_server, self.shopper_raw_url = "raw", self.raw_url
        if self.shopper_class and self.shopper_workers != self.web_workers:
            self.shopper_raw_server = "rawshop"
            self.shopper_raw_url = f"http://127.0.0.1:{self.ports['rawshop']}"
        self.worker_concurrency = int(os.environ.get("CELERY_WORKER_CONCURRENCY", "64"))
        self.processes: list[tuple[str, Process]] = []
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "apaygate.settings",
            "DATABASE_URL": DB_URL,
            "REDIS_URL": REDIS_URL,
            "CACHE_KEY_PREFIX": "apaygate-bench",
            "SECRET_KEY": "bench-secret-key-0123456789",
            "DEBUG": "false",
            "ALLOWED_HOSTS": "127.0.0.1",
            "PUBLIC_BASE_URL": self.gateway_url,
            "SANDBOX_ENABLED": "true",
            "API_THROTTLE_RATE": "100000000/min",
            "LOG_LEVEL": "WARNING",
            "BANSKY_API_URL": f"http://127.0.0.1:{self.ports['prov']}",
            "BANSKY_API_TOKEN": "bench",
            "BANSKY_POSTBACK_SECRET": POSTBACK_SECRET,
            "POSTBACK_ALLOW_PRIVATE": "true",
            # Production answers plain http with a 301 to https (SECURE_SSL_REDIRECT); there
            # the TLS proxy in front sends https. The bench has no proxy, and a 301 counts
            # as a success in wrk, so without this every Django row measured the redirect.
            "SECURE_SSL_REDIRECT": "false",
            # A hang is noticed after 2 s (production default: 15 s), so the run stays short.
            "PROVIDER_READ_TIMEOUT": "2",
            "PROVIDER_BREAKER_RESET": str(BREAKER_RESET),
            "WEB_CONCURRENCY": str(self.web_workers),
            "CELERY_WORKER_CONCURRENCY": str(self.worker_concurrency),
        }

    # --- data ------------------------------------------------------------------------

    def prepare(self) -> None:
        name = DB_URL.rsplit("/", 1)[1]
        for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
            subprocess.run(
                ["psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", sql],
                capture_output=True,
                check=True,
            )
        os.environ.update(self.env)
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        from payments.merchants import api_token_issue
        from payments.models import Merchant
        from tests.factories import MerchantFactory

        merchant = Merchant.objects.filter(slug="bench-bansky").first() or MerchantFactory(
            slug="bench-bansky", provider="bansky"
        )
        self.merchant = merchant
        token, self.token = api_token_issue(merchant=merchant, mode="live", label="bench")
        # The raw app (bench/raw.py) writes its payments as this merchant and token.
        self.env["RAW_MERCHANT_ID"], self.env["RAW_TOKEN_ID"] = str(merchant.pk), str(token.pk)
        import redis

        # The bench's own Redis database starts empty, as its PostgreSQL database does: a
        # previous run's shopper events would otherwise leave the stream at its bound, and
        # every redirect would take the full-stream path (a database INSERT) instead.
        client = redis.Redis.from_url(REDIS_URL)
        client.flushdb()
        client.set("raw:target", "https://pay.bansky.example/p/raw")

    def payments(self, n: int, *, in_kv: bool, postback: bool = False, status="pending") -> list:
        from django.core.cache import cache

        from payments.kv import kv_store
        from payments.models import Payment
        from tests.factories import PaymentFactory

        built = PaymentFactory.build_batch(
            n,
            merchant=self.merchant,
            status=status,
            postback_url=self.merchant_url if postback else "",
        )
        for payment in built:  # unique across runs (the factory's sequence restarts)
            payment.merchant_reference = f"bench-{payment.public_id}"
        created = Payment.objects.bulk_create(built, batch_size=2000)
        if in_kv:
            for payment in created:
                kv_store(payment)
        else:
            cache.delete_many([f"payment:{p.public_id}" for p in created])
        return created

    @staticmethod
    def pay_paths(payments: list) -> list[str]:
        return [f"/integration/pay?id={p.public_id}" for p in payments]

    INIT_BODY = {
        "id": "bench-{n}",
        "customerEmail": "shopper@example.com",
        "amount": "10.00",
        "currency": "USD",
        "successUrl": "https://shop.example/s",
        "errorUrl": "https://shop.example/e",
    }

    def init_script(self) -> str:
        headers = {"Authorization": f"Token {self.token}", "Content-Type": "application/json"}
        return wrk.lua_posts(
            "/api/v1/init-payment", None, headers=headers, template=json.dumps(self.INIT_BODY)
        )

    def init_request(self) -> dict:
        """One init-payment like the script's, as `requests` keyword arguments."""
        body = {**self.INIT_BODY, "id": f"bench-check-{time.time_ns()}"}
        return {"json": body, "headers": {"Authorization": f"Token {self.token}"}}

    def postback_request(self) -> dict:
        """One signed postback like the intake script's, as `requests` keyword arguments."""
        bodies, sigs = self._signed(self.payments(1, in_kv=True))
        headers = {"Content-Type": "application/json", "X-Bansky-Signature": sigs[0]}
        return {"data": bodies[0], "headers": headers}

    def _signed(self, payments: list) -> tuple[list[str], list[str]]:
        from providers.signing import hmac_sha256_hex

        bodies = [
            json.dumps(
                {
                    "id": p.public_id,
                    "reference": p.provider_reference,
                    "status": "paid",
                    "amount": "100.00",
                    "currency": "USD",
                }
            )
            for p in payments
        ]
        return bodies, [hmac_sha256_hex(POSTBACK_SECRET, b.encode()) for b in bodies]

    def postback_script(self, n: int, *, with_merchant_postback: bool) -> str:
        bodies, sigs = self._signed(self.payments(n, in_kv=True, postback=with_merchant_postback))
        return wrk.lua_posts(
            "/api/payment-verify/bansky",
            bodies,
            headers={"Content-Type": "application/json"},
            signatures=sigs,
            signature_header="X-Bansky-Signature",
        )

    # --- processes -------------------------------------------------------------------

    def _start(
        self, name: str, args: list[str], ready_url: str | None = None, cwd: Path | None = None
    ) -> None:
        """Start one process (its log in the run's folder); wait until `ready_url` answers."""
        log = self.tmp / f"{name}.log"
        log.write_bytes(b"")  # a restarted server's log starts afresh
        process = Process(args, env=dict(self.env), log_path=log, cwd=cwd or self.root)
        # Never follow: the redirects point at (fake) outside addresses.
        ready = (lambda: http_answers(ready_url)) if ready_url else None
        try:
            process.start(ready=ready, timeout=60)
        except RuntimeError as error:  # died, or never answered: the helper stopped it
            raise SystemExit(f"{name}: {error}") from None
        self.processes.append((name, process))

    def _web(
        self, name: str, app: str, port: int, ready_path: str, cwd: Path | None = None
    ) -> None:
        """The production web command (scripts/serve.sh web), on a loopback port."""
        self.env["WEB_BIND"] = f"127.0.0.1:{port}"
        args = [str(self.bin / "gunicorn"), app, "-c", "apaygate/gunicorn_conf.py"]
        if SERVER != "asgi":
            # (The WSGI raw app has the KV-hit baseline only.)
            app = {"apaygate.asgi:application": "apaygate.wsgi", "bench.raw:app":
                   "bench.stubs:raw_wsgi"}[app]  # fmt: skip
            args = [str(self.bin / "gunicorn"), app, "--bind", f"127.0.0.1:{port}",
                    "--workers", str(self.web_workers), "--access-logfile", "-"]  # fmt: skip
            if SERVER == "gthread":
                args += ["--threads", os.environ.get("WEB_THREADS", "32")]
        self._start(name, args, f"http://127.0.0.1:{port}{ready_path}", cwd)

    def start_web(self) -> None:
        for name, app, delay in (("prov", "provider_app", 200), ("merch", "merchant_app", 100)):
            self.env["STUB_DELAY_MS"] = str(delay)
            # One process: uvicorn reads WEB_CONCURRENCY (set above for the gateway) as its
            # worker count, and two stub processes split the state: `/control/hang` reached
            # one of them (half the invoices still answered, so the breaker kept closing),
            # and `/stats` saw half the merchant's receipts.
            args = [
                str(self.bin / "uvicorn"),
                f"bench.stubs:{app}",
                "--port",
                str(self.ports[name]),
                # One process: uvicorn takes WEB_CONCURRENCY (set above) as its worker count,
                # and a stub's state (receipts, hang mode) must not be split between processes.
                "--workers",
                "1",
            ]
            self._start(name, [*args, "--log-level", "warning", "--no-access-log"],
                        f"http://127.0.0.1:{self.ports[name]}/stats")  # fmt: skip
        self._web("raw", "bench.raw:app", self.ports["raw"], "/r")
        if self.shopper_raw_url != self.raw_url:
            self.env["WEB_CONCURRENCY"] = str(self.shopper_workers)
            try:
                self._web("rawshop", "bench.raw:app", self.ports["rawshop"], "/r")
            finally:
                self.env["WEB_CONCURRENCY"] = str(self.web_workers)
        self._web("gw", "apaygate.asgi:application", self.ports["gw"], "/integration/pay?id=x")
        if self.shopper_class and SERVER == "asgi":
            self._shopper()

    def _shopper(self) -> None:
        """The shopper process class (`scripts/serve.sh shopper`), its shipped defaults unless
        the caller set SHOPPER_* (its worker count: `shopper_workers`)."""
        env = dict(self.env)
        env.update(
            SHOPPER_BIND=f"127.0.0.1:{self.ports['shop']}",
            SHOPPER_CONCURRENCY=str(self.shopper_workers),
        )
        env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        saved, self.env = self.env, env
        try:
            self._start(
                "shop",
                ["bash", str(self.root / "scripts" / "serve.sh"), "shopper"],
                f"http://127.0.0.1:{self.ports['shop']}/integration/pay?id=x",
            )
        finally:
            self.env = saved

    def restart_gateway(self) -> None:
        """A fresh gateway: its idle pool threads give their database connections back."""
        name, process = next(item for item in self.processes if item[0] == "gw")
        if SERVER != "asgi":
            return
        process.stop(timeout=30)
        self.processes.remove((name, process))
        self._web("gw", "apaygate.asgi:application", self.ports["gw"], "/integration/pay?id=x")

    def start_worker(self, root: Path | None = None) -> None:
        """The production worker and beat commands: `scripts/serve.sh worker|beat` (Procfile).

        The worker runs with the shipped defaults (threads pool, CELERY_WORKER_CONCURRENCY
        16, POSTBACK_POLL_CONCURRENCY 64 senders) unless the caller's environment sets them.
        `root`: another tree's worker (bench/ab.py), run by this tree's virtualenv.
        """
        root = root or self.root
        serve = str(root / "scripts" / "serve.sh")
        saved = dict(self.env)
        for name in ("CELERY_WORKER_CONCURRENCY", "POSTBACK_POLL_CONCURRENCY"):
            if name not in CALLER_ENV:  # not os.environ: prepare() copied self.env into it
                self.env.pop(name, None)
        self.env["CELERY_BEAT_SCHEDULE_FILENAME"] = str(self.tmp / "beat-schedule")
        self.env["PATH"] = f"{self.bin}:{self.env.get('PATH', '')}"
        try:
            self._start("worker", [serve, "worker"], cwd=root)
            self._start("beat", [serve, "beat"], cwd=root)
        finally:
            self.env = saved
        self.worker_concurrency = int(CALLER_ENV.get("CELERY_WORKER_CONCURRENCY", "16"))
        time.sleep(5)

    def stop_worker(self) -> None:
        """Stop the worker and beat (SIGTERM: the relay gives back what it holds)."""
        for name in ("beat", "worker"):
            item = next((i for i in self.processes if i[0] == name), None)
            if item is None:
                continue
            item[1].stop(timeout=30)
            self.processes.remove(item)

    def wait_for_shopper_events_drained(self, timeout: float = 300) -> dict:
        """Wait until the worker has copied the redirect events rows 1-6 left in Redis.

        No worker runs during rows 1-6 (they measure the web alone), so the redirects'
        events wait in the shopper-event stream when the worker starts (at most the 1,000
        `shopper_events_trimmed` keeps, plus what came since its last trim); in production
        the worker drains them as they come. Rows 7-8 are meant to measure
        delivery at that steady state, not behind a backlog of event inserts (measured:
        postback -> receipt p99 3.8 s behind the backlog, 0.36 s without it).
        """
        import redis

        from payments.shopper.event_buffer import stream_key

        client, key = redis.Redis.from_url(REDIS_URL), stream_key()
        waiting, started = client.xlen(key), time.monotonic()
        while client.xlen(key) and time.monotonic() - started < timeout:
            time.sleep(0.5)
        seconds = time.monotonic() - started
        return {"events": waiting, "seconds": round(seconds, 1), "left": client.xlen(key)}

    @contextlib.contextmanager
    def shopper_events_trimmed(self, keep: int = 1000, every: float = 0.2):
        """Keep the shopper-event stream short while the block runs, as a draining worker would.

        No worker runs during the web rows, so nothing drains the stream the redirects
        append to; at its bound (SHOPPER_EVENTS_MAX, 100,000: ten seconds of KV hits on a
        fast machine) every redirect would take the full-stream path (Django, a database
        INSERT), a state production reaches only with a stalled worker. A thread trims it
        to its newest `keep` entries every `every` seconds instead (XADD costs Redis the
        same at any length); the events are the bench's own, nobody reads them.
        """
        import redis

        from payments.shopper.event_buffer import stream_key

        client, key, stop = redis.Redis.from_url(REDIS_URL), stream_key(), threading.Event()

        def trim():
            while not stop.wait(every):
                client.xtrim(key, maxlen=keep)

        thread = threading.Thread(target=trim, daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def gateway_cpu_seconds(self) -> float:
        return self.cpu_seconds("gw")

    def cpu_seconds(self, name: str) -> float:
        """CPU time (user + system) used so far by one server's processes (Linux /proc):
        `gw` the gateway, `shop` the shopper process class, `raw` the raw baseline app
        (`rawshop`: the one at the shopper class's worker count, when started).

        On a shared machine the rates swing with the neighbours' load; the gateway's own
        CPU per request does much less, so the rows report it beside the rates.
        """
        _name, master = next(item for item in self.processes if item[0] == name)
        ticks = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue  # the process ended meanwhile
            # After the command: state, ppid, pgrp (index 2), ..., utime (11), stime (12).
            if int(fields[2]) == master.pid:
                ticks += int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")

    def expect_status(
        self, method: str, path: str, status: int, *, base: str | None = None, **kwargs
    ) -> None:
        """Fail the run if one request of a row's kind is not answered `status`.

        wrk counts only 4xx/5xx as errors: a row whose requests all got an unexpected
        3xx (or a 200 instead of a 302) would otherwise be measured and printed as if fine.
        """
        response = requests.request(
            method, f"{base or self.gateway_url}{path}", allow_redirects=False, timeout=10, **kwargs
        )
        if response.status_code != status:
            raise SystemExit(
                f"{method} {path}: expected {status}, got {response.status_code} "
                f"{response.headers.get('location', '')} {response.text[:200]}"
            )

    def provider_mode(self, mode: str) -> None:
        requests.post(f"http://127.0.0.1:{self.ports['prov']}/control/{mode}", timeout=5)

    def breaker_recovers(self) -> bool:
        """After the reset period, do init-payments succeed again (every process probes)?"""
        time.sleep(BREAKER_RESET + 0.5)
        headers = {"Authorization": f"Token {self.token}"}
        body = {"customerEmail": "a@example.com", "amount": "1.00", "currency": "USD",
                "successUrl": "https://s.example/s", "errorUrl": "https://s.example/e"}  # fmt: skip
        codes = [
            requests.post(f"{self.gateway_url}/api/v1/init-payment", json=body, headers=headers,
                          allow_redirects=False, timeout=5).status_code
            for _ in range(6 * self.web_workers)
        ]  # fmt: skip
        return all(code == 201 for code in codes[-2 * self.web_workers :])

    # --- end to end ------------------------------------------------------------------

    def _receipts(self) -> dict:
        url = f"http://127.0.0.1:{self.ports['merch']}/stats"
        return requests.get(url, timeout=30).json()["receipts"]

    def postbacks_end_to_end(self, *, rate: int, seconds: float) -> dict:
        payments = self.payments(int(rate * seconds), in_kv=True, postback=True)
        bodies, sigs = self._signed(payments)
        sent: dict[str, float] = {}
        url = f"{self.gateway_url}/api/payment-verify/bansky"
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=16))

        def send(i: int) -> None:
            # As behind the TLS-terminating proxy (production settings redirect plain http).
            headers = {"Content-Type": "application/json", "X-Bansky-Signature": sigs[i],
                       "X-Forwarded-Proto": "https"}  # fmt: skip
            sent[payments[i].public_id] = time.time()
            session.post(url, data=bodies[i], headers=headers, timeout=10, allow_redirects=False)

        start = time.monotonic()
        with ThreadPoolExecutor(max_workers=16) as pool:
            for i in range(len(payments)):
                time.sleep(max(0.0, start + i / rate - time.monotonic()))
                pool.submit(send, i)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            receipts = self._receipts()
            if all(pid in receipts for pid in sent):
                break
            time.sleep(0.5)
        got = [(receipts[p] - t) * 1000 for p, t in sent.items() if p in receipts]
        # Where the time went: the provider's postback until its outbox row was committed
        # (the web), and from there to the merchant (broker, worker, relay).
        from payments.models import PostbackDelivery

        stored = dict(PostbackDelivery.objects.filter(payment__in=payments).values_list(
            "payment__public_id", "created_at"))  # fmt: skip
        intake = [(stored[p].timestamp() - t) * 1000 for p, t in sent.items() if p in stored]
        relay = [(receipts[p] - stored[p].timestamp()) * 1000 for p in sent
                 if p in stored and p in receipts]  # fmt: skip
        return {"p50_ms": _quantile(got, 0.5), "p99_ms": _quantile(got, 0.99),
                "intake_p99_ms": round(_quantile(intake, 0.99), 1),
                "delivery_p99_ms": round(_quantile(relay, 0.99), 1), "received": len(got),
                "sent": len(sent), "errors": len(sent) - len(got), "rps": rate}  # fmt: skip

    def relay(self, *, count: int) -> dict:
        """Write `count` due deliveries at once and time the worker until all are recorded.

        Nothing else drives it: the worker's relay finds them (its scan and beat's
        dispatcher), so the figure is what the shipped worker does with a backlog. The
        baseline is bare keep-alive POSTs from as many threads as the relay has senders.
        """
        from django.utils import timezone

        from payments.delivery.wire import delivery_payload, webhook_id_generate
        from payments.models import DeliveryStatus, PostbackDelivery

        payments = self.payments(count, in_kv=False, postback=True, status="succeeded")
        now = timezone.now()
        start = time.monotonic()
        ids = [d.pk for d in PostbackDelivery.objects.bulk_create(
            [PostbackDelivery(payment=p, webhook_id=webhook_id_generate(), url=p.postback_url,
                              event="payment.succeeded", next_attempt_at=now,
                              payload=delivery_payload(payment=p, event="payment.succeeded"))
             for p in payments], batch_size=2000)]  # fmt: skip
        ours = PostbackDelivery.objects.filter(pk__gte=min(ids), pk__lte=max(ids))  # a range:
        pending = ours.filter(status=DeliveryStatus.PENDING)  # cheap to ask ten times a second
        while time.monotonic() - start < 120 and pending.exists():
            time.sleep(0.1)
        elapsed = time.monotonic() - start
        delivered = ours.filter(status=DeliveryStatus.SUCCEEDED).count()

        senders = int(CALLER_ENV.get("POSTBACK_POLL_CONCURRENCY", "64"))
        session = requests.Session()
        session.mount("http://", requests.adapters.HTTPAdapter(pool_maxsize=senders))
        bare_n = min(count, 3000)
        bare_start = time.monotonic()
        with ThreadPoolExecutor(max_workers=senders) as pool:
            list(pool.map(lambda _i: session.post(self.merchant_url, data=b"{}", timeout=10),
                          range(bare_n)))  # fmt: skip
        bare = bare_n / (time.monotonic() - bare_start)
        return {"rps": delivered / elapsed, "delivered": delivered, "bare_rps": bare,
                "senders": senders, "errors": len(ids) - delivered}  # fmt: skip

    # --- bookkeeping -----------------------------------------------------------------

    def stop(self) -> None:
        stop_all([process for _name, process in reversed(self.processes)], timeout=20)

    def log_tail(self, name: str | None = None) -> str:
        names = [name] if name else [n for n, _p in self.processes]
        out = []
        for n in names:
            lines = (self.tmp / f"{n}.log").read_text(errors="replace").splitlines()
            errors = [ln for ln in lines if "Error" in ln or "Traceback" in ln][-5:]
            if errors:
                out.append(f"--- {n} ({self.tmp / f'{n}.log'}):\n" + "\n".join(errors))
        return "\n".join(out)

    def describe(self) -> str:
        return (
            f"{os.cpu_count()} CPUs; web ({SERVER}): gunicorn, {self.web_workers} workers; "
            f"worker: threads x {self.worker_concurrency}; "
            + (
                f"shopper class: {self.shopper_workers} workers on :{self.ports['shop']} "
                "(redirect rows; their raw baseline with as many); "
                if self.shopper_class
                else "redirect rows on the web process; "
            )
            + f"PostgreSQL + Redis on loopback; provider stub {200} ms, merchant stub {100} ms"
        )
