"""Run axe-core (tests/e2e/node_modules, installed by `npm ci --prefix tests/e2e`) in a page.

Shared by every accessibility test: `assert_accessible(page)` fails with one line per
serious or critical violation (rule id, help text, the offending selectors), so a failure
says what to fix without opening a report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

AXE_SCRIPT = Path(__file__).resolve().parent / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING_IMPACTS = ("serious", "critical")
# axe's default rule set (WCAG 2.x A and AA and its best practices); only violations come back.
RUN_OPTIONS: dict[str, Any] = {"resultTypes": ["violations"]}
TARGETS_SHOWN = 5  # per rule; a theme-wide contrast problem would otherwise print hundreds

_RUN = "async (options) => (await window.axe.run(document, options)).violations"


def _inject(page) -> None:
    """Evaluate axe.min.js in the page unless it is already there.

    `page.evaluate` goes through the DevTools protocol, which the page's
    Content-Security-Policy does not govern, so no nonce or `bypass_csp` is needed and
    the page is tested under the policy it really ships with.
    """
    if page.evaluate("() => typeof window.axe === 'object'"):
        return
    if not AXE_SCRIPT.exists():
        raise RuntimeError(
            f"{AXE_SCRIPT} is missing: run `npm ci --prefix tests/e2e` (scripts/test.sh does)"
        )
    page.evaluate(AXE_SCRIPT.read_text(encoding="utf-8") + "\n;undefined")


def axe_violations(page, *, impacts: tuple[str, ...] = BLOCKING_IMPACTS) -> list[dict]:
    """Return axe's violations on the page's current document whose impact is in `impacts`."""
    _inject(page)
    found = page.evaluate(_RUN, RUN_OPTIONS)
    return [v for v in found if v.get("impact") in impacts]


def format_violations(violations: list[dict]) -> str:
    """Render violations as `impact rule-id: help (selectors)` lines, one per rule."""
    lines = []
    for violation in violations:
        targets = [" ".join(map(str, node.get("target", []))) for node in violation["nodes"]]
        shown = ", ".join(targets[:TARGETS_SHOWN])
        if len(targets) > TARGETS_SHOWN:
            shown += f", and {len(targets) - TARGETS_SHOWN} more"
        lines.append(f"{violation['impact']} {violation['id']}: {violation['help']} [{shown}]")
    return "\n".join(lines)


def assert_accessible(page, *, label: str = "") -> None:
    """Fail when axe finds a serious or critical violation on the page."""
    violations = axe_violations(page)
    where = label or page.url
    assert not violations, f"axe on {where}:\n{format_violations(violations)}"
