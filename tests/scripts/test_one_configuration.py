"""`make run` writes one configuration (.env) that `manage.py` in another shell reads too."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from scripts import dotenv_init

ROOT = Path(__file__).resolve().parents[2]


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture
def second_shell_env(tmp_path, monkeypatch) -> tuple[dict, Path]:
    """The environment of a second shell beside `make run`: nothing set but the .env file."""
    dotenv = tmp_path / ".env"
    monkeypatch.setattr(dotenv_init, "DOTENV", dotenv)
    env = {k: v for k, v in os.environ.items() if k in {"PATH", "HOME", "LANG"}}
    env["ENV_FILE"] = str(dotenv)
    return env, dotenv


def test_first_start_writes_a_dotenv_with_a_secret_and_its_port(second_shell_env):
    _env, dotenv = second_shell_env

    port = dotenv_init.main(["dotenv_init.py", "9123"])

    values = dotenv_init.read(dotenv)
    assert port == "9123"
    assert values["PUBLIC_BASE_URL"] == "http://127.0.0.1:9123"
    assert len(values["SECRET_KEY"]) >= 50
    assert oct(dotenv.stat().st_mode & 0o777) == "0o600"
    # a second start keeps the secret (sessions and invite links stay valid)
    dotenv_init.main(["dotenv_init.py", ""])
    assert dotenv_init.read(dotenv)["SECRET_KEY"] == values["SECRET_KEY"]


def test_manage_py_in_a_second_shell_reads_the_same_configuration(second_shell_env):
    env, dotenv = second_shell_env
    dotenv_init.main(["dotenv_init.py", "9124"])
    values = dotenv_init.read(dotenv)

    shown = manage(
        "shell",
        "-c",
        "from django.conf import settings; print(settings.PUBLIC_BASE_URL, settings.SECRET_KEY)",
        env=env,
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines()[-1].split() == [
        values["PUBLIC_BASE_URL"],
        values["SECRET_KEY"],
    ]


def test_a_missing_secret_key_stops_start_up_with_one_line(second_shell_env):
    env, _dotenv = second_shell_env  # no .env written: production defaults

    answer = manage("check", env=env)

    assert answer.returncode != 0
    assert answer.stderr.strip() == "configuration error: SECRET_KEY must be set when DEBUG is off"
    assert "Traceback" not in answer.stderr
