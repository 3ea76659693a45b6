from __future__ import annotations

from pathlib import Path

import apaygate
from apaygate import PaymentStatus, PostbackEvent


def test_payment_statuses_are_the_wire_strings():
    assert {s.name: s.value for s in PaymentStatus} == {
        "CREATED": "created",
        "PENDING": "pending",
        "SUCCEEDED": "succeeded",
        "FAILED": "failed",
        "EXPIRED": "expired",
        "PROVIDER_ERROR": "provider_error",
    }
    assert PaymentStatus.SUCCEEDED == "succeeded"
    assert f"{PaymentStatus.PROVIDER_ERROR}" == "provider_error"


def test_postback_events_are_the_wire_strings():
    assert [e.value for e in PostbackEvent] == [
        "payment.succeeded",
        "payment.failed",
        "payment.expired",
        "payment.flagged",
        "postback.test",
    ]
    assert str(PostbackEvent.POSTBACK_TEST) == "postback.test"


def test_final_statuses():
    assert [s for s in PaymentStatus if s.is_final] == [
        PaymentStatus.SUCCEEDED,
        PaymentStatus.FAILED,
        PaymentStatus.EXPIRED,
        PaymentStatus.PROVIDER_ERROR,
    ]


def test_the_sdk_is_imported_not_the_gateways_django_package():
    # The gateway's repository has its own `apaygate` (Django project) at its root.
    assert (Path(apaygate.__file__).parent / "py.typed").exists()
    assert hasattr(apaygate, "Client")
