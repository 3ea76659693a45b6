"""A live gateway for the SDK suites: pytest-django's live_server, a real Celery worker and
beat on the suite's Redis, a sandbox merchant and its test token.

Kept apart from tests/support/gateway.py on purpose: only the management commands
(the CLI contract in DESIGN.md) and settings are used, so moving the gateway's modules
around does not break the SDK tests.
"""

from __future__ import annotations

import io
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.processes import STARTUP_TIMEOUT, Process

ROOT = Path(__file__).resolve().parents[2]
SDK_TS = ROOT / "sdk" / "typescript"
SDK_PY = ROOT / "sdk" / "python"
EXAMPLES = ROOT / "examples"
CELERY = str(Path(sys.executable).with_name("celery"))

WORKER_SETTINGS = {
    "POSTBACK_ALLOW_PRIVATE": True,
    "POSTBACK_TIMEOUT": 5.0,
    "POSTBACK_ATTEMPT_LEASE": 8.0,
    "POSTBACK_QUEUE_LEASE": 3.0,
    "POSTBACK_RETRY_SCHEDULE": [0, 1, 1, 1, 1, 1, 1, 1],
    "POSTBACK_RETRY_JITTER": 0.1,
}


def database_url() -> str:
    from django.db import connection

    s = connection.settings_dict
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@dataclass
class Celery:
    """Worker and beat subprocesses, each in its own process group (tests/support/processes.py)."""

    broker_url: str
    tmp: Path
    processes: list[Process] = field(default_factory=list)

    def _env(self) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.sdk.worker_settings",
                "PYTHONPATH": str(ROOT),
                "DATABASE_URL": database_url(),
                "CELERY_BROKER_URL": self.broker_url,
                "POSTBACK_DISPATCH_INTERVAL": "0.5",
                "EXPIRY_INTERVAL": "3600",
                "BIGQUERY_EXPORT_INTERVAL": "3600",
            }
        )
        return env

    def _start(self, name: str, args: list[str], ready: str) -> None:
        process = Process(
            [CELERY, "-A", "apaygate.celery:app", *args],
            env=self._env(),
            log_path=self.tmp / f"{name}.log",
        )
        self.processes.append(process)
        try:
            process.start(ready=ready, timeout=STARTUP_TIMEOUT)
        except RuntimeError as error:
            raise RuntimeError(f"celery {name} did not start:\n{self.logs()}") from error

    def start(self) -> None:
        self._start(
            "worker",
            [
                "worker",
                "--pool",
                "threads",
                "--concurrency",
                "4",
                "-n",
                f"sdk-{uuid.uuid4().hex[:8]}@%h",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
            ],
            "ready.",
        )
        self._start(
            "beat",
            ["beat", "--loglevel", "INFO", "-s", str(self.tmp / "beat-schedule"), "--pidfile="],
            "beat: Starting",
        )

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.log_path.name}\n{p.log_text()[-4000:]}" for p in self.processes if p.log_path
        )


@dataclass(frozen=True)
class Gateway:
    url: str
    token: str
    postback_secret: str
    celery: Celery

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            {
                "GATEWAY_URL": self.url,
                "APAYGATE_TOKEN": self.token,
                "POSTBACK_SECRET": self.postback_secret,
                **extra,
            }
        )
        return env


def last_line(command: str, *args: str) -> str:
    """Run a management command and return its last line of stdout (the CLI contract)."""
    from django.core.management import call_command

    out = io.StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().strip().splitlines()[-1].strip()


def run(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: int = 300):
    """Run a suite in a subprocess; fail the test with its output unless it exits 0."""
    proc = subprocess.run(
        args,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    return proc


def explain(proc: subprocess.CompletedProcess, extra: str = "") -> str:
    return (
        f"{' '.join(map(str, proc.args))} exited {proc.returncode}\n"
        f"--- stdout\n{proc.stdout[-12000:]}\n--- stderr\n{proc.stderr[-6000:]}\n{extra}"
    )
