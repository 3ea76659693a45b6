"""Whatever arrives, `verify_postback` raises `PostbackVerificationError` and nothing else,
so a handler written as documented (catch it, answer 400) never answers 500."""

from __future__ import annotations

import contextlib
import json
import random
import time

import pytest
from conftest import SAMPLE, sign, signed_postback

from apaygate import PostbackVerificationError, verify_postback


def _headers(**overrides: str) -> dict[str, str]:
    headers = {
        "webhook-id": "msg_test1",
        "webhook-timestamp": str(int(time.time())),
        "webhook-signature": "v1,AAAA",
    }
    headers.update(overrides)
    return headers


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        pytest.param(b'{"event": "\xff\xfe"}', _headers(), id="body-not-utf8"),
        pytest.param(b"{}", _headers(**{"webhook-signature": "v1,***"}), id="signature-bad-base64"),
        pytest.param(
            b"{}", _headers(**{"webhook-signature": "v1,\u00e9t\u00e9"}), id="sig-accents"
        ),
        pytest.param(b"{}", _headers(**{"webhook-signature": "v1,a,b"}), id="signature-3-parts"),
        pytest.param(b"{}", _headers(**{"webhook-signature": "v1"}), id="signature-no-comma"),
        pytest.param(b"{}", _headers(**{"webhook-timestamp": "soon"}), id="timestamp-not-a-number"),
        pytest.param(b"{}", _headers(**{"webhook-timestamp": "nan"}), id="timestamp-nan"),
        pytest.param(b"{}", _headers(**{"webhook-timestamp": "1e400"}), id="timestamp-infinite"),
        pytest.param(b"{}", {}, id="no-headers"),
        pytest.param("\ud800", _headers(), id="lone-surrogate-text"),
    ],
)
def test_a_hostile_postback_raises_only_the_verification_error(secret, body, headers):
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body, headers=headers, secret=secret)


@pytest.mark.parametrize("bad_secret", ["whsec_", "whsec_***", "whsec_\u00e9"])
def test_a_malformed_secret_raises_the_verification_error(bad_secret):
    body, headers = signed_postback(secrets=["whsec_" + "A" * 32], payload=SAMPLE)
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body, headers=headers, secret=bad_secret)


def test_a_signed_body_nested_too_deep_for_json_raises_the_verification_error(secret):
    body = "[" * 200_000 + "]" * 200_000
    timestamp = int(time.time())
    headers = {
        "webhook-id": "msg_deep",
        "webhook-timestamp": str(timestamp),
        "webhook-signature": sign(secret=secret, msg_id="msg_deep", timestamp=timestamp, body=body),
    }
    with pytest.raises(PostbackVerificationError):
        verify_postback(body=body, headers=headers, secret=secret)


def test_a_fractional_timestamp_is_refused_in_words(secret):
    timestamp = int(time.time())
    body = json.dumps(SAMPLE)
    headers = {
        "webhook-id": "msg_test1",
        "webhook-timestamp": f"{timestamp}.0",
        "webhook-signature": sign(
            secret=secret, msg_id="msg_test1", timestamp=timestamp, body=body
        ),
    }
    with pytest.raises(PostbackVerificationError, match="malformed webhook-timestamp"):
        verify_postback(body=body, headers=headers, secret=secret)


# A seeded generator rather than hypothesis: the SDK's tests need nothing but pytest.
PIECES = ["", "v1,", "v1,AAAA", "v1,***", "v2,x", "0", "-1", "1e9", "nan", " ", ",", "\u00e9"]


def _random_text(rng: random.Random) -> str:
    if rng.random() < 0.5:
        return rng.choice(PIECES) + str(int(time.time()) + rng.randint(-600, 600))
    return "".join(chr(rng.randint(0, 0x2FF)) for _ in range(rng.randint(0, 30)))


def test_random_bodies_and_headers_raise_only_the_verification_error():
    rng = random.Random(20261203)
    for _ in range(2000):
        body = rng.randbytes(rng.randint(0, 60)) if rng.random() < 0.5 else _random_text(rng)
        names = ["webhook-id", "webhook-timestamp", "webhook-signature", "x-other"]
        headers = {name: _random_text(rng) for name in names if rng.random() < 0.8}
        with contextlib.suppress(PostbackVerificationError):
            verify_postback(body=body, headers=headers, secret="whsec_" + "A" * 32)
