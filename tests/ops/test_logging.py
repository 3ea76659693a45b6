"""Logs: one request id everywhere, and no token, secret, signature or e-mail in them."""

from __future__ import annotations

import io
import json
import logging
import logging.config

import pytest

from foundation import request_id
from foundation.logging_config import build_logging, mask_secrets

TOKEN = "apg_live_Zx9kQ2pW7vLmN4rT8yB1cD5fG3hJ6kL0aS2dF4gH6jK"
EMAIL = "jane.doe+vip@customer.example"


def _json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


@pytest.mark.django_db
def test_a_request_logs_neither_its_token_nor_the_customer_email(
    client, ops_settings, json_logging
):
    response = client.get(
        "/ops-echo/3",
        {"email": EMAIL},
        HTTP_AUTHORIZATION=f"Token {TOKEN}",
        HTTP_X_REQUEST_ID="req-ops-42",
    )

    assert response.status_code == 200
    output = json_logging.getvalue()
    lines = _json_lines(output)
    assert len(lines) >= 3
    assert TOKEN not in output
    assert TOKEN[9:] not in output
    assert EMAIL not in output
    assert "jane.doe" not in output
    assert "***@customer.example" in output
    # the id the caller sent is on every line of the request, and echoed back
    assert {line["request_id"] for line in lines if line["logger"] == "tests.ops"} == {"req-ops-42"}
    assert response["X-Request-ID"] == "req-ops-42"
    assert response.json()["outbound"] == {"X-Request-ID": "req-ops-42"}
    assert any("exc_info" in line for line in lines)


@pytest.mark.parametrize(
    "sent", ["", "has space", "x" * 129, "semi;colon", "new\nline", "<script>"]
)
def test_a_malformed_request_id_is_replaced_by_a_fresh_one(client, ops_settings, sent):
    response = client.get("/ops-echo/1", HTTP_X_REQUEST_ID=sent)

    echoed = response["X-Request-ID"]
    assert echoed != sent
    assert len(echoed) == 32 and int(echoed, 16) >= 0


def test_a_request_without_an_id_gets_one_and_it_ends_with_the_request(client, ops_settings):
    first = client.get("/ops-echo/1")["X-Request-ID"]
    second = client.get("/ops-echo/1")["X-Request-ID"]

    assert first != second
    assert request_id.get_request_id() is None
    assert request_id.outbound_headers() == {}


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"Authorization: Token {TOKEN}", TOKEN),
        ("{'Authorization': 'Bearer abc.def.ghi-secret'}", "abc.def.ghi-secret"),
        ("HTTP_AUTHORIZATION='Basic dXNlcjpwYXNzd29yZA=='", "dXNlcjpwYXNzd29yZA=="),
        (
            "merchant secret whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        ),
        (
            "webhook-signature: v1,K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4="
            " v1,zzzzzzzzzzzzzzzzzz",
            "K5oZfzN95Z9UVu1EsfQmfVNQhnkZ2pj9o9NDN/H/pI4=",
        ),
        ("test key apg_test_abcDEF123_-xyz in a sentence", "abcDEF123_-xyz"),
        (f"customer {EMAIL} paid", "jane.doe"),
    ],
)
def test_mask_secrets_hides_each_kind_of_secret(text, secret):
    masked = mask_secrets(text)

    assert secret not in masked
    assert "***" in masked


def test_plain_format_in_development_carries_the_request_id():
    from django.conf import settings

    logging.config.dictConfig(build_logging(json=False, level="INFO"))
    buffer = io.StringIO()
    logging.getLogger().handlers[0].setStream(buffer)
    try:
        with request_id.request_id_scope("dev-id-1"):
            logging.getLogger("tests.ops").info("paid by %s", EMAIL)
    finally:
        logging.config.dictConfig(settings.LOGGING)

    line = buffer.getvalue().strip().splitlines()[-1]
    assert "[dev-id-1]" in line
    assert "paid by ***@customer.example" in line


def test_the_request_id_travels_into_a_celery_task():
    # given a task published during a request
    headers: dict = {}
    with request_id.request_id_scope("req-to-task"):
        request_id._on_before_task_publish(headers=headers)
    assert headers == {request_id.TASK_HEADER: "req-to-task"}

    # when the worker runs it (protocol 2 puts message headers on task.request)
    class Task:
        class request:
            apaygate_request_id = "req-to-task"

    request_id._on_task_prerun(task_id="t-1", task=Task)
    try:
        # then the task's logs and outbound calls carry the same id
        assert request_id.outbound_headers() == {"X-Request-ID": "req-to-task"}
    finally:
        request_id._on_task_postrun(task_id="t-1")
    assert request_id.get_request_id() is None


def test_a_task_queued_outside_a_request_gets_an_id_of_its_own():
    headers: dict = {}
    request_id._on_before_task_publish(headers=headers)
    assert headers == {}

    request_id._on_task_prerun(task_id="t-2", task=object())
    try:
        assert len(request_id.get_request_id()) == 32
    finally:
        request_id._on_task_postrun(task_id="t-2")
