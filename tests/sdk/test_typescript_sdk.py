"""The TypeScript SDK's suites (`node --test`), the live one against a gateway started here,
and the postback verifier inside workerd (miniflare) on postbacks that gateway signed."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tarfile

import pytest

from tests.sdk.conftest import require_node_modules
from tests.sdk.gateway import EXAMPLES, ROOT, SDK_TS, explain, run

WORKER_EXAMPLE = EXAMPLES / "cloudflare-worker"

UNIT_TESTS = ["test/constants.test.mjs", "test/client.test.mjs", "test/verify.test.mjs"]


def counts(proc: subprocess.CompletedProcess) -> dict[str, int]:
    """Read node --test's TAP summary (`# pass 12`, `# fail 0`, `# skipped 0`)."""
    return {
        k: int(v)
        for k, v in re.findall(r"^# (pass|fail|skipped|cancelled) (\d+)$", proc.stdout, re.M)
    }


def node_test(*files: str, env=None) -> subprocess.CompletedProcess:
    return run(["node", "--test", "--test-reporter=tap", *files], cwd=SDK_TS, env=env)


def test_typescript_sdk_unit_tests_pass(sdk_built):
    proc = node_test(*UNIT_TESTS)
    assert proc.returncode == 0, explain(proc)
    c = counts(proc)
    assert c.get("fail") == 0 and c.get("skipped") == 0 and c.get("pass", 0) >= 25, explain(proc)


def test_typescript_sdk_type_checks_strictly(sdk_built):
    proc = run(
        [str(SDK_TS / "node_modules/.bin/tsc"), "--noEmit", "-p", "tsconfig.json"], cwd=SDK_TS
    )
    assert proc.returncode == 0, explain(proc)


def test_generated_types_match_the_current_schema(sdk_built):
    proc = run(["bash", str(SDK_TS / "scripts/generate-types.sh"), "--check"], cwd=ROOT)
    assert proc.returncode == 0, explain(proc)


@pytest.mark.worker
@pytest.mark.xdist_group("examples")  # builds examples/cloudflare-worker/dist (test_examples.py)
def test_typescript_sdk_against_a_live_gateway_and_its_postbacks_in_workerd(
    gateway, sdk_built, tmp_path
):
    # the SDK in Node against the live gateway; the shop endpoint keeps the real postbacks
    capture = tmp_path / "postbacks.json"
    proc = node_test("test/live.test.mjs", env=gateway.env(POSTBACK_CAPTURE_FILE=str(capture)))
    c = counts(proc)
    assert proc.returncode == 0, explain(proc, gateway.celery.logs())
    assert c.get("skipped") == 0 and c.get("pass", 0) >= 9, explain(proc)

    # the same postbacks, as the gateway signed them, verified inside workerd
    postbacks = json.loads(capture.read_text())
    events = {json.loads(p["body"])["event"] for p in postbacks}
    assert {"payment.succeeded", "payment.failed", "postback.test"} <= events
    env = gateway.env(POSTBACK_FIXTURE=str(capture))
    proc = node_test("test/workerd.test.mjs", env=env)
    c = counts(proc)
    assert proc.returncode == 0, explain(proc)
    assert c.get("skipped") == 0 and c.get("pass", 0) >= 6, explain(proc)

    # and by the Cloudflare Worker example, bundled and run in workerd
    require_node_modules(WORKER_EXAMPLE)
    proc = run(["npm", "run", "build"], cwd=WORKER_EXAMPLE)
    assert proc.returncode == 0, explain(proc)
    proc = run(["node", "--test", "--test-reporter=tap", "test/"], cwd=WORKER_EXAMPLE, env=env)
    c = counts(proc)
    assert proc.returncode == 0, explain(proc)
    assert c.get("skipped") == 0 and c.get("pass", 0) >= 6, explain(proc)


def test_npm_pack_ships_the_built_package_only(sdk_built, tmp_path):
    # in a copy: `npm pack` rebuilds dist/ (prepack), which the other Node tests import
    package = tmp_path / "sdk"
    shutil.copytree(SDK_TS, package, ignore=shutil.ignore_patterns("node_modules", "dist"))
    (package / "node_modules").symlink_to(SDK_TS / "node_modules")
    proc = run(["npm", "pack", "--silent", "--pack-destination", str(tmp_path)], cwd=package)
    assert proc.returncode == 0, explain(proc)
    tarball = tmp_path / "apaygate-sdk-1.0.0.tgz"
    with tarfile.open(tarball) as archive:
        names = set(archive.getnames())
    assert {"package/dist/index.js", "package/dist/index.d.ts", "package/package.json"} <= names
    assert {"package/README.md", "package/CHANGELOG.md"} <= names
    assert not any(
        n.startswith(("package/src/", "package/test/", "package/node_modules/")) for n in names
    )
