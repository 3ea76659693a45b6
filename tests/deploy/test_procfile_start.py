"""A fresh deploy starts: each Procfile command, run from a clean clone with only the
documented environment, comes up (web answers /healthz, the worker is ready, beat ticks).

The clone has no `.run/` folder, no `.env` and no static files: what a new machine has.
"""

from __future__ import annotations

import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support.gateway import ROOT, _database_url
from tests.support.processes import Process, free_port, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

START_TIMEOUT = 40.0


def _procfile(clone: Path) -> dict[str, str]:
    lines = (clone / "Procfile").read_text().splitlines()
    return dict(line.split(": ", 1) for line in lines if line.strip() and not line.startswith("#"))


@pytest.fixture
def clone(tmp_path) -> Path:
    """`git clone` of this checkout's committed tree."""
    target = tmp_path / "apaygate"
    subprocess.run(["git", "clone", "--quiet", str(ROOT), str(target)], check=True)
    assert not (target / ".run").exists()
    return target


@pytest.fixture
def deploy_env(own_redis) -> dict[str, str]:
    """The documented environment only (.env.example), plus PATH to the installed venv."""
    return {
        "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
        "SECRET_KEY": "procfile-test-secret-0123456789-abcdefghijklmnopqrstuvwxyz",
        "DATABASE_URL": _database_url(),
        "REDIS_URL": own_redis.url,
        "PORT": str(free_port()),
        "WEB_CONCURRENCY": "1",
        "CELERY_WORKER_CONCURRENCY": "2",
        "POSTBACK_DISPATCH_INTERVAL": "0.5",
    }


def _running(command: str, *, cwd: Path, env: dict[str, str], log: Path) -> Process:
    return Process(["bash", "-c", f"exec {command}"], env=env, log_path=log, cwd=cwd).start()


def _wait_for(check, *, proc: Process, log: Path) -> None:
    up = wait_until(check, timeout=START_TIMEOUT, interval=0.2, failure=proc.exited)
    assert up, f"not up in {START_TIMEOUT}s:\n{log.read_text(errors='replace')[-3000:]}"


def _healthz(port: str) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def test_web_starts_from_a_fresh_clone_and_answers_healthz(clone, deploy_env, tmp_path):
    log = tmp_path / "web.log"
    with _running(_procfile(clone)["web"], cwd=clone, env=deploy_env, log=log) as proc:
        _wait_for(lambda: _healthz(deploy_env["PORT"]), proc=proc, log=log)


def test_worker_starts_from_a_fresh_clone(clone, deploy_env, tmp_path):
    log = tmp_path / "worker.log"
    with _running(_procfile(clone)["worker"], cwd=clone, env=deploy_env, log=log) as proc:
        _wait_for(lambda: b"ready." in log.read_bytes(), proc=proc, log=log)


def test_beat_starts_from_a_fresh_clone_and_ticks(clone, deploy_env, tmp_path):
    log = tmp_path / "beat.log"
    with _running(_procfile(clone)["beat"], cwd=clone, env=deploy_env, log=log) as proc:
        _wait_for(
            lambda: b"Sending due task dispatch-due-postbacks" in log.read_bytes(),
            proc=proc,
            log=log,
        )
    assert list((clone / ".run").glob("celerybeat-schedule*"))
