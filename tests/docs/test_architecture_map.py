"""ARCHITECTURE.md stays true: every path it names exists, every function or class its
tables name is defined in a file of the same row, and every module it names imports.

Paths are written from the repository root (`payments/delivery/poller.py`) or, in a
table row, relative to the row's folder (`poller.py` beside `payments/delivery/tasks.py`,
`state.py` in the `payments/` row).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARCHITECTURE = ROOT / "ARCHITECTURE.md"

TICKED = re.compile(r"`([^`\n]+)`")
PATH = re.compile(r"^\.?[\w.-]+(/[\w.-]*)*$")
FILE_SUFFIXES = (".py", ".md", ".sh", ".toml", ".yml", ".yaml", ".json", ".html", ".lock")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
MODULE = re.compile(r"^(apaygate|foundation|payments|providers|reporting|demo|docsite)(\.\w+)+$")
PACKAGES = ("apaygate", "foundation", "payments", "providers", "reporting", "demo", "docsite")


def _is_path(token: str) -> bool:
    return bool(PATH.match(token)) and ("/" in token or token.endswith(FILE_SUFFIXES))


def _rows() -> list[str]:
    return [line for line in ARCHITECTURE.read_text().splitlines() if line.startswith("|")]


def _resolve(token: str, folders: list[Path]) -> Path | None:
    """The path for `token`: from the root, else from one of the row's folders."""
    for base in (ROOT, *folders):
        candidate = base / token
        if candidate.exists():
            return candidate
    return None


def _row_folders(row: str) -> list[Path]:
    """Folders a row's bare names are relative to: its paths' folders (and folder paths)."""
    folders = []
    for token in TICKED.findall(row):
        if _is_path(token) and "/" in token and (ROOT / token).exists():
            path = ROOT / token
            folders.append(path if path.is_dir() else path.parent)
    return folders


def _defined(name: str, files: list[Path]) -> bool:
    pattern = re.compile(rf"^\s*(?:async\s+)?(?:def|class)\s+{name}\b|^{name}\s*[:=]", re.M)
    return any(pattern.search(path.read_text()) for path in files)


def test_every_path_the_map_names_exists():
    missing = []
    for number, line in enumerate(ARCHITECTURE.read_text().splitlines(), 1):
        if line.startswith("#"):
            continue  # headings speak of files in general ("a `urls.py`")
        folders = _row_folders(line) if line.startswith("|") else []
        for token in TICKED.findall(line):
            if _is_path(token) and _resolve(token, folders) is None:
                missing.append(f"line {number}: {token}")

    assert missing == []


def test_every_function_a_table_row_names_is_defined_in_that_row():
    undefined = []
    for row in _rows():
        folders = _row_folders(row)
        named = [_resolve(t, folders) for t in TICKED.findall(row) if _is_path(t)]
        files = [
            file
            for path in named
            if path is not None
            for file in ([path] if path.is_file() else sorted(path.rglob("*.py")))
            if file.suffix == ".py"
        ]
        for token in TICKED.findall(row):
            if IDENTIFIER.match(token) and "_" in token and not _defined(token, files):
                undefined.append(f"{token} (row: {row[:60]}…)")

    assert undefined == []


@pytest.mark.parametrize(
    "module",
    sorted(
        {
            t
            for t in TICKED.findall(ARCHITECTURE.read_text())
            if MODULE.match(t) and not t.endswith(FILE_SUFFIXES)
        }
    ),
)
def test_every_module_the_map_names_exists(module):
    parent, _, name = module.rpartition(".")
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # `payments.errors.database_unavailable`: a name in a module
        spec = importlib.util.find_spec(parent)
        found = spec is not None and _defined(name, [Path(spec.origin)])

    assert found, module


def test_the_map_can_fail(tmp_path, monkeypatch):
    # a made-up path in a table row is reported
    fake = tmp_path / "ARCHITECTURE.md"
    fake.write_text("| x | `payments/no_such_module.py` |\n")
    monkeypatch.setattr(f"{__name__}.ARCHITECTURE", fake)

    with pytest.raises(AssertionError):
        test_every_path_the_map_names_exists()
