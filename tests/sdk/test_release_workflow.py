"""The SDK release workflow (.github/workflows/release-sdk.yml): valid for GitHub, and safe.

It cannot run here, so the suite checks it twice: against GitHub's workflow schema (the
copy check-jsonschema vendors, offline) and for what a release must keep: nothing is
published before the tests pass, both registries get provenance from the workflow's
identity, and no registry token is needed for PyPI.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.sdk.gateway import ROOT

WORKFLOW = ROOT / ".github" / "workflows" / "release-sdk.yml"
CHECK_JSONSCHEMA = str(Path(sys.executable).with_name("check-jsonschema"))


def _validate(path: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHECK_JSONSCHEMA, "--builtin-schema", "vendor.github-workflows", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture(scope="module")
def workflow() -> dict:
    return yaml.safe_load(WORKFLOW.read_text())


def _runs(job: dict) -> str:
    return "\n".join(step.get("run", "") for step in job["steps"])


def _uses(job: dict) -> list[str]:
    return [step.get("uses", "") for step in job["steps"]]


def test_release_workflow_is_valid_against_githubs_workflow_schema():
    done = _validate(WORKFLOW)

    assert done.returncode == 0, done.stdout + done.stderr


def test_the_schema_check_refuses_a_broken_workflow(tmp_path):
    broken = tmp_path / "release-sdk.yml"
    broken.write_text(WORKFLOW.read_text().replace("runs-on:", "run-on:", 1))

    done = _validate(broken)

    assert done.returncode != 0
    assert "jobs.test" in done.stdout


def test_release_runs_on_an_sdk_tag_that_must_name_the_packages_version(workflow):
    # PyYAML reads the bare key `on` as True (YAML 1.1).
    trigger = workflow.get("on") or workflow[True]
    assert trigger == {"push": {"tags": ["sdk-v*"]}}
    tag_check = _runs(workflow["jobs"]["test"])
    assert "sdk/typescript/package.json" in tag_check and "sdk/python/pyproject.toml" in tag_check
    assert 'test "$tag" = "$npm_version" && test "$tag" = "$py_version"' in tag_check


def test_nothing_is_published_before_the_sdks_are_tested_and_built(workflow):
    jobs = workflow["jobs"]
    assert jobs["build"]["needs"] == "test"
    assert jobs["publish-npm"]["needs"] == "build"
    assert jobs["publish-pypi"]["needs"] == "build"
    tests = _runs(jobs["test"])
    assert "bash scripts/test-sdk.sh\n" in tests + "\n"
    assert "pytest" in tests and "tests/sdk" in tests
    # the files published are the ones built by the script the gateway serves from
    assert "bash scripts/build-sdk-dist.sh dist" in _runs(jobs["build"])


def test_both_registries_get_provenance_from_the_workflows_identity(workflow):
    jobs = workflow["jobs"]
    assert workflow["permissions"] == {"contents": "read"}  # nothing more by default
    for name in ("publish-npm", "publish-pypi", "build"):
        assert jobs[name]["permissions"]["id-token"] == "write", name

    assert "npm publish dist/apaygate-sdk-*.tgz --provenance" in _runs(jobs["publish-npm"])
    assert any(u.startswith("pypa/gh-action-pypi-publish@") for u in _uses(jobs["publish-pypi"]))
    pypi_steps = jobs["publish-pypi"]["steps"]
    assert not any("password" in step.get("with", {}) for step in pypi_steps)  # trusted publishing
    assert any(u.startswith("actions/attest-build-provenance@") for u in _uses(jobs["build"]))
