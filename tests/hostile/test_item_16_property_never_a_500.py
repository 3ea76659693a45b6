"""Item 16: hypothesis over the provider postback routes, the shopper routes and the
portal's query parameters: never a 5xx, and on postback routes always the JSON shape.

Runs on PostgreSQL like the rest of the suite (NUL bytes and lone surrogates only fail
there). Examples are few and the deadline is off: this is a net for the next hostile
input, not a benchmark.
"""

from __future__ import annotations

import json
from urllib.parse import quote, urlencode

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reporting.portal.users import portal_user_create
from tests.factories import MerchantFactory, PaymentFactory
from tests.hostile.conftest import SIGNERS

pytestmark = pytest.mark.django_db

PROPERTY = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Text that reaches a URL: any code point but surrogates (which no client can encode).
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
nasty_text = st.one_of(
    any_text,
    st.sampled_from(["\x00", "%00", "pay_\x00", "NaN", "1e400", "\n", "../", "' OR 1=1 --"]),
)
json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    nasty_text,
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=3), st.dictionaries(any_text, inner, max_size=3)
    ),
    max_leaves=8,
)
raw_numbers = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-0", "1E-400"])


def assert_postback_answer(response):
    assert response.status_code < 500, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    data = response.json()
    assert data["status"] in {"success", "error"}
    assert isinstance(data["code"], str) and data["code"]
    if data["status"] == "error":
        assert data["message"]


@pytest.fixture
def payments_by_provider(db):
    return {
        key: PaymentFactory(merchant=MerchantFactory(provider=key), provider=key) for key in SIGNERS
    }


def postback_body(provider: str, payment_id, fields: dict, amount_literal: str | None) -> bytes:
    ids = {
        "sandbox": {"paymentId": payment_id, "outcome": fields.pop("outcome", "success")},
        "tele": {"partnerInfo": {"id": payment_id}, "status": fields.pop("status", "paid")},
        "bansky": {"id": payment_id, "status": fields.pop("status", "success")},
    }[provider]
    text = json.dumps({**ids, **fields, "amount": "__AMOUNT__"})
    amount = amount_literal if amount_literal is not None else json.dumps(fields.get("x"))
    return text.replace('"__AMOUNT__"', amount).encode()


@PROPERTY
@given(
    provider=st.sampled_from(sorted(SIGNERS)),
    known_id=st.booleans(),
    other_id=json_values,
    fields=st.dictionaries(
        st.sampled_from(["outcome", "status", "eventId", "reference", "currency", "x"]),
        json_values,
        max_size=4,
    ),
    amount_literal=st.one_of(st.none(), raw_numbers),
    signed=st.booleans(),
)
def test_provider_postbacks_never_answer_5xx(
    payments_by_provider, provider, known_id, other_id, fields, amount_literal, signed
):
    payment_id = payments_by_provider[provider].public_id if known_id else other_id
    body = postback_body(provider, payment_id, dict(fields), amount_literal)
    headers = SIGNERS[provider](body) if signed else {}

    response = Client().post(
        f"/api/payment-verify/{provider}", data=body, content_type="application/json",
        headers=headers,
    )  # fmt: skip

    assert_postback_answer(response)


@PROPERTY
@given(provider=st.sampled_from(sorted(SIGNERS)), body=st.binary(max_size=300))
def test_raw_bytes_to_postback_routes_never_answer_5xx(db, provider, body):
    response = Client().post(
        f"/api/payment-verify/{provider}", data=body, content_type="application/json"
    )

    assert_postback_answer(response)


@PROPERTY
@given(
    route=st.sampled_from(["pay", "success", "error", "status", "status.json"]),
    value=nasty_text,
    known=st.booleans(),
)
def test_shopper_routes_never_answer_5xx(payments_by_provider, route, value, known):
    public_id = payments_by_provider["sandbox"].public_id + value if known else value

    response = Client().get(f"/integration/{route}?" + urlencode({"id": public_id}))

    assert response.status_code < 500
    if response.status_code == 404 and route == "status.json":
        assert response.json()["code"] == "not_found"


@PROPERTY
@given(reference=nasty_text.filter(bool), method=st.sampled_from(["get", "post"]))
def test_sandbox_pay_page_never_answers_5xx(db, reference, method):
    response = getattr(Client(), method)(f"/sandbox/pay/{quote(reference, safe='')}")

    assert response.status_code < 500


@pytest.fixture
def portal_client(db):
    merchant = MerchantFactory(slug="alpha")
    PaymentFactory(merchant=merchant)
    PaymentFactory(merchant=merchant, is_test=True)
    user = portal_user_create(
        merchant=merchant, email="ops@alpha.example", password="x-Pass-42!"
    ).user
    client = Client()
    client.force_login(user)
    return client


PORTAL_KEYS = ["q", "status", "currency", "date_from", "date_to", "mode", "page", "merchant"]


@PROPERTY
@given(
    path=st.sampled_from(["/portal/", "/portal/payments/", "/portal/payments/export.csv"]),
    params=st.dictionaries(st.sampled_from(PORTAL_KEYS), nasty_text, max_size=5),
)
def test_portal_query_parameters_never_answer_5xx(portal_client, path, params):
    response = portal_client.get(path + "?" + urlencode(params))

    assert response.status_code < 500
