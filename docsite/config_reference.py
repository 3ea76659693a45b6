"""Build the configuration reference from the code, so the internal docs cannot drift.

The variable names, types and defaults come from `apaygate/settings.py` itself (every
`env.<type>("NAME", default=...)` call, found with `ast`); the description of each comes
from the comment above it in `.env.example` (the operator-facing file), falling back to the
comment above the call in `settings.py`.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

ENV_TYPES = {
    "str": "string",
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "list": "list (comma-separated)",
    "db": "database URL",
    "url": "URL",
    "json": "JSON",
}
# `NAME=value`, or `#NAME=value` for an example left commented out (no space after `#`:
# a `# ...` line is prose, even when it quotes an assignment).
VAR_LINE_RE = re.compile(r"^#?([A-Z][A-Z0-9_]*)=")


@dataclass(frozen=True)
class ConfigVariable:
    name: str
    kind: str
    default: str
    description: str


def settings_path() -> Path:
    return Path(settings.BASE_DIR) / "apaygate" / "settings.py"


def env_example_path() -> Path:
    return Path(settings.BASE_DIR) / ".env.example"


def _comment_above(lines: list[str], index: int) -> str:
    """Join the `#` comment lines right above line `index` (0-based)."""
    comment: list[str] = []
    i = index - 1
    while i >= 0 and lines[i].lstrip().startswith("#"):
        if not VAR_LINE_RE.match(lines[i].lstrip()):
            comment.insert(0, lines[i].lstrip().lstrip("#").strip())
        i -= 1
    return " ".join(c for c in comment if c)


def _env_call(node: ast.AST) -> tuple[str, str] | None:
    """Return (variable name, kind) when `node` is `env.<kind>("NAME", ...)` or `env("NAME")`."""
    if not isinstance(node, ast.Call) or not node.args:
        return None
    first = node.args[0]
    if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
        return None
    func = node.func
    if (
        isinstance(func, ast.Attribute)
        and isinstance(func.value, ast.Name)
        and func.value.id == "env"
    ):
        return first.value, func.attr
    if isinstance(func, ast.Name) and func.id == "env":
        return first.value, "str"
    return None


def settings_variables() -> list[ConfigVariable]:
    """Every environment variable `settings.py` reads, in file order, first read wins."""
    source = settings_path().read_text(encoding="utf-8")
    lines = source.splitlines()
    described = env_example_descriptions()
    found: dict[str, ConfigVariable] = {}
    for node in ast.walk(ast.parse(source)):
        parsed = _env_call(node)
        if parsed is None or parsed[0] in found:
            continue
        name, kind = parsed
        default = "(required)"
        for keyword in node.keywords:
            if keyword.arg == "default":
                default = ast.unparse(keyword.value)
        statement_line = node.lineno - 1
        while statement_line > 0 and lines[statement_line].startswith((" ", ")")):
            statement_line -= 1  # a call inside a multi-line statement: comment sits above it
        description = described.get(name) or _comment_above(lines, statement_line)
        found[name] = ConfigVariable(
            name=name,
            kind=ENV_TYPES.get(kind, kind),
            default=default,
            description=description,
        )
    return sorted(found.values(), key=lambda v: v.name)


def env_example_descriptions() -> dict[str, str]:
    """Map each variable in `.env.example` to the comment above it (or above its group)."""
    path = env_example_path()
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    out: dict[str, str] = {}
    for index, line in enumerate(lines):
        match = VAR_LINE_RE.match(line)
        if not match or match[1] in out:
            continue
        above = index
        while above > 0 and VAR_LINE_RE.match(lines[above - 1]):
            above -= 1  # several variables under one comment share it
        out[match[1]] = _comment_above(lines, above)
    return out


def env_example_names() -> set[str]:
    """Every variable `.env.example` sets, or shows commented out as `#NAME=value`."""
    path = env_example_path()
    if not path.is_file():
        return set()
    names = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        match = VAR_LINE_RE.match(line)
        if match:
            names.add(match[1])
    return names


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_reference_markdown() -> str:
    """Return the reference as a Markdown table."""
    rows = [
        "| variable | type | default (from settings.py) | what it does |",
        "|---|---|---|---|",
    ]
    for var in settings_variables():
        default = f"`{_cell(var.default)}`" if var.default != "(required)" else "(required)"
        rows.append(f"| `{var.name}` | {var.kind} | {default} | {_cell(var.description) or '—'} |")
    return "\n".join(rows) + "\n"
