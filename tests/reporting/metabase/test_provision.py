"""`manage.py metabase_provision` against Metabase's REST API (mocked with `responses`)."""

from __future__ import annotations

import json
import re
from io import StringIO

import pytest
import responses
from django.core.management import call_command
from django.core.management.base import CommandError

from reporting.metabase.provision import CARDS, SQL_DIR

MB = "https://mb.example"
SECRET = "ab" * 32


@pytest.fixture
def metabase_settings(settings):
    settings.METABASE_SITE_URL = MB
    settings.METABASE_SECRET_KEY = SECRET
    settings.METABASE_USERNAME = "admin@gate.example"
    settings.METABASE_PASSWORD = "mb-admin-password"
    settings.METABASE_DATABASE_ID = 0
    settings.BIGQUERY_DATASET = "apaygate_prod"
    return settings


def _bodies(rsps, method: str, url_re: str) -> list[dict]:
    return [
        json.loads(c.request.body)
        for c in rsps.calls
        if c.request.method == method and re.fullmatch(url_re, c.request.url)
    ]


def _mock_fresh_metabase(rsps) -> None:
    rsps.post(f"{MB}/api/session", json={"id": "sess-123"})
    rsps.get(
        f"{MB}/api/database",
        json={"data": [{"id": 1, "engine": "h2"}, {"id": 5, "engine": "bigquery-cloud-sdk"}]},
    )
    rsps.put(f"{MB}/api/setting/enable-embedding-static", status=204)
    rsps.put(f"{MB}/api/setting/embedding-secret-key", status=204)
    rsps.get(f"{MB}/api/card?f=all", json=[])
    ids = iter(range(101, 200))
    rsps.add_callback(
        "POST",
        f"{MB}/api/card",
        callback=lambda request: (200, {}, json.dumps({"id": next(ids)})),
    )
    rsps.get(f"{MB}/api/dashboard", json=[{"id": 3, "name": "Someone else's"}])
    rsps.post(f"{MB}/api/dashboard", json={"id": 9})
    rsps.put(f"{MB}/api/dashboard/9", json={"id": 9})


def test_provision_creates_cards_and_a_dashboard_with_merchant_locked(metabase_settings):
    out = StringIO()
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        _mock_fresh_metabase(rsps)

        call_command("metabase_provision", stdout=out, stderr=StringIO())

        login = _bodies(rsps, "POST", f"{MB}/api/session")
        assert login == [{"username": "admin@gate.example", "password": "mb-admin-password"}]
        assert all(c.request.headers["X-Metabase-Session"] == "sess-123" for c in rsps.calls[1:])
        assert _bodies(rsps, "PUT", ".*/enable-embedding-static") == [{"value": True}]
        assert _bodies(rsps, "PUT", ".*/embedding-secret-key") == [{"value": SECRET}]

        cards = _bodies(rsps, "POST", f"{MB}/api/card")
        assert [c["name"] for c in cards] == [f"APayGate: {spec.name}" for spec in CARDS]
        volume = cards[0]
        expected_sql = (
            (SQL_DIR / "volume_per_day.sql").read_text().replace("__DATASET__", "apaygate_prod")
        )
        assert volume["dataset_query"]["type"] == "native"
        assert volume["dataset_query"]["database"] == 5
        assert volume["dataset_query"]["native"]["query"] == expected_sql
        assert "`apaygate_prod.payments_latest`" in expected_sql
        tags = volume["dataset_query"]["native"]["template-tags"]
        assert set(tags) == {"merchant_id", "mode", "date_from", "date_to", "status", "currency"}
        assert tags["merchant_id"]["type"] == "number" and tags["merchant_id"]["required"] is True
        assert tags["date_from"]["type"] == "date" and tags["date_from"]["required"] is False
        assert tags["status"]["type"] == "text"
        for card in cards:
            card_tags = card["dataset_query"]["native"]["template-tags"]
            assert card_tags["merchant_id"]["required"] is True

        created = _bodies(rsps, "POST", f"{MB}/api/dashboard")
        assert created[0]["name"] == "APayGate: merchant payments"
        (update,) = _bodies(rsps, "PUT", f"{MB}/api/dashboard/9")
        assert update["enable_embedding"] is True
        assert update["embedding_params"] == {
            "merchant_id": "locked",
            "mode": "locked",
            "date_from": "enabled",
            "date_to": "enabled",
            "status": "enabled",
            "currency": "enabled",
        }
        assert [p["slug"] for p in update["parameters"]] == list(update["embedding_params"])
        assert [d["card_id"] for d in update["dashcards"]] == [101, 102, 103, 104, 105]
        assert all(d["id"] < 0 for d in update["dashcards"])  # new dashcards
        for dashcard in update["dashcards"]:
            assert {
                "parameter_id": "merchant_id",
                "card_id": dashcard["card_id"],
                "target": ["variable", ["template-tag", "merchant_id"]],
            } in dashcard["parameter_mappings"]
            assert dashcard["col"] + dashcard["size_x"] <= 24
        conversion = update["dashcards"][2]
        assert "status" not in {m["parameter_id"] for m in conversion["parameter_mappings"]}
    assert out.getvalue().strip().splitlines()[-1] == "9"


def test_provision_again_updates_cards_and_keeps_dashcards(metabase_settings):
    names = [f"APayGate: {spec.name}" for spec in CARDS]
    with responses.RequestsMock() as rsps:
        rsps.post(f"{MB}/api/session", json={"id": "s"})
        rsps.get(f"{MB}/api/database", json=[{"id": 5, "engine": "bigquery-cloud-sdk"}])
        rsps.put(f"{MB}/api/setting/enable-embedding-static", status=204)
        rsps.put(f"{MB}/api/setting/embedding-secret-key", status=204)
        rsps.get(
            f"{MB}/api/card?f=all",
            json=[{"id": 200 + i, "name": n} for i, n in enumerate(names)],
        )
        for i in range(len(names)):
            rsps.put(f"{MB}/api/card/{200 + i}", json={"id": 200 + i})
        rsps.get(f"{MB}/api/dashboard", json=[{"id": 9, "name": "APayGate: merchant payments"}])
        rsps.get(f"{MB}/api/dashboard/9", json={"id": 9, "dashcards": [{"id": 77, "card_id": 200}]})
        rsps.put(f"{MB}/api/dashboard/9", json={"id": 9})
        out = StringIO()

        call_command("metabase_provision", stdout=out, stderr=StringIO())

        assert not _bodies(rsps, "POST", f"{MB}/api/card")
        assert [b["name"] for b in _bodies(rsps, "PUT", rf"{MB}/api/card/\d+")] == names
        (update,) = _bodies(rsps, "PUT", f"{MB}/api/dashboard/9")
        assert [d["id"] for d in update["dashcards"]][:2] == [77, -2]
    assert out.getvalue().strip() == "9"


def test_provision_falls_back_to_the_pre_052_embedding_switch(metabase_settings):
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        _mock_fresh_metabase(rsps)
        rsps.replace("PUT", f"{MB}/api/setting/enable-embedding-static", status=404, body="no")
        rsps.put(f"{MB}/api/setting/enable-embedding", status=204)

        call_command("metabase_provision", stdout=StringIO(), stderr=StringIO())

        assert _bodies(rsps, "PUT", f"{MB}/api/setting/enable-embedding") == [{"value": True}]


def test_provision_reports_a_refused_login(metabase_settings):
    with responses.RequestsMock() as rsps:
        rsps.post(f"{MB}/api/session", status=401, json={"errors": {"password": "did not match"}})

        with pytest.raises(CommandError, match="POST /api/session answered 401"):
            call_command("metabase_provision", stdout=StringIO(), stderr=StringIO())


def test_provision_needs_metabase_credentials(metabase_settings):
    metabase_settings.METABASE_PASSWORD = ""

    with pytest.raises(CommandError, match="METABASE_USERNAME and METABASE_PASSWORD"):
        call_command("metabase_provision", stdout=StringIO(), stderr=StringIO())


def test_every_sql_file_filters_on_the_locked_merchant_outside_optional_blocks():
    for spec in CARDS:
        sql = (SQL_DIR / spec.file).read_text()
        without_optional = re.sub(r"\[\[.*?\]\]", "", sql, flags=re.S)
        assert "merchant_id = {{merchant_id}}" in without_optional, spec.file
        assert "is_test = ({{mode}} = 'test')" in without_optional, spec.file
