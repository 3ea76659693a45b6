"""Provider postback intake: verify first, apply once under a lock, relay once."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from decimal import Decimal

import pytest
from django.db import transaction

from payments.intake.metrics import UNVERIFIED_POSTBACKS
from payments.intake.services import postback_receive
from payments.models import DeliveryStatus, EventType, PaymentEvent, PaymentStatus, PostbackDelivery
from providers.base import RawPostback
from providers.sandbox import sign_sandbox_postback
from tests.factories import MerchantFactory, PaymentFactory

pytestmark = pytest.mark.django_db


def sandbox_raw(payment, outcome="success", **extra) -> RawPostback:
    payload = {
        "eventId": extra.pop("eventId", f"evt-{payment.public_id}-{outcome}"),
        "reference": payment.provider_reference,
        "paymentId": payment.public_id,
        "outcome": outcome,
        "amount": str(payment.amount),
        "currency": payment.currency,
        **extra,
    }
    body, headers = sign_sandbox_postback(payload)
    return RawPostback(body=body, headers=headers)


def tele_raw(payment, status="paid", *, secret="tele-postback-secret-test", ts=None, **extra):
    body = json.dumps(
        {
            "eventId": extra.pop("eventId", "tele-evt-1"),
            "invoiceId": payment.provider_reference,
            "status": status,
            "amount": str(payment.provider_amount or payment.amount),
            "currency": "TUSD",
            "partnerInfo": {"id": payment.public_id},
            **extra,
        }
    ).encode()
    ts = str(int(time.time())) if ts is None else str(ts)
    sig = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    return RawPostback(
        body=body, headers={"X-Tele-Timestamp": ts, "X-Tele-Signature": f"sha256={sig}"}
    )


def bansky_raw(payment, status="success", *, secret="bansky-postback-secret-test", **extra):
    body = json.dumps(
        {
            "id": payment.public_id,
            "reference": payment.provider_reference,
            "status": status,
            "amount": str(payment.amount),
            "currency": payment.currency,
            **extra,
        }
    ).encode()
    sig = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return RawPostback(body=body, headers={"X-Bansky-Signature": sig})


@pytest.fixture
def payment():
    return PaymentFactory(merchant=MerchantFactory(provider="sandbox"), provider="sandbox")


def test_verified_success_moves_pending_to_succeeded_and_queues_one_postback(payment):
    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))

    payment.refresh_from_db()
    assert (result.http_status, result.code) == (200, "applied")
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.finalized_at is not None
    delivery = PostbackDelivery.objects.get(payment=payment)
    assert delivery.event == "payment.succeeded"
    assert delivery.url == payment.postback_url
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.payload == {
        "event": "payment.succeeded",
        "id": payment.merchant_reference,
        "paymentId": payment.public_id,
        "status": "succeeded",
        "amount": "100.00",
        "currency": "USD",
        "createdAt": delivery.payload["createdAt"],
        "updatedAt": delivery.payload["updatedAt"],
    }
    assert delivery.payload["createdAt"].endswith("Z")
    types = list(PaymentEvent.objects.filter(payment=payment).values_list("type", flat=True))
    assert types == [EventType.POSTBACK_RECEIVED, EventType.PAYMENT_SUCCEEDED]


def test_verified_failure_moves_pending_to_failed(payment):
    postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, "failure"))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.FAILED
    assert PostbackDelivery.objects.get(payment=payment).event == "payment.failed"


def test_duplicate_postback_is_answered_200_and_relayed_once(payment):
    raw = sandbox_raw(payment)

    first = postback_receive(provider_key="sandbox", raw=raw)
    second = postback_receive(provider_key="sandbox", raw=raw)

    assert (first.code, second.http_status, second.code) == ("applied", 200, "duplicate")
    assert PostbackDelivery.objects.filter(payment=payment).count() == 1
    assert (
        PaymentEvent.objects.filter(payment=payment, type=EventType.PAYMENT_SUCCEEDED).count() == 1
    )
    assert (
        PaymentEvent.objects.filter(payment=payment, type=EventType.POSTBACK_DUPLICATE).count() == 1
    )


def test_same_outcome_under_a_new_event_id_is_not_relayed_again(payment):
    postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, eventId="a"))
    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, eventId="b"))

    assert result.code == "duplicate"
    assert PostbackDelivery.objects.filter(payment=payment).count() == 1


def test_forged_postback_changes_nothing_and_is_counted_not_stored(payment):
    raw = sandbox_raw(payment)
    forged = RawPostback(body=raw.body.replace(b"success", b"failure"), headers=raw.headers)
    before = UNVERIFIED_POSTBACKS.labels(provider="sandbox")._value.get()

    result = postback_receive(provider_key="sandbox", raw=forged)

    payment.refresh_from_db()
    assert (result.http_status, result.code) == (400, "invalid_signature")
    assert payment.status == PaymentStatus.PENDING
    assert not PostbackDelivery.objects.exists()
    assert not PaymentEvent.objects.filter(type=EventType.POSTBACK_REJECTED).exists()
    assert UNVERIFIED_POSTBACKS.labels(provider="sandbox")._value.get() == before + 1


def test_postback_signed_with_another_secret_changes_nothing(payment, settings):
    settings.SANDBOX_POSTBACK_SECRET = "not-the-real-one"
    raw = sandbox_raw(payment)
    settings.SANDBOX_POSTBACK_SECRET = ""

    result = postback_receive(provider_key="sandbox", raw=raw)

    payment.refresh_from_db()
    assert result.http_status == 400
    assert payment.status == PaymentStatus.PENDING


def test_stale_tele_postback_changes_nothing():
    payment = PaymentFactory(merchant=MerchantFactory(provider="tele"), provider="tele")
    raw = tele_raw(payment, ts=int(time.time()) - 3600)

    result = postback_receive(provider_key="tele", raw=raw)

    payment.refresh_from_db()
    assert (result.http_status, result.code) == (400, "stale_timestamp")
    assert payment.status == PaymentStatus.PENDING


def test_tele_postback_with_timestamp_swapped_after_signing_is_refused():
    payment = PaymentFactory(merchant=MerchantFactory(provider="tele"), provider="tele")
    raw = tele_raw(payment, ts=int(time.time()) - 10)
    replay = RawPostback(
        body=raw.body, headers={**raw.headers, "X-Tele-Timestamp": str(int(time.time()))}
    )

    result = postback_receive(provider_key="tele", raw=replay)

    assert result.code == "invalid_signature"
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_verified_tele_postback_is_applied():
    payment = PaymentFactory(
        merchant=MerchantFactory(provider="tele"),
        provider="tele",
        provider_amount=Decimal("92.50"),
        provider_currency="TUSD",
    )

    result = postback_receive(provider_key="tele", raw=tele_raw(payment))

    payment.refresh_from_db()
    assert result.code == "applied"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.needs_review is False


def test_replayed_bansky_postback_relays_once():
    payment = PaymentFactory(merchant=MerchantFactory(provider="bansky"), provider="bansky")
    raw = bansky_raw(payment)

    results = [postback_receive(provider_key="bansky", raw=raw) for _ in range(3)]

    assert [r.code for r in results] == ["applied", "duplicate", "duplicate"]
    assert PostbackDelivery.objects.filter(payment=payment).count() == 1


def test_mis_signed_bansky_postback_changes_nothing():
    payment = PaymentFactory(merchant=MerchantFactory(provider="bansky"), provider="bansky")

    result = postback_receive(provider_key="bansky", raw=bansky_raw(payment, secret="wrong"))

    assert result.http_status == 400
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_postback_for_another_providers_payment_is_not_applied():
    payment = PaymentFactory(merchant=MerchantFactory(provider="tele"), provider="tele")

    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))

    assert (result.http_status, result.code) == (200, "unknown_payment")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING


def test_late_conflicting_postback_is_stored_and_flagged_not_applied(payment):
    postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, "success"))

    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, "failure"))

    payment.refresh_from_db()
    assert result.code == "conflict_flagged"
    assert payment.status == PaymentStatus.SUCCEEDED
    assert payment.needs_review is True
    assert "late failed" in payment.review_reason
    assert (
        PaymentEvent.objects.filter(payment=payment, type=EventType.POSTBACK_CONFLICT).count() == 1
    )
    assert PostbackDelivery.objects.filter(payment=payment).count() == 1


def test_underpaid_success_is_flagged_for_review_with_paid_amount_in_postback(payment):
    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, amount="60.00"))

    payment.refresh_from_db()
    assert result.code == "flagged_amount_mismatch"
    assert payment.status == PaymentStatus.PENDING
    assert payment.needs_review is True
    assert payment.paid_amount == Decimal("60.00")
    delivery = PostbackDelivery.objects.get(payment=payment)
    assert delivery.event == "payment.flagged"
    assert delivery.payload["paidAmount"] == "60.00"
    assert delivery.payload["paidCurrency"] == "USD"
    assert delivery.payload["status"] == "pending"


def test_success_in_another_currency_is_flagged_for_review(payment):
    postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, currency="EUR"))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.needs_review is True
    assert "EUR" in payment.review_reason


def test_final_states_never_change(payment):
    payment.status = PaymentStatus.EXPIRED
    payment.save()

    result = postback_receive(provider_key="sandbox", raw=sandbox_raw(payment, "success"))

    payment.refresh_from_db()
    assert result.code == "conflict_flagged"
    assert payment.status == PaymentStatus.EXPIRED


def test_no_postback_without_merchant_id_or_url():
    payment = PaymentFactory(merchant=MerchantFactory(), merchant_reference=None)

    postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    assert not PostbackDelivery.objects.exists()


def test_postback_overtaking_invoice_write_still_applies(payment):
    payment.status = PaymentStatus.CREATED
    payment.save()

    postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED


def test_status_change_and_delivery_roll_back_together(payment):
    # given a failure after the intake's writes, in an outer transaction
    with pytest.raises(RuntimeError), transaction.atomic():
        postback_receive(provider_key="sandbox", raw=sandbox_raw(payment))
        raise RuntimeError("boom")

    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert not PostbackDelivery.objects.exists()


def test_unknown_provider_is_404(payment):
    assert postback_receive(provider_key="nope", raw=sandbox_raw(payment)).http_status == 404
