"""Under /api/ every answer is JSON, with DEBUG on (`make run`) as in production."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("debug", [True, False])
@pytest.mark.parametrize("method", ["get", "post", "delete"])
def test_an_unknown_api_path_is_a_json_404(client, settings, debug, method):
    settings.DEBUG = debug

    response = getattr(client, method)("/api/v1/no-such-thing")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["code"] == "not_found"
    assert "/api/v1/no-such-thing" in body["message"]


def test_known_api_routes_still_answer(client, db):
    assert client.get("/api/schema/").status_code == 200
    assert client.get("/api/v1/payments")["Content-Type"] == "application/json"
