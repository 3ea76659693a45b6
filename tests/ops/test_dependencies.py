"""uv.lock: reproducible, hashed, and the image's runtime set holds no development tool."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _lock() -> dict:
    return tomllib.loads((ROOT / "uv.lock").read_text())


def _packages() -> dict[str, dict]:
    return {package["name"]: package for package in _lock()["package"]}


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _closure(roots: list[dict], packages: dict[str, dict]) -> set[str]:
    seen: set[str] = set()
    todo = [root["name"] for root in roots]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        package = packages[name]
        todo += [dep["name"] for dep in package.get("dependencies", [])]
        for extra in {e for dep in roots if dep["name"] == name for e in dep.get("extra", [])}:
            todo += [dep["name"] for dep in package.get("optional-dependencies", {}).get(extra, [])]
    return seen


def test_every_pinned_dependency_is_locked_at_its_pin():
    packages = _packages()
    project = _pyproject()
    pins = project["project"]["dependencies"] + project["dependency-groups"]["dev"]

    for pin in pins:
        name, version = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]+\])?==(\S+)", pin).groups()
        assert packages[_normalise(name)]["version"] == version, pin


def test_every_locked_artifact_carries_a_hash():
    for package in _lock()["package"]:
        if "virtual" in package["source"]:
            continue
        artifacts = package.get("wheels", []) + ([package["sdist"]] if "sdist" in package else [])
        assert artifacts, package["name"]
        assert all(a["hash"].startswith("sha256:") for a in artifacts), package["name"]


def test_runtime_set_holds_no_development_tool():
    packages = _packages()
    runtime = _closure(packages["apaygate"]["dependencies"], packages)

    for tool in ("pytest", "ruff", "playwright", "bqemulator", "schemathesis", "import-linter",
                 "responses", "factory-boy", "check-jsonschema", "hypothesis"):  # fmt: skip
        assert tool not in runtime, tool
    for needed in ("django", "gunicorn", "celery", "prometheus-client", "python-json-logger",
                   "uvicorn", "uvloop", "httpx", "django-axes", "django-csp"):  # fmt: skip
        assert needed in runtime, needed
