""".env.example copied as it is, with only the REQUIRED SECRET_KEY filled in, starts the
gateway: every empty value means unset (`METABASE_DASHBOARD_ID=` used to fail settings)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.gateway import _database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def _copied_env(tmp_path: Path, *, secret_key: str) -> Path:
    text = (ROOT / ".env.example").read_text()
    assert "\nSECRET_KEY=\n" in text  # the one REQUIRED value, empty in the example
    copy = tmp_path / ".env"
    copy.write_text(text.replace("\nSECRET_KEY=\n", f"\nSECRET_KEY={secret_key}\n"))
    return copy


def _environment(env_file: Path, **extra: str) -> dict[str, str]:
    # Only what a shell has, plus the file: none of the suite's settings variables.
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TMPDIR")}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "apaygate.settings",
        "ENV_FILE": str(env_file),
        **extra,
    }


def test_the_example_with_its_secret_key_filled_in_passes_the_checks(tmp_path):
    env = _environment(_copied_env(tmp_path, secret_key="k" * 50))

    proc = subprocess.run(
        [sys.executable, "manage.py", "check"], cwd=ROOT, env=env, capture_output=True, text=True
    )

    assert proc.returncode == 0, proc.stderr[-2000:]


def test_the_example_as_it_is_names_the_one_missing_value(tmp_path):
    copy = tmp_path / ".env"
    copy.write_text((ROOT / ".env.example").read_text())

    proc = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=ROOT,
        env=_environment(copy),
        capture_output=True,
        text=True,
    )

    assert proc.returncode != 0
    assert proc.stderr.strip().splitlines()[-1] == (
        "configuration error: SECRET_KEY must be set when DEBUG is off"
    )


@pytest.mark.django_db(transaction=True)
def test_the_web_server_starts_from_the_example(tmp_path):
    port = free_port()
    env = _environment(
        _copied_env(tmp_path, secret_key="k" * 50),
        # The suite's own database instead of the example's; the environment wins over .env.
        DATABASE_URL=_database_url(),
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        WEB_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="1",
    )
    log = (tmp_path / "web.log").open("w")
    process = subprocess.Popen(
        [GUNICORN, "apaygate.asgi:application", "-c", "apaygate/gunicorn_conf.py"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        answer = None
        while time.monotonic() < deadline and answer is None:
            assert process.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except requests.RequestException:
                time.sleep(0.3)
    finally:
        process.terminate()
        process.wait(timeout=30)

    assert answer is not None and answer.status_code == 200, (tmp_path / "web.log").read_text()
