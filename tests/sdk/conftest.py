"""Fixtures for the SDK suites: a live gateway with the sandbox and a real Celery worker."""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest

from tests.sdk.gateway import SDK_TS, WORKER_SETTINGS, Celery, Gateway, last_line
from tests.support.processes import wait_until

# scripts/test.sh runs `scripts/test-sdk.sh --install` beside pytest rather than before it,
# and names the file where that install writes its exit status once it ends (its output
# goes to the same path plus ".log"). Without it (a plain pytest run) the SDK must be built.
SDK_INSTALL_STATUS = os.environ.get("SDK_INSTALL_STATUS", "")
SDK_INSTALL_TIMEOUT = 900.0


def wait_for_sdk_install() -> None:
    """Wait until scripts/test.sh's SDK install (npm ci, build) has ended; fail if it failed."""
    if not SDK_INSTALL_STATUS:
        return
    status = Path(SDK_INSTALL_STATUS)
    if not wait_until(status.exists, timeout=SDK_INSTALL_TIMEOUT, interval=0.5):
        pytest.fail(f"scripts/test-sdk.sh --install did not end within {SDK_INSTALL_TIMEOUT:.0f} s")
    if status.read_text().strip() != "0":
        log = Path(f"{SDK_INSTALL_STATUS}.log")
        output = log.read_text(errors="replace")[-4000:] if log.exists() else ""
        pytest.fail(f"scripts/test-sdk.sh --install failed:\n{output}")


def require_node_modules(folder) -> None:
    wait_for_sdk_install()
    if shutil.which("node") is None:
        pytest.fail("node is not installed (Node 18+ is needed for the TypeScript SDK tests)")
    if not (folder / "node_modules").is_dir():
        pytest.fail(f"{folder}/node_modules is missing: run `bash scripts/test-sdk.sh --install`")


@pytest.fixture
def sdk_built():
    """The TypeScript SDK's dist/, which the Node tests and the examples import."""
    require_node_modules(SDK_TS)
    if not (SDK_TS / "dist" / "index.js").exists():
        pytest.fail("sdk/typescript/dist is missing: run `bash scripts/test-sdk.sh --install`")
    return SDK_TS


@pytest.fixture
def gateway(live_server, settings, transactional_db, tmp_path):
    """The gateway at live_server.url, a sandbox merchant, its test token, worker and beat."""
    settings.PUBLIC_BASE_URL = live_server.url
    settings.SANDBOX_ENABLED = True
    settings.DEBUG = True  # http:// return and postback URLs on 127.0.0.1
    for name, value in WORKER_SETTINGS.items():
        setattr(settings, name, value)
    slug = f"sdk-{uuid.uuid4().hex[:8]}"
    secret = last_line("create_merchant", slug, "--name", "SDK Shop", "--provider", "sandbox")
    token = last_line("issue_token", slug, "--test", "--label", "sdk tests")
    assert secret.startswith("whsec_")
    celery = Celery(broker_url=settings.CELERY_BROKER_URL, tmp=tmp_path)
    celery.start()
    yield Gateway(url=live_server.url, token=token, postback_secret=secret, celery=celery)
    celery.stop()
