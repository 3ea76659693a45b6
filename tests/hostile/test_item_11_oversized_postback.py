"""Item 11: an oversized provider postback is a JSON 413, not Django's HTML 400."""

from __future__ import annotations

import pytest

from tests.hostile.conftest import assert_error_shape

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("provider", ["sandbox", "tele", "bansky"])
def test_oversized_postback_is_a_json_413(client, settings, provider):
    body = b'{"pad": "' + b"x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + b'"}'

    response = client.post(
        f"/api/payment-verify/{provider}", data=body, content_type="application/json"
    )

    data = assert_error_shape(response, 413)
    assert data["code"] == "payload_too_large"
