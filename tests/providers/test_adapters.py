"""Provider adapters on their own: postback verification and mapping, amount encoding.

No ORM here: adapters take raw bytes and headers and return frozen dataclasses.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest

from payments.models import Merchant, Payment
from providers.base import InvoiceRequest, PostbackRejected, ProviderError, RawPostback
from providers.jsonnum import json_number
from providers.registry import PROVIDERS, get_provider, provider_choices
from providers.sandbox import sign_sandbox_postback


def tele_postback(body: dict, *, secret="tele-postback-secret-test", timestamp=None) -> RawPostback:
    raw = json.dumps(body).encode()
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = hmac.new(secret.encode(), ts.encode() + b"." + raw, hashlib.sha256).hexdigest()
    headers = {"X-Tele-Timestamp": ts, "X-Tele-Signature": f"sha256={signature}"}
    return RawPostback(body=raw, headers=headers)


def bansky_postback(body: dict, *, secret="bansky-postback-secret-test") -> RawPostback:
    raw = json.dumps(body).encode()
    signature = hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
    return RawPostback(body=raw, headers={"X-Bansky-Signature": signature})


TELE_BODY = {
    "eventId": "evt-1",
    "invoiceId": "inv-1",
    "status": "paid",
    "amount": 108.5,
    "currency": "TUSD",
    "partnerInfo": {"id": "pay_abc"},
}


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("paid", "succeeded"),
        ("cancelled", "failed"),
        ("expired", "expired"),
        ("pending", "pending"),
    ],
)
def test_tele_maps_its_statuses_to_ours(status, outcome):
    event = get_provider("tele").parse_postback(tele_postback({**TELE_BODY, "status": status}))

    assert (event.payment_id, event.outcome) == ("pay_abc", outcome)
    assert event.paid_amount == Decimal("108.5")
    assert (event.provider_reference, event.event_id) == ("inv-1", "evt-1")


@pytest.mark.parametrize(
    ("make_raw", "code"),
    [
        # Signed when the test runs, not when pytest collects it: a long suite would
        # otherwise make every timestamp stale.
        (lambda: tele_postback(TELE_BODY, secret="wrong"), "invalid_signature"),
        (lambda: tele_postback(TELE_BODY, timestamp=int(time.time()) - 3600), "stale_timestamp"),
        (lambda: tele_postback({**TELE_BODY, "status": "weird"}), "malformed"),
        (lambda: tele_postback({**TELE_BODY, "partnerInfo": {}}), "malformed"),
        (lambda: RawPostback(body=b"{}", headers={}), "invalid_timestamp"),
    ],
)
def test_tele_refuses_what_it_cannot_verify_or_map(make_raw, code):
    with pytest.raises(PostbackRejected) as refused:
        get_provider("tele").parse_postback(make_raw())
    assert refused.value.code == code


def test_tele_refuses_everything_when_its_secret_is_not_configured(settings):
    settings.TELE_POSTBACK_SECRET = ""
    with pytest.raises(PostbackRejected) as refused:
        get_provider("tele").parse_postback(tele_postback(TELE_BODY, secret=""))
    assert refused.value.code == "not_configured"


def test_bansky_verifies_the_raw_body_and_maps_its_statuses():
    raw = bansky_postback(
        {"id": "pay_x", "reference": "b-1", "status": "success", "amount": "10.00"}
    )

    event = get_provider("bansky").parse_postback(raw)

    assert (event.payment_id, event.outcome, event.paid_amount) == (
        "pay_x",
        "succeeded",
        Decimal("10.00"),
    )


def test_bansky_refuses_a_body_changed_after_signing():
    raw = bansky_postback({"id": "pay_x", "status": "success", "amount": "10.00"})
    tampered = RawPostback(body=raw.body.replace(b"10.00", b"1.00"), headers=raw.headers)

    with pytest.raises(PostbackRejected) as refused:
        get_provider("bansky").parse_postback(tampered)
    assert refused.value.code == "invalid_signature"


def test_sandbox_postbacks_are_really_verified():
    body, headers = sign_sandbox_postback(
        {"paymentId": "pay_s", "outcome": "failure", "reference": "sbx_1"}
    )

    event = get_provider("sandbox").parse_postback(RawPostback(body=body, headers=headers))
    assert (event.payment_id, event.outcome) == ("pay_s", "failed")

    with pytest.raises(PostbackRejected):
        get_provider("sandbox").parse_postback(RawPostback(body=body + b" ", headers=headers))


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (Decimal("100"), 100),
        (Decimal("100.00"), 100),
        (Decimal("12.47"), 12.47),
        (Decimal("999999999999.99"), 999999999999.99),
        (Decimal("123456789012.12345678"), "123456789012.12345678"),
    ],
)
def test_amounts_are_json_numbers_when_exact_and_strings_otherwise(value, encoded):
    assert json_number(value) == encoded
    assert type(json_number(value)) is type(encoded)


def test_every_registered_provider_is_a_model_choice():
    registered = set(PROVIDERS)

    for model in (Merchant, Payment):
        choices = {key for key, _label in model._meta.get_field("provider").choices}
        assert choices == registered, model.__name__
    assert {key for key, _label in provider_choices()} == {"tele", "bansky", "sandbox"}


def test_tele_refuses_an_invoice_without_a_tusd_amount():
    # Billing the merchant's EUR amount as TUSD would charge the wrong sum.
    request = InvoiceRequest(
        payment_id="pay_t",
        amount=Decimal("10.00"),
        currency="EUR",
        payment_type="fiat",
        customer_email="",
        customer_name="",
        provider_amount=None,
        provider_currency="",
        success_url="https://gate.example/s",
        error_url="https://gate.example/e",
        postback_url="https://gate.example/p",
    )

    with pytest.raises(ProviderError) as refused:
        get_provider("tele").create_invoice(request)
    assert refused.value.permanent
