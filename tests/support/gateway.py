"""Fixtures for postback tests: a merchant receiver on loopback, real Celery processes.

The receiver is a tiny `http.server` in a thread that checks every postback's signature
with the `standardwebhooks` library (the one merchants use), and answers from a script.
The worker and beat are real `celery` subprocesses on a real Redis broker, using the test
database (tests that use them need `transactional_db`, since another process reads it).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from standardwebhooks import Webhook, WebhookVerificationError

from tests.support.processes import (
    STARTUP_TIMEOUT,
    Process,
    free_port,
    port_open,
    stop_all,
    wait_until,
)

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).with_name("celery"))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    verified_with: list[str]

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A merchant endpoint: records requests, verifies signatures, answers from `script`."""

    secrets: list[str] = field(default_factory=list)
    # Each entry: (status, headers, body) or a callable(Received) -> that tuple.
    script: list = field(default_factory=list)
    requests: list[Received] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    port: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/postback"

    def url_for(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float) -> bool:
        return wait_until(lambda: len(self.requests) >= count, timeout=timeout)


def _handler_for(receiver: Receiver):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):  # keep test output quiet
            pass

        def _answer(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            verified = []
            for secret in receiver.secrets:
                with contextlib.suppress(WebhookVerificationError):
                    Webhook(secret).verify(body, headers)
                    verified.append(secret)
            item = Received(path=self.path, headers=headers, body=body, verified_with=verified)
            receiver.requests.append(item)
            receiver.arrived.set()
            step = receiver.script.pop(0) if receiver.script else (200, {}, b"ok")
            if callable(step):
                step = step(item)
            status, extra, payload = step
            self.send_response(status)
            for name, value in extra.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_POST = _answer
        do_GET = _answer

    return Handler


@pytest.fixture
def receiver():
    rec = Receiver()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(rec))
    server.daemon_threads = True
    rec.port = server.server_address[1]
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    yield rec
    rec.release.set()
    server.shutdown()
    server.server_close()


def hang_until_released(receiver: Receiver, *, limit: float = 60.0):
    """A script step that holds the request open (an attempt in flight) until released."""

    def step(_item):
        receiver.release.wait(limit)
        return (200, {}, b"late")

    return step


# --- real Celery processes --------------------------------------------------------------


def _database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


# A `celery worker` or `celery beat` subprocess: the suite's one process helper.
CeleryProcess = Process
# What each writes to its log once it is up.
WORKER_READY = "ready."
BEAT_READY = "beat: Starting"


@dataclass
class CeleryStack:
    """Worker and beat factory sharing one broker, database and settings."""

    broker_url: str
    tmp: Path
    processes: list[Process] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.payments.delivery.worker_settings",
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": _database_url(),
                "CELERY_BROKER_URL": self.broker_url,
                "POSTBACK_DISPATCH_INTERVAL": "0.5",
                "EXPIRY_INTERVAL": "3600",
                "BIGQUERY_EXPORT_INTERVAL": "3600",
                "LOG_LEVEL": "INFO",
            }
        )
        env.update(self.extra_env)
        return env

    def worker(self, *, concurrency: int = 4, name: str = "") -> Process:
        """Start a worker; under the `name` of a dead one, it takes over that one's claims."""
        return self._worker(concurrency=concurrency, name=name).start(
            ready=WORKER_READY, timeout=STARTUP_TIMEOUT
        )

    def beat(self) -> Process:
        return self._beat().start(ready=BEAT_READY, timeout=STARTUP_TIMEOUT)

    def worker_and_beat(self, *, concurrency: int = 4) -> tuple[Process, Process]:
        """Start a worker and beat side by side (each spends seconds importing Django and
        Celery), then wait for both."""
        worker = self._worker(concurrency=concurrency).start()
        beat = self._beat().start()
        return worker.wait_ready(WORKER_READY), beat.wait_ready(BEAT_READY)

    def _worker(self, *, concurrency: int, name: str = "") -> Process:
        name = name or f"test-{uuid.uuid4().hex[:8]}@%h"
        args = [
            CELERY,
            "-A",
            "apaygate.celery:app",
            "worker",
            "--pool",
            "threads",
            "--concurrency",
            str(concurrency),
            "-n",
            name,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
        ]
        process = Process(args, env=self._env(), log_path=self.tmp / "worker.log")
        self.processes.append(process)
        return process

    def _beat(self) -> Process:
        args = [
            CELERY,
            "-A",
            "apaygate.celery:app",
            "beat",
            "--loglevel",
            "INFO",
            "-s",
            str(self.tmp / "celerybeat-schedule"),
            "--pidfile=",
        ]
        process = Process(args, env=self._env(), log_path=self.tmp / "beat.log")
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        """Stop the worker(s) and beat together: their graceful stops overlap."""
        stop_all(self.processes)

    def logs(self) -> str:
        return "\n".join(
            p.log_text()[-4000:] for p in {p.log_path: p for p in self.processes}.values()
        )


WORKER_SETTINGS = {
    "POSTBACK_ALLOW_PRIVATE": True,
    "POSTBACK_TIMEOUT": 2.0,
    "POSTBACK_ATTEMPT_LEASE": 4.0,
    "POSTBACK_QUEUE_LEASE": 3.0,
    "POSTBACK_RETRY_SCHEDULE": [0, 1, 1, 1, 1, 1, 1, 1, 1, 1],
    "POSTBACK_RETRY_JITTER": 0.1,
}


@pytest.fixture
def worker_settings(settings):
    """Make the test process agree with the worker (tests/payments/delivery/worker_settings.py)."""
    for name, value in WORKER_SETTINGS.items():
        setattr(settings, name, value)
    return settings


@contextlib.contextmanager
def celery_broker(url: str):
    """Point this process's Celery app (the publisher) at another broker for a while.

    The app's connection and producer pools come from kombu's process-wide registry
    (`kombu.pools`), one per broker URL, which hands the same pool back for the same URL.
    Closing a pool leaves it there closed ("Acquire on closed pool" for every later
    publish to that URL, here the suite's broker), so `kombu.pools.reset()` closes the
    pools and empties the registry: the next publish opens fresh ones.
    """
    from kombu import pools

    from apaygate.celery import app

    def reset():
        pools.reset()
        app._pool = None
        app.amqp._producer_pool = None

    old = app.conf.broker_url
    reset()
    app.conf.broker_url = url
    try:
        yield
    finally:
        reset()
        app.conf.broker_url = old


@pytest.fixture
def celery_stack(transactional_db, worker_settings, tmp_path):
    """Worker and beat on the suite's Redis (REDIS_URL); stopped after the test."""
    from django.conf import settings

    stack = CeleryStack(broker_url=settings.CELERY_BROKER_URL, tmp=tmp_path)
    yield stack
    stack.stop_all()


@dataclass
class RedisServer:
    port: int
    # With a folder, Redis keeps an append-only file there (fsync always), so a kill -9
    # and restart brings the data back, as production's AOF does.
    aof_dir: Path | None = None
    process: Process | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (
            ["--appendonly", "yes", "--appendfsync", "always", "--dir", str(self.aof_dir)]
            if self.aof_dir
            else ["--appendonly", "no"]
        )
        args = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        self.process = Process([*args, *persistence, "--daemonize", "no"])
        self.process.start(ready=lambda: port_open(self.port), timeout=10)

    def stop(self) -> None:
        """`kill -9`: an outage, not a shutdown (nothing is saved on the way out)."""
        if self.process is not None:
            self.process.kill()


@pytest.fixture
def own_redis():
    """A private redis-server on a free port, so a test may stop it without hurting others."""
    server = RedisServer(port=free_port())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def own_redis_aof(tmp_path):
    """A private redis-server with an append-only file: killed and restarted, it keeps its data."""
    folder = tmp_path / "redis-aof"
    folder.mkdir()
    server = RedisServer(port=free_port(), aof_dir=folder)
    server.start()
    yield server
    server.stop()
