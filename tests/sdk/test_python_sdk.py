"""The Python SDK's own suite, run in a subprocess where the gateway's root is not on
sys.path (the gateway has a Django package also called `apaygate`)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tests.sdk.gateway import SDK_PY, explain, run


def sdk_pytest(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    # -P: do not put the working directory on sys.path; PYTHONPATH=src: import the SDK from
    # its source; rootdir sdk/python: its own pytest configuration; no plugins from the
    # gateway's venv (Django, schemathesis, hypothesis...): the SDK's suite needs none, as in
    # a merchant's environment, and loading them took most of a 14 s run.
    base = dict(env if env is not None else os.environ)
    base["PYTHONPATH"] = str(SDK_PY / "src")
    base["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    base.pop("DJANGO_SETTINGS_MODULE", None)
    return run(
        [
            sys.executable,
            "-P",
            "-m",
            "pytest",
            "--rootdir",
            str(SDK_PY),
            "-c",
            str(SDK_PY / "pyproject.toml"),
            *args,
        ],
        cwd=SDK_PY,
        env=base,
    )


def passed(proc: subprocess.CompletedProcess) -> int:
    match = re.search(r"(\d+) passed", proc.stdout)
    return int(match.group(1)) if match else 0


def test_python_sdk_unit_tests_pass():
    proc = sdk_pytest("-q", "-m", "not live")
    assert proc.returncode == 0, explain(proc)
    assert passed(proc) >= 25, explain(proc)


@pytest.mark.worker
def test_python_sdk_against_a_live_gateway_with_the_sandbox(gateway):
    proc = sdk_pytest("-q", "-m", "live", env=gateway.env())
    assert proc.returncode == 0, explain(proc, gateway.celery.logs())
    assert "skipped" not in proc.stdout, explain(proc)
    assert passed(proc) == 9, explain(proc)  # every live test ran (retry, outage included)


def test_python_sdk_builds_a_wheel_with_py_typed(tmp_path):
    # uv (which `make` installs) builds it as a merchant's CI would: an isolated build env.
    uv = SDK_PY.parents[1] / ".uv" / "bin" / "uv"
    proc = run(
        [str(uv), "build", "--wheel", "--out-dir", str(tmp_path), str(SDK_PY)],
        cwd=tmp_path,
    )
    assert proc.returncode == 0, explain(proc)
    wheels = list(tmp_path.glob("apaygate-1.0.0-*.whl"))
    assert len(wheels) == 1, explain(proc)
    import zipfile

    names = zipfile.ZipFile(wheels[0]).namelist()
    assert "apaygate/py.typed" in names
    assert "apaygate/_verify.py" in names
    assert not any(n.startswith(("payments/", "tests/")) for n in names)
