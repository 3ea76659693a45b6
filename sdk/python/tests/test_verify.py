from __future__ import annotations

import time

import pytest
from conftest import SAMPLE, signed_postback

from apaygate import PaymentStatus, PostbackEvent, PostbackVerificationError, verify_postback


def test_a_correctly_signed_postback_returns_the_typed_event(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    event = verify_postback(body=body, headers=headers, secret=secret)
    assert event.event is PostbackEvent.PAYMENT_SUCCEEDED
    assert event.status is PaymentStatus.SUCCEEDED
    assert event.amount == "25.00"
    assert event.payment_id == "pay_abc"
    assert event.id == "order-1"
    assert event.webhook_id == "msg_test1"


def test_bytes_body_and_header_names_in_any_case(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    headers = {k.title(): v for k, v in headers.items()}
    assert verify_postback(body=body.encode(), headers=headers, secret=secret).currency == "USD"


def test_a_changed_body_is_refused(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body.replace("25.00", "2500.00"), headers=headers, secret=secret)


def test_another_secret_is_refused(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    other = "whsec_" + "A" * 32
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body, headers=headers, secret=other)


@pytest.mark.parametrize("offset", [-301, 301])
def test_a_timestamp_more_than_five_minutes_off_is_refused(secret, offset):
    body, headers = signed_postback(
        secrets=[secret], payload=SAMPLE, timestamp=int(time.time()) + offset
    )
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body, headers=headers, secret=secret)


def test_every_v1_signature_is_tried_so_a_rotated_secret_still_verifies(secret):
    previous = "whsec_" + "B" * 32
    body, headers = signed_postback(secrets=[previous, secret], payload=SAMPLE)
    assert verify_postback(body=body, headers=headers, secret=secret).amount == "25.00"
    assert verify_postback(body=body, headers=headers, secret=previous).amount == "25.00"


def test_several_secrets_may_be_given_while_rotating(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    old = "whsec_" + "C" * 32
    assert verify_postback(body=body, headers=headers, secret=[old, secret]).id == "order-1"


def test_missing_headers_are_refused(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    del headers["webhook-id"]
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body, headers=headers, secret=secret)


def test_a_malformed_signature_header_is_refused_not_crashing(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    headers["webhook-signature"] = "garbage"
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body, headers=headers, secret=secret)


def test_an_unknown_event_is_kept_as_a_string(secret):
    body, headers = signed_postback(secrets=[secret], payload={**SAMPLE, "event": "payment.new"})
    assert verify_postback(body=body, headers=headers, secret=secret).event == "payment.new"


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda h: h.pop("webhook-signature"), "missing header webhook-signature"),
        (lambda h: h.update({"webhook-timestamp": "1000"}), "stale timestamp"),
        (lambda h: h.update({"webhook-timestamp": "soon"}), "malformed webhook-timestamp"),
        (lambda h: h.update({"webhook-signature": "v1,not base64!"}), "malformed signature"),
        (lambda h: h.update({"webhook-signature": "v1,AAAA"}), "no matching signature"),
    ],
)
def test_each_refusal_says_what_is_wrong_in_words(secret, change, words):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    change(headers)
    with pytest.raises(PostbackVerificationError, match=words):
        verify_postback(body=body, headers=headers, secret=secret)


def test_a_body_that_is_not_utf8_is_refused_as_such(secret):
    _body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    with pytest.raises(PostbackVerificationError, match="not UTF-8"):
        verify_postback(body=b"\xff\xfe{}", headers=headers, secret=secret)


def test_a_secret_that_is_not_a_whsec_secret_is_a_configuration_error(secret):
    body, headers = signed_postback(secrets=[secret], payload=SAMPLE)
    with pytest.raises(PostbackVerificationError, match="whsec_"):
        verify_postback(body=body, headers=headers, secret="whsec_a")
