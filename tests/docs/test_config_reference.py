"""The configuration reference is generated from settings.py and .env.example: no drift."""

from __future__ import annotations

import re

from docsite import config_reference
from docsite.config_reference import env_example_names, settings_variables

# The variables DESIGN.md's "Configuration" section promises.
CONTRACT_VARIABLES = {
    "SECRET_KEY", "DEBUG", "ALLOWED_HOSTS", "PUBLIC_BASE_URL", "DATABASE_URL", "REDIS_URL",
    "CELERY_BROKER_URL", "TELE_API_URL", "TELE_APP_ID", "TELE_API_TOKEN",
    "TELE_POSTBACK_SECRET", "BANSKY_API_URL", "BANSKY_API_TOKEN", "BANSKY_POSTBACK_SECRET",
    "SANDBOX_ENABLED", "PAYMENT_TTL", "POSTBACK_ALLOW_PRIVATE", "BIGQUERY_PROJECT",
    "BIGQUERY_DATASET", "BIGQUERY_API_ENDPOINT", "METABASE_SITE_URL", "METABASE_SECRET_KEY",
    "METABASE_DASHBOARD_ID",
}  # fmt: skip


def _table_rows(html: str) -> dict[str, str]:
    return dict(re.findall(r"<tr>\s*<td><code>([A-Z0-9_]+)</code></td>(.*?)</tr>", html, re.S))


def test_reference_page_lists_every_variable_settings_reads(staff_client):
    html = staff_client.get("/internal-docs/configuration/").content.decode()
    rows = _table_rows(html)

    assert set(rows) == {v.name for v in settings_variables()}
    assert set(rows) >= CONTRACT_VARIABLES
    assert "[[config-reference]]" not in html


def test_reference_shows_type_and_default_from_the_code(staff_client):
    rows = _table_rows(staff_client.get("/internal-docs/configuration/").content.decode())

    assert "integer" in rows["PAYMENT_TTL"] and "24 * 3600" in rows["PAYMENT_TTL"]
    assert "boolean" in rows["POSTBACK_ALLOW_PRIVATE"] and "False" in rows["POSTBACK_ALLOW_PRIVATE"]


def test_every_variable_settings_reads_is_described_in_env_example():
    undocumented = sorted(v.name for v in settings_variables() if v.name not in env_example_names())

    assert undocumented == [], "add these to .env.example, each with a comment"


def test_env_example_holds_no_variable_settings_ignores():
    stale = sorted(env_example_names() - {v.name for v in settings_variables()})

    assert stale == []


def test_a_variable_added_to_settings_appears_in_the_reference(tmp_path, monkeypatch):
    # given settings that read one more variable, commented in settings.py only
    source = config_reference.settings_path().read_text()
    extra = '\n# Seconds the new widget waits.\nWIDGET_WAIT = env.int("WIDGET_WAIT", default=7)\n'
    fake = tmp_path / "settings.py"
    fake.write_text(source + extra)
    monkeypatch.setattr(config_reference, "settings_path", lambda: fake)

    table = config_reference.config_reference_markdown()

    assert "| `WIDGET_WAIT` | integer | `7` | Seconds the new widget waits. |" in table
