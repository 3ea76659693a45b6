"""Fixtures for the SDK suites: a live gateway with the sandbox and a real Celery worker."""

from __future__ import annotations

import shutil
import uuid

import pytest

from tests.sdk.gateway import SDK_TS, WORKER_SETTINGS, Celery, Gateway, last_line


def require_node_modules(folder) -> None:
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
