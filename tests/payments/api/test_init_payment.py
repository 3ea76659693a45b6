"""POST /api/v1/init-payment: the happy paths, the exact provider JSON, and every error shape."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
import responses
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from payments.kv import kv_cached, kv_get
from payments.models import EventType, Payment, PaymentEvent, PaymentStatus
from payments.tokens import payment_id_generate
from tests.factories import ExchangeRateFactory, MerchantFactory, make_token

TELE_URL = "https://tele.example/api/CreateInvoice"
BANSKY_URL = "https://bansky.example/v1/payments"

BODY = {
    "id": "order-1",
    "customerEmail": "alice@example.com",
    "customerName": "Alice",
    "amount": 100,
    "currency": "USD",
    "successUrl": "https://shop.example/success",
    "errorUrl": "https://shop.example/error",
    "postbackUrl": "https://shop.example/postback",
}


def client_for(merchant, *, mode="live", scheme="Token") -> APIClient:
    _token, key = make_token(merchant=merchant, mode=mode)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{scheme} {key}")
    return client


def post(client, body, **extra):
    return client.post("/api/v1/init-payment", body, format="json", **extra)


@pytest.fixture
def tele(db):
    merchant = MerchantFactory(slug="casino", provider="tele")
    ExchangeRateFactory(currency="USD", rate_to_tusd=Decimal("1.0000000000"))
    ExchangeRateFactory(currency="EUR", rate_to_tusd=Decimal("1.0850000000"))
    return merchant


@pytest.fixture
def bansky(db):
    return MerchantFactory(slug="aimbrella", provider="bansky")


def test_sandbox_payment_answers_with_the_gateway_wrapper_url(api):
    response = post(api, BODY)

    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "success"
    assert data["url"] == f"https://gate.example/integration/pay?id={data['id']}"
    payment = Payment.objects.get(public_id=data["id"])
    assert payment.status == PaymentStatus.PENDING
    assert payment.provider_url.startswith("https://gate.example/sandbox/pay/sbx_")
    assert kv_get(payment.public_id)["provider_url"] == payment.provider_url
    assert list(payment.events.values_list("type", flat=True)) == [
        EventType.PAYMENT_CREATED,
        EventType.INVOICE_CREATED,
    ]


def test_payment_id_is_unguessable(api):
    ids = [post(api, {**BODY, "id": f"o-{i}"}).json()["id"] for i in range(5)]
    ids += [payment_id_generate() for _ in range(300)]

    random_parts = [i.removeprefix("pay_") for i in ids]
    # 192 random bits each, URL-safe base64 (no padding)
    assert all(len(base64.urlsafe_b64decode(p + "=" * (-len(p) % 4))) == 24 for p in random_parts)
    # neither a counter nor a clock: 48-bit prefixes of 305 random ids never repeat
    assert len({p[:8] for p in random_parts}) == len(random_parts)


@responses.activate
def test_tele_receives_exactly_the_seed_json_with_our_ids_and_urls(tele):
    responses.post(TELE_URL, json={"url": "https://pay.tele.example/i/abc", "invoiceId": "inv-1"})
    client = client_for(tele)

    response = post(client, {**BODY, "currency": "EUR", "amount": "100.00"})

    assert response.status_code == 201, response.json()
    payment = Payment.objects.get(public_id=response.json()["id"])
    sent = json.loads(responses.calls[0].request.body)
    assert sent == {
        "amount": 108.5,
        "currency": "TUSD",
        "appId": "app-test-42",
        "partnerInfo": {
            "id": payment.public_id,
            "email": "alice@example.com",
            "name": "Alice",
            "successUrl": f"https://gate.example/integration/success?id={payment.public_id}",
            "errorUrl": f"https://gate.example/integration/error?id={payment.public_id}",
            "postbackUrl": "https://gate.example/api/payment-verify/tele",
        },
    }
    assert responses.calls[0].request.headers["Authorization"] == "Bearer tele-token-test"
    assert payment.provider_amount == Decimal("108.50")
    assert payment.exchange_rate == Decimal("1.085")
    assert payment.provider_reference == "inv-1"


@responses.activate
def test_tele_currency_defaults_to_teleusd_without_conversion(tele):
    responses.post(TELE_URL, json={"url": "https://pay.tele.example/i/abc"})
    body = {k: v for k, v in BODY.items() if k != "currency"}

    response = post(client_for(tele), body)

    assert response.status_code == 201
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert (payment.currency, payment.exchange_rate) == ("TUSD", Decimal(1))
    assert json.loads(responses.calls[0].request.body)["amount"] == 100


@responses.activate
def test_tele_rounds_converted_amount_half_up_to_cents(tele):
    ExchangeRateFactory(currency="GBP", rate_to_tusd=Decimal("1.2345"))
    responses.post(TELE_URL, json={"url": "https://pay.tele.example/i/abc"})

    post(client_for(tele), {**BODY, "currency": "GBP", "amount": "10.10"})

    # 10.10 * 1.2345 = 12.46845 -> 12.47
    assert json.loads(responses.calls[0].request.body)["amount"] == 12.47


def test_tele_without_a_rate_is_a_clear_400_and_nothing_is_stored(tele):
    response = post(client_for(tele), {**BODY, "currency": "JPY", "amount": 1000})

    assert response.status_code == 400
    assert response.json()["code"] == "exchange_rate_missing"
    assert not Payment.objects.exists()


@responses.activate
def test_bansky_receives_exactly_the_seed_json_from_the_seed_spellings(bansky):
    responses.post(BANSKY_URL, json={"url": "https://pay.bansky.example/p/9", "reference": "b-9"})
    seed_body = {
        "id": "sddc",
        "email": "bob@example.com",
        "name": "UserName",
        "amount": 100,
        "currency": "USD",
        "type": "fiat",
        "sussessUrl": "https://shop.example/success",
        "errorUrl": "https://shop.example/error",
        "postbackUrl": "https://shop.example/api/payment-verify",
    }

    response = post(client_for(bansky), seed_body)

    assert response.status_code == 201, response.json()
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert json.loads(responses.calls[0].request.body) == {
        "id": payment.public_id,
        "email": "bob@example.com",
        "name": "UserName",
        "amount": 100,
        "currency": "USD",
        "type": "fiat",
        "successUrl": f"https://gate.example/integration/success?id={payment.public_id}",
        "errorUrl": f"https://gate.example/integration/error?id={payment.public_id}",
        "postbackUrl": "https://gate.example/api/payment-verify/bansky",
    }
    assert payment.success_url == "https://shop.example/success"
    assert payment.merchant_reference == "sddc"


def test_bansky_requires_the_customer_email(bansky):
    body = {k: v for k, v in BODY.items() if k != "customerEmail"}

    response = post(client_for(bansky), body)

    assert response.status_code == 400
    assert "customerEmail" in response.json()["errors"]


def test_test_tokens_use_the_sandbox_whatever_the_merchant_provider(bansky):
    response = post(client_for(bansky, mode="test"), BODY)

    assert response.status_code == 201
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert (payment.provider, payment.is_test) == ("sandbox", True)


def test_bearer_scheme_is_accepted(merchant):
    assert post(client_for(merchant, scheme="Bearer"), BODY).status_code == 201


@responses.activate
@pytest.mark.parametrize(
    ("provider_reply", "status", "code"),
    [
        ({"status": 500}, 502, "provider_refused"),
        ({"status": 422, "json": {"error": "bad"}}, 502, "provider_refused"),
        ({"status": 503}, 503, "provider_unavailable"),
        ({"body": __import__("requests").ConnectionError("refused")}, 503, "provider_unavailable"),
        ({"body": __import__("requests").ReadTimeout("slow")}, 504, "provider_timeout"),
        ({"json": {"no": "url"}}, 502, "provider_refused"),
    ],
)
def test_provider_failure_keeps_the_payment_as_provider_error(bansky, provider_reply, status, code):
    responses.post(BANSKY_URL, **provider_reply)

    response = post(client_for(bansky), BODY)

    assert response.status_code == status
    assert response.json()["code"] == code
    payment = Payment.objects.get()
    assert payment.status == PaymentStatus.PROVIDER_ERROR
    assert payment.events.filter(type=EventType.PROVIDER_ERROR).exists()


@responses.activate
def test_same_id_and_fields_replays_the_answer_without_calling_the_provider(bansky):
    responses.post(BANSKY_URL, json={"url": "https://pay.bansky.example/p/9"})
    client = client_for(bansky)

    first = post(client, BODY)
    second = post(client, BODY)

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json() == second.json()
    assert len(responses.calls) == 1
    assert Payment.objects.count() == 1


def test_same_id_with_other_fields_is_a_409(api):
    post(api, BODY)

    response = post(api, {**BODY, "amount": 101})

    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"


def test_idempotency_key_header_protects_requests_without_id(api):
    body = {k: v for k, v in BODY.items() if k != "id"}

    first = post(api, body, HTTP_IDEMPOTENCY_KEY="k-1")
    second = post(api, body, HTTP_IDEMPOTENCY_KEY="k-1")
    third = post(api, body, HTTP_IDEMPOTENCY_KEY="k-2")

    assert first.json()["id"] == second.json()["id"] != third.json()["id"]
    assert second.status_code == 200


# A replay of a provider failure: tests/payments/api/test_retry_after_decline.py (a new
# attempt under the same id; the same error under the same Idempotency-Key).


@responses.activate
def test_crypto_type_without_a_currency_is_refused_for_tele(tele):
    body = {k: v for k, v in BODY.items() if k != "currency"}

    response = post(client_for(tele), {**body, "type": "crypto"})

    assert response.status_code == 400
    assert "type" in response.json()["errors"]
    assert not responses.calls


def test_the_site_root_leads_to_the_docs(client):
    response = client.get("/")
    assert (response.status_code, response["Location"]) == (302, "/docs/")


def test_invoice_is_stored_even_when_a_postback_overtook_it(bansky):
    # given a provider whose postback arrives before its invoice answer does
    def provider_answers_late(request):
        payment = Payment.objects.get(public_id=json.loads(request.body)["id"])
        Payment.objects.filter(pk=payment.pk).update(status=PaymentStatus.SUCCEEDED)
        return 200, {}, json.dumps({"url": "https://pay.bansky.example/p/7", "reference": "b-7"})

    with responses.RequestsMock() as mock:
        mock.add_callback(responses.POST, BANSKY_URL, callback=provider_answers_late)
        # when
        response = post(client_for(bansky), BODY)

    # then the invoice is kept, the verified status is not overwritten, no KV entry
    payment = Payment.objects.get()
    assert response.status_code == 201
    assert (payment.status, payment.provider_reference) == (PaymentStatus.SUCCEEDED, "b-7")
    assert payment.provider_url == "https://pay.bansky.example/p/7"
    assert kv_cached(payment.public_id) is None


def test_the_same_amount_written_differently_is_the_same_request(api):
    first = post(api, {**BODY, "amount": 100})
    second = post(api, {**BODY, "amount": "100.00"})

    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


def test_a_whole_json_number_is_taken_as_an_integer_id_and_name(api):
    # OpenAPI 3.1 (JSON Schema) counts 12.0 as an integer, as clients do.
    response = post(api, {**BODY, "id": 1234.0, "customerName": -12287.0})

    assert response.status_code == 201, response.json()
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert (payment.merchant_reference, payment.customer_name) == ("1234", "-12287")


@responses.activate
def test_init_payment_costs_five_queries(bansky, django_assert_num_queries):
    # given a token already stamped as used (that write happens once a minute)
    responses.post(BANSKY_URL, json={"url": "https://pay.bansky.example/p/9", "reference": "b-9"})
    client = client_for(bansky)
    post(client, {**BODY, "id": "warm-up"})

    # when: the token; the payment and its event in one statement (here in a savepoint, as
    # the test runs inside a transaction; in production it needs none); the invoice, the
    # move to pending and its event in one statement (sql.update_with_child)
    with django_assert_num_queries(5):
        response = post(client, BODY)

    # then
    assert response.status_code == 201
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert (payment.status, payment.provider_reference) == (PaymentStatus.PENDING, "b-9")
    assert payment.provider_url == "https://pay.bansky.example/p/9"


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_outside_a_transaction_the_payment_and_its_event_are_one_statement():
    # given a merchant, the gateway in autocommit as in production (no test transaction)
    merchant = MerchantFactory(slug="aimbrella", provider="bansky")
    responses.post(BANSKY_URL, json={"url": "https://pay.bansky.example/p/1", "reference": "b-1"})
    client = client_for(merchant)
    post(client, {**BODY, "id": "warm-up"})

    # when the payment is made, then the same id comes with another body
    with CaptureQueriesContext(connection) as queries:
        response = post(client, BODY)
        again = post(client, {**BODY, "amount": 5})

    # then the payment's INSERT carries its event, without a savepoint around it
    assert (response.status_code, again.status_code) == (201, 409)
    statements = [q["sql"] for q in queries.captured_queries]
    creating = [
        s for s in statements if s.startswith('WITH parent AS (INSERT INTO "payments_payment"')
    ]
    assert len(creating) == 2  # the second one is refused by the unique id
    assert 'INSERT INTO "payments_paymentevent"' in creating[0]
    assert not [s for s in statements if "SAVEPOINT" in s]
    # and the refused one left no payment and no event behind
    assert Payment.objects.filter(merchant=merchant).count() == 2
    payment = Payment.objects.get(public_id=response.json()["id"])
    assert payment.events.filter(type=EventType.PAYMENT_CREATED).count() == 1
    assert PaymentEvent.objects.filter(type=EventType.PAYMENT_CREATED).count() == 2


@pytest.mark.django_db(transaction=True)
@responses.activate
def test_outside_a_transaction_the_invoice_its_move_and_its_event_are_one_statement():
    # given the gateway in autocommit, as in production
    merchant = MerchantFactory(slug="aimbrella", provider="bansky")
    responses.post(BANSKY_URL, json={"url": "https://pay.bansky.example/p/2", "reference": "b-2"})
    client = client_for(merchant)
    post(client, {**BODY, "id": "warm-up"})

    with CaptureQueriesContext(connection) as queries:
        response = post(client, BODY)

    # then one UPDATE carries the invoice's event, with no transaction around it
    assert response.status_code == 201
    statements = [q["sql"] for q in queries.captured_queries]
    # the token, the payment + event, the invoice + event
    assert len(statements) == 3, statements
    assert statements[2].startswith('WITH moved AS (UPDATE "payments_payment"')
    payment = Payment.objects.get(public_id=response.json()["id"])
    event = payment.events.get(type=EventType.INVOICE_CREATED)
    assert (payment.status, payment.provider_reference) == (PaymentStatus.PENDING, "b-2")
    assert (event.status, event.provider, event.payload) == (
        PaymentStatus.PENDING,
        "bansky",
        {"provider_reference": "b-2"},
    )
    assert event.merchant_id == merchant.pk


@responses.activate
def test_a_postback_that_overtook_the_invoice_keeps_its_status_and_the_invoice_is_stored(bansky):
    # given the provider answers, but a verified paid postback moved the payment on first
    from payments.models import Payment as PaymentModel

    def overtaken(request):
        PaymentModel.objects.filter(status=PaymentStatus.CREATED).update(
            status=PaymentStatus.SUCCEEDED
        )
        return (200, {}, json.dumps({"url": "https://pay.bansky.example/p/3", "reference": "b-3"}))

    responses.add_callback(responses.POST, BANSKY_URL, callback=overtaken)

    response = post(client_for(bansky), BODY)

    # then the payment keeps its final status, the invoice is stored, its event recorded once
    payment = Payment.objects.get(merchant_reference=BODY["id"])
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.provider_reference == "b-3"
    events = list(payment.events.filter(type=EventType.INVOICE_CREATED))
    assert [e.status for e in events] == [PaymentStatus.SUCCEEDED]
    assert response.status_code == 201
