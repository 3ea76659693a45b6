"""Item 9: a signed postback whose amount is NaN, Infinity or 1e400 is refused.

Refused with 200 and `"status": "error"`: the body is well-signed, so it is the
provider's own and would be sent again unchanged; Standard Webhooks (the sandbox) and the
assumed Tele/Bansky semantics retry every non-2xx answer for days, and a retry cannot
fix it. The payment stays as it was; the refusal is stored as `postback.rejected`.
"""

from __future__ import annotations

import json

import pytest

from payments.models import EventType, PaymentEvent, PaymentStatus
from tests.hostile.conftest import signed_post

pytestmark = pytest.mark.django_db

AMOUNTS = ["NaN", "Infinity", "-Infinity", "1e400", '"NaN"', '"Infinity"', '"1e400"', '"1_000"']
AMOUNTS += ['"\u0661\u0660"', '"\uff11\uff10"', "-5", "1e12", '"10.0.0"', "true", "[1]"]


def body_with_amount(provider: str, payment, amount: str) -> bytes:
    payload = {
        "sandbox": {"paymentId": payment.public_id, "outcome": "success", "currency": "USD"},
        "tele": {"partnerInfo": {"id": payment.public_id}, "status": "paid", "currency": "TUSD"},
        "bansky": {"id": payment.public_id, "status": "success", "currency": "USD"},
    }[provider]
    text = json.dumps({**payload, "amount": "__AMOUNT__"})
    return text.replace('"__AMOUNT__"', amount).encode()


@pytest.mark.parametrize("amount", AMOUNTS)
@pytest.mark.parametrize("provider", ["sandbox", "tele", "bansky"])
def test_signed_postback_with_a_non_finite_amount_is_refused(
    client, provider, amount, pending_payments
):
    payment = pending_payments[provider]

    response = signed_post(client, provider, body_with_amount(provider, payment, amount))

    assert response.status_code == 200
    data = response.json()
    assert data["status"] == "error"
    assert data["code"] in {"invalid_amount", "malformed"}
    assert data["message"]
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.PENDING
    assert payment.paid_amount is None
    assert PaymentEvent.objects.filter(type=EventType.POSTBACK_REJECTED).count() == 1
