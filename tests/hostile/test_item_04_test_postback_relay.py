"""Item 4: the test postback is throttled per token and echoes only a short excerpt."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from payments.api.postbacks import TEST_ANSWER_EXCERPT_CHARS, PostbackTestThrottle
from tests.factories import make_token

pytestmark = pytest.mark.django_db


@pytest.fixture
def loopback(settings, receiver, merchant):
    settings.POSTBACK_ALLOW_PRIVATE = True
    settings.DEBUG = True  # the loopback receiver speaks plain http
    receiver.secrets = [merchant.postback_secret]
    return receiver


def test_test_postback_echoes_at_most_a_short_excerpt_and_no_headers(api, loopback):
    page = "<html>" + "secret-intranet-page " * 200 + "</html>"
    loopback.script = [(500, {"X-Internal": "yes", "Set-Cookie": "s=1"}, page.encode())]

    response = api.post("/api/v1/postbacks/test", {"url": loopback.url}, format="json")

    body = response.json()
    assert response.status_code == 200
    assert body["statusCode"] == 500
    assert len(body["responseBody"]) <= TEST_ANSWER_EXCERPT_CHARS
    assert body["responseBody"] == page[:TEST_ANSWER_EXCERPT_CHARS]
    assert set(body) == {
        "status", "delivered", "webhookId", "statusCode", "durationMs", "error", "responseBody",
    }  # fmt: skip
    assert "X-Internal" not in response.content.decode()


def test_test_postback_is_rate_limited_per_token(api, loopback, merchant, monkeypatch):
    monkeypatch.setattr(PostbackTestThrottle, "THROTTLE_RATES", {"postback_test": "3/min"})

    answers = [
        api.post("/api/v1/postbacks/test", {"url": loopback.url}, format="json").status_code
        for _ in range(4)
    ]
    other = APIClient()
    other.credentials(HTTP_AUTHORIZATION=f"Token {make_token(merchant=merchant)[1]}")
    fresh = other.post("/api/v1/postbacks/test", {"url": loopback.url}, format="json")

    assert answers == [200, 200, 200, 429]
    assert len(loopback.requests) == 4  # the throttled call sent nothing
    assert fresh.status_code == 200  # another token has its own budget


def test_the_throttled_answer_is_the_json_error_shape(api, loopback, monkeypatch):
    monkeypatch.setattr(PostbackTestThrottle, "THROTTLE_RATES", {"postback_test": "1/min"})
    api.post("/api/v1/postbacks/test", {"url": loopback.url}, format="json")

    response = api.post("/api/v1/postbacks/test", {"url": loopback.url}, format="json")

    assert response.status_code == 429
    assert response.json()["code"] == "rate_limited"
    assert response.json()["message"]
    assert "Retry-After" in response
