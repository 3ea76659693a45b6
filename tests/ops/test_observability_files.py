"""Alert rules and dashboard: valid, tested by promtool, and only about metrics we define."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from apaygate import metrics

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy/prometheus"


def _defined_metric_names() -> set[str]:
    names = set()
    for value in vars(metrics).values():
        describe = getattr(value, "describe", None)
        if describe and value in REGISTRY._collector_to_names:
            for family in describe():
                names.add(family.name)
                if family.type == "counter":
                    names.add(f"{family.name}_total")
                if family.type == "histogram":
                    names |= {f"{family.name}_{s}" for s in ("bucket", "count", "sum")}
    return names


def _referenced_metric_names(expr: str) -> set[str]:
    return set(re.findall(r"\b(apaygate_[a-z0-9_]+)", expr))


def _promtool() -> str:
    found = shutil.which("promtool")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("promtool is missing in CI: scripts/ensure-system-packages.sh installs it")
    pytest.skip("promtool not installed (Debian: apt-get install prometheus)")


def test_alert_rules_pass_promtool_check():
    result = subprocess.run(
        [_promtool(), "check", "rules", "alerts.yml"],
        cwd=PROMETHEUS, capture_output=True, text=True, timeout=60,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_pass_their_unit_tests():
    result = subprocess.run(
        [_promtool(), "test", "rules", "alerts.test.yml"],
        cwd=PROMETHEUS, capture_output=True, text=True, timeout=120,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rules_only_use_defined_metrics():
    text = (PROMETHEUS / "alerts.yml").read_text()
    defined = _defined_metric_names()

    assert _referenced_metric_names(text) - defined == set()
    for alert in ("ProviderErrorRate", "DeliveryBacklog", "DeliveryOldestDue", "ExportLag",
                  "BeatHeartbeat", "BreakerOpen", "LoadShedding",
                  "DatabasePoolExhausted"):  # fmt: skip
        assert re.search(rf"alert: Apaygate\w*{alert}", text), alert


def test_dashboard_is_valid_json_and_every_panel_queries_defined_metrics():
    dashboard = json.loads((ROOT / "deploy/grafana/apaygate.json").read_text())
    defined = _defined_metric_names()

    assert dashboard["panels"]
    for panel in dashboard["panels"]:
        exprs = [target["expr"] for target in panel["targets"]]
        assert exprs, panel["title"]
        for expr in exprs:
            used = _referenced_metric_names(expr)
            assert used, f"{panel['title']}: {expr}"
            assert used <= defined, f"{panel['title']}: {sorted(used - defined)}"


def test_every_contract_metric_is_defined():
    assert {
        "apaygate_http_request_duration_seconds",
        "apaygate_provider_request_duration_seconds",
        "apaygate_provider_errors_total",
        "apaygate_provider_breaker_state",
        "apaygate_deliveries_total",
        "apaygate_delivery_backlog",
        "apaygate_delivery_oldest_due_age_seconds",
        "apaygate_export_backlog",
        "apaygate_export_lag_seconds",
        "apaygate_queue_depth",
        "apaygate_beat_heartbeat_timestamp_seconds",
        "apaygate_unverified_postbacks_total",
    } <= _defined_metric_names()
