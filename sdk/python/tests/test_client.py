"""The client against scripted answers (httpx.MockTransport): requests, errors, retries."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal

import httpx
import pytest

from apaygate import APayGateError, AsyncClient, Client, PaymentStatus
from apaygate import _async_client as async_client_module
from apaygate import _client as client_module

CREATED = {
    "status": "success",
    "id": "pay_1",
    "url": "https://gate.example/integration/pay?id=pay_1",
}
INVALID = {
    "status": "error",
    "code": "validation_error",
    "message": "The request has invalid fields.",
    "errors": {"amount": ["Too many decimals."]},
}


class Script:
    """Answers requests in order (the last answer repeats) and records them."""

    def __init__(self, *answers: httpx.Response):
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answers[min(len(self.requests), len(self.answers)) - 1]


def answer(status: int, body=None, headers=None) -> httpx.Response:
    return httpx.Response(status, json=body if body is not None else {}, headers=headers)


@pytest.fixture
def sleeps(monkeypatch) -> list[float]:
    waited: list[float] = []
    monkeypatch.setattr(client_module.time, "sleep", waited.append)
    return waited


def client_for(script: Script, **options) -> Client:
    http = httpx.Client(transport=httpx.MockTransport(script))
    return Client(token="tok_test", base_url="https://gate.example/", http_client=http, **options)


def test_init_payment_posts_json_with_the_token_and_answers_id_and_url():
    script = Script(answer(201, CREATED))
    with client_for(script) as client:
        result = client.init_payment(
            id="order-1",
            customer_email="a@example.com",
            amount="25.00",
            currency="USD",
            success_url="https://shop.example/ok",
            error_url="https://shop.example/err",
            idempotency_key="key-1",
        )
    assert result == CREATED
    request = script.requests[0]
    assert request.url == "https://gate.example/api/v1/init-payment"
    assert request.headers["Authorization"] == "Token tok_test"
    assert request.headers["Idempotency-Key"] == "key-1"
    assert json.loads(request.content) == {
        "id": "order-1",
        "customerEmail": "a@example.com",
        "amount": "25.00",
        "currency": "USD",
        "successUrl": "https://shop.example/ok",
        "errorUrl": "https://shop.example/err",
    }


def test_init_payment_sends_a_decimal_as_a_string():
    script = Script(answer(201, CREATED))
    client_for(script).init_payment(
        amount=Decimal("0.10"), currency="USD", success_url="https://s/ok", error_url="https://s/e"
    )
    assert json.loads(script.requests[0].content)["amount"] == "0.10"


def test_init_payment_refuses_a_float_amount_before_any_request():
    script = Script(answer(201, CREATED))
    with pytest.raises(TypeError):
        client_for(script).init_payment(
            amount=25.1, currency="USD", success_url="https://s/ok", error_url="https://s/e"
        )
    assert script.requests == []


def test_init_payment_without_id_keeps_one_idempotency_key_across_retries(sleeps):
    script = Script(answer(503), answer(201, CREATED))
    client_for(script).init_payment(
        amount="1.00", currency="USD", success_url="https://s/ok", error_url="https://s/e"
    )
    keys = [r.headers["Idempotency-Key"] for r in script.requests]
    assert len(keys) == 2
    assert keys[0] == keys[1]


def test_an_error_answer_becomes_apaygate_error_and_is_not_retried(sleeps):
    script = Script(answer(400, INVALID))
    with pytest.raises(APayGateError) as caught:
        client_for(script).init_payment(
            id="x",
            amount="1.001",
            currency="USD",
            success_url="https://s/ok",
            error_url="https://s/e",
        )
    error = caught.value
    assert (error.status, error.code, error.message) == (
        400,
        "validation_error",
        "The request has invalid fields.",
    )
    assert error.errors == {"amount": ["Too many decimals."]}
    assert len(script.requests) == 1
    assert sleeps == []


def test_a_5xx_is_retried_with_backoff_then_succeeds(sleeps):
    script = Script(
        answer(502), httpx.Response(500, text="<html>"), answer(200, {"paymentId": "p"})
    )
    assert client_for(script, retry_base_delay=0.1).get_payment("p/1") == {"paymentId": "p"}
    assert len(script.requests) == 3
    assert script.requests[0].url.raw_path == b"/api/v1/payments/p%2F1"
    assert len(sleeps) == 2
    assert 0.05 <= sleeps[0] <= 0.1
    assert 0.1 <= sleeps[1] <= 0.2


def test_retries_are_bounded(sleeps):
    script = Script(
        answer(503, {"status": "error", "code": "provider_unavailable", "message": "m"})
    )
    with pytest.raises(APayGateError) as caught:
        client_for(script, max_retries=2).get_payment("p")
    assert caught.value.code == "provider_unavailable"
    assert len(script.requests) == 3


def test_a_429_waits_for_retry_after(sleeps):
    throttled = answer(
        429, {"status": "error", "code": "rate_limited", "message": "m"}, {"Retry-After": "7"}
    )
    script = Script(throttled, answer(200, {"paymentId": "p"}))
    client_for(script, retry_base_delay=0.01).get_payment("p")
    assert sleeps == [7.0]


def test_a_retry_after_beyond_the_maximum_is_raised_at_once(sleeps):
    throttled = answer(
        429, {"status": "error", "code": "rate_limited", "message": "m"}, {"Retry-After": "120"}
    )
    script = Script(throttled)
    with pytest.raises(APayGateError) as caught:
        client_for(script, max_retry_delay=10).get_payment("p")
    assert caught.value.retry_after == 120
    assert len(script.requests) == 1


def test_a_network_failure_is_retried_and_reported(sleeps):
    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    client = Client(
        token="t",
        base_url="https://gate.example",
        max_retries=1,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(APayGateError) as caught:
        client.get_payment("p")
    assert (caught.value.status, caught.value.code) == (0, "network_error")
    assert len(sleeps) == 1


def test_list_payments_iterates_every_page_on_the_configured_base_url():
    def page(ids, next_url):
        results = [{"paymentId": f"pay_{i}"} for i in ids]
        return answer(200, {"count": 4, "next": next_url, "previous": None, "results": results})

    script = Script(
        page([1, 2], "http://internal:8000/api/v1/payments?limit=2&offset=2&status=succeeded"),
        page([2, 3], "http://internal:8000/api/v1/payments?limit=2&offset=4&status=succeeded"),
        page([4], None),
    )
    ids = [
        p["paymentId"]
        for p in client_for(script).list_payments(status=PaymentStatus.SUCCEEDED, page_size=2)
    ]
    assert ids == ["pay_1", "pay_2", "pay_3", "pay_4"]
    assert [str(r.url) for r in script.requests] == [
        "https://gate.example/api/v1/payments?status=succeeded&limit=2",
        "https://gate.example/api/v1/payments?limit=2&offset=2&status=succeeded",
        "https://gate.example/api/v1/payments?limit=2&offset=4&status=succeeded",
    ]


def test_resend_and_test_postback_post_to_their_routes():
    script = Script(
        answer(202, {"status": "success", "webhookId": "msg_1"}),
        answer(200, {"status": "success", "delivered": True}),
    )
    client = client_for(script)
    assert client.resend_postback("p")["webhookId"] == "msg_1"
    assert client.send_test_postback(url="https://shop.example/pb")["delivered"] is True
    assert [(r.method, r.url.path, r.content) for r in script.requests] == [
        ("POST", "/api/v1/payments/p/postbacks/resend", b"{}"),
        ("POST", "/api/v1/postbacks/test", b'{"url":"https://shop.example/pb"}'),
    ]


def test_async_client_lists_every_page_and_maps_errors(monkeypatch):
    waited: list[float] = []

    async def no_sleep(delay):
        waited.append(delay)

    monkeypatch.setattr(async_client_module.asyncio, "sleep", no_sleep)
    script = Script(
        answer(
            200,
            {
                "count": 2,
                "next": "http://x/api/v1/payments?offset=1",
                "results": [{"paymentId": "a"}],
            },
        ),
        answer(503),
        answer(200, {"count": 2, "next": None, "results": [{"paymentId": "b"}]}),
        answer(404, {"status": "error", "code": "not_found", "message": "No such resource."}),
    )

    async def run():
        http = httpx.AsyncClient(transport=httpx.MockTransport(script))
        async with AsyncClient(
            token="t", base_url="https://gate.example", http_client=http
        ) as client:
            ids = [p["paymentId"] async for p in client.list_payments()]
            with pytest.raises(APayGateError) as caught:
                await client.get_payment("gone")
            return ids, caught.value

    ids, error = asyncio.run(run())
    assert ids == ["a", "b"]
    assert (error.status, error.code) == (404, "not_found")
    assert len(waited) == 1


@pytest.mark.parametrize(
    ("status", "code", "kind"),
    [
        (401, "invalid_token", "AuthenticationError"),
        (403, "merchant_disabled", "AuthenticationError"),
        (429, "rate_limited", "RateLimitError"),
        (400, "validation_error", "InvalidRequestError"),
        (404, "not_found", "InvalidRequestError"),
        (409, "idempotency_conflict", "IdempotencyConflictError"),
        (409, "request_in_progress", "APayGateError"),
        (503, "provider_unavailable", "ProviderUnavailableError"),
        (502, "provider_refused", "ProviderUnavailableError"),
    ],
)
def test_each_kind_of_error_is_its_own_subclass_with_the_request_id(sleeps, status, code, kind):
    import apaygate

    body = {"status": "error", "code": code, "message": "m", "errors": {"amount": ["differs"]}}
    headers = {"X-Request-ID": "req-42", "Retry-After": "3600"}
    script = Script(answer(status, body, headers))
    with pytest.raises(apaygate.APayGateError) as caught:
        client_for(script, max_retries=0).get_payment("p")
    assert type(caught.value).__name__ == kind
    assert isinstance(caught.value, getattr(apaygate, kind))
    assert caught.value.request_id == "req-42"
    assert caught.value.fields == ["amount"]
    assert "[request req-42]" in str(caught.value)


def test_a_network_failure_is_a_network_error():
    import apaygate

    def refuse(request):
        raise httpx.ConnectError("refused", request=request)

    client = Client(
        token="t",
        base_url="https://gate.example",
        max_retries=0,
        http_client=httpx.Client(transport=httpx.MockTransport(refuse)),
    )
    with pytest.raises(apaygate.NetworkError, match="ConnectError: refused"):
        client.get_payment("p")


def test_an_html_answer_says_so_instead_of_quoting_the_html(sleeps):
    page = httpx.Response(404, text="<!DOCTYPE html>...", headers={"Content-Type": "text/html"})
    with pytest.raises(APayGateError) as caught:
        client_for(Script(page), max_retries=0).get_payment("p")
    assert "non-JSON HTML page" in caught.value.message
    assert "<html" not in caught.value.message
