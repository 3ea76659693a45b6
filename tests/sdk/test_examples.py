"""The examples build, type-check and run in workerd (the worker example also runs on the
gateway's real postbacks, in test_typescript_sdk.py)."""

from __future__ import annotations

import pytest

from tests.sdk.conftest import require_node_modules
from tests.sdk.gateway import EXAMPLES, explain, run

# Builds write into the examples' folders (.svelte-kit/, dist/): one xdist worker runs them all.
pytestmark = pytest.mark.xdist_group("examples")

SVELTEKIT = EXAMPLES / "sveltekit"
WORKER = EXAMPLES / "cloudflare-worker"


@pytest.fixture
def sveltekit(sdk_built):
    require_node_modules(SVELTEKIT)
    return SVELTEKIT


@pytest.fixture
def worker_example(sdk_built):
    require_node_modules(WORKER)
    return WORKER


def test_sveltekit_example_builds_for_cloudflare_and_runs_in_workerd(sveltekit):
    # given a fresh vite build with adapter-cloudflare
    output = sveltekit / ".svelte-kit" / "cloudflare" / "_worker.js"
    output.unlink(missing_ok=True)
    proc = run(["npm", "run", "build"], cwd=sveltekit)
    assert proc.returncode == 0, explain(proc)
    assert output.exists(), explain(proc)
    # then the built app's checkout redirects and its postback endpoint verifies, in workerd
    proc = run(["node", "--test", "--test-reporter=tap", "test/"], cwd=sveltekit)
    assert proc.returncode == 0, explain(proc)
    assert "# fail 0" in proc.stdout and "# pass 2" in proc.stdout, explain(proc)


def test_sveltekit_example_type_checks(sveltekit):
    proc = run(["npm", "run", "check"], cwd=sveltekit)
    assert proc.returncode == 0, explain(proc)


def test_cloudflare_worker_example_type_checks_and_runs_in_workerd(worker_example):
    proc = run(["npm", "run", "check"], cwd=worker_example)
    assert proc.returncode == 0, explain(proc)
    proc = run(["npm", "test"], cwd=worker_example)
    assert proc.returncode == 0, explain(proc)
    assert "# fail 0" in proc.stdout, explain(proc)
