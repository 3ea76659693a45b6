"""One configuration rule everywhere: the caller's environment wins over `.env`.

`make run` writes `.env` with development values (POSTBACK_ALLOW_PRIVATE=true among them);
a variable set by the caller must still win under `make run`'s processes (honcho must not
load `.env` over it) and under `manage.py` in another shell. Observed from outside: over
HTTP for `make run`, and in a subprocess's settings for `manage.py`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from scripts import dotenv_init
from tests.support.gateway import _database_url
from tests.support.processes import ROOT, Process, free_port, port_open, wait_until

pytestmark = pytest.mark.worker
START_TIMEOUT = 120.0


def checkout_copy(target: Path) -> Path:
    """This checkout's files as they are now (tracked and new, not ignored), with its .venv."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, (n.decode() for n in listed)):
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv").symlink_to(ROOT / ".venv")
    return target


def init_payment(port: int, token: str, postback_url: str) -> tuple[int, dict]:
    body = {
        "id": "env-wins-1",
        "amount": 10,
        "currency": "USD",
        "successUrl": "https://shop.example/success",
        "errorUrl": "https://shop.example/error",
        "postbackUrl": postback_url,
    }
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/init-payment",
        data=json.dumps(body).encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


@pytest.mark.django_db(transaction=True)
def test_make_run_lets_the_environment_override_dotenv(tmp_path):
    # given a checkout whose .env (as make run writes it) allows private postback URLs
    checkout = checkout_copy(tmp_path / "apaygate")
    dotenv_path = checkout / ".env"
    port = free_port()
    original = dotenv_init.DOTENV
    try:
        dotenv_init.DOTENV = dotenv_path
        dotenv_init.main(["dotenv_init.py", str(port)])
    finally:
        dotenv_init.DOTENV = original
    assert dotenv_init.read(dotenv_path)["POSTBACK_ALLOW_PRIVATE"] == "true"

    # when make run's script starts with POSTBACK_ALLOW_PRIVATE=false in its environment
    # (the test database, already migrated, instead of a new SQLite file)
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env.update(POSTBACK_ALLOW_PRIVATE="false", DATABASE_URL=_database_url(), LOG_LEVELS="", PORT="")
    run = Process(["bash", "scripts/run.sh"], env=env, log_path=tmp_path / "run.log", cwd=checkout)
    with run.start():
        up = wait_until(lambda: port_open(port), timeout=START_TIMEOUT, failure=run.exited)
        assert up, run.log_text()[-4000:]
        token = (checkout / ".run" / "demo-token").read_text().split()[-1]

        # then its web process refuses a loopback postback URL, as the environment says
        status, answer = init_payment(port, token, "http://127.0.0.1:9/postback")

    assert status == 400, (answer, run.log_text()[-3000:])
    assert "private, loopback" in answer["errors"]["postbackUrl"][0]


def test_manage_py_lets_the_environment_override_dotenv(tmp_path):
    dotenv_path = tmp_path / ".env"
    dotenv_path.write_text("SECRET_KEY=from-dotenv\nPOSTBACK_ALLOW_PRIVATE=true\nDEBUG=true\n")
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env.update(ENV_FILE=str(dotenv_path), POSTBACK_ALLOW_PRIVATE="false", DEBUG="false")

    shown = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "-c",
            "from django.conf import settings as s; "
            "print(s.POSTBACK_ALLOW_PRIVATE, s.DEBUG, s.SECRET_KEY)",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1].split() == ["False", "False", "from-dotenv"]
