"""Item 13: amounts are ASCII digits with at most one dot."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import Payment

pytestmark = pytest.mark.django_db

BODY = {
    "id": "o-1",
    "currency": "USD",
    "successUrl": "https://shop.example/ok",
    "errorUrl": "https://shop.example/ko",
}


@pytest.mark.parametrize(
    "amount",
    [
        "1_000",
        "\u0661\u0660\u0660",  # Arabic-Indic 100
        "\uff11\uff10\uff10",  # fullwidth 100
        "\u0967\u0966",  # Devanagari 10
        " 10",
        "10 ",
        "+10",
        "1e3",
        "10.",
        "1.0.0",
        "NaN",
        "Infinity",
        "0x10",
    ],
)
def test_an_amount_that_is_not_plain_ascii_digits_is_refused(api, amount):
    response = api.post("/api/v1/init-payment", {**BODY, "amount": amount}, format="json")

    assert response.status_code == 400
    assert "amount" in response.json()["errors"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(("amount", "stored"), [("10", "10"), ("10.50", "10.5"), (".5", "0.5")])
def test_plain_ascii_amounts_are_accepted(api, amount, stored):
    response = api.post("/api/v1/init-payment", {**BODY, "amount": amount}, format="json")

    assert response.status_code == 201, response.json()
    assert Payment.objects.get().amount == Decimal(stored)
