"""Item 19: the Metabase embed and every dashboard query are locked to the mode the portal
shows, so the embedded numbers never mix test and live payments.

The embed used to lock the merchant only; no question separated test from live. Now the
signed token carries `mode` beside `merchant_id`, provisioning refuses a question without
the `{{mode}}` filter, and every shipped question keeps it outside the optional blocks.
"""

from __future__ import annotations

import re

import jwt
import pytest

from reporting.metabase.embed import metabase_embed_token
from reporting.metabase.provision import (
    CARDS,
    SQL_DIR,
    MetabaseError,
    card_template_tags,
    dashboard_embedding_params,
)
from tests.factories import MerchantFactory, PaymentFactory
from tests.reporting.conftest import PASSWORD

pytestmark = pytest.mark.django_db
SECRET = "mb-embed-secret-for-tests-0123456789abcdef"


@pytest.fixture
def metabase(settings):
    settings.METABASE_SITE_URL = "https://mb.example"
    settings.METABASE_SECRET_KEY = SECRET
    settings.METABASE_DASHBOARD_ID = 3


def _embed_params(client, query: str = "") -> dict:
    html = client.get(f"/portal/{query}").content.decode()
    token = re.search(r"/embed/dashboard/([^\"#]+)#", html).group(1)
    return jwt.decode(token, SECRET, algorithms=["HS256"])["params"]


@pytest.mark.parametrize("mode", ["test", "live"])
def test_the_embed_is_locked_to_the_mode_the_portal_shows(client, metabase, mode):
    from reporting.portal.users import portal_user_create

    merchant = MerchantFactory(provider="bansky")
    PaymentFactory(merchant=merchant, is_test=False)  # the portal shows live once there is one
    login = portal_user_create(merchant=merchant, email="dev@alpha.example", password=PASSWORD)
    client.force_login(login.user)

    params = _embed_params(client, f"?mode={mode}")

    assert params == {"merchant_id": merchant.pk, "mode": mode}


def test_a_token_cannot_be_signed_for_no_mode_or_an_unknown_one():
    merchant = MerchantFactory()
    for mode in ("", "both", "live' OR '1'='1"):
        with pytest.raises(ValueError, match="mode"):
            metabase_embed_token(merchant=merchant, mode=mode, dashboard_id=1, secret=SECRET)


def test_the_mode_is_locked_in_the_dashboard_embedding():
    assert dashboard_embedding_params()["mode"] == "locked"


def test_a_question_without_the_mode_filter_is_refused():
    sql = "SELECT 1 FROM t WHERE merchant_id = {{merchant_id}}"

    with pytest.raises(MetabaseError, match="mode"):
        card_template_tags(sql=sql, card_name="leaky")


def test_every_shipped_question_filters_on_the_mode_outside_optional_blocks():
    for spec in CARDS:
        sql = (SQL_DIR / spec.file).read_text()
        required = re.sub(r"\[\[.*?\]\]", "", sql, flags=re.S)
        # every table read is filtered: as many mode filters as merchant filters
        assert required.count("{{mode}}") == required.count("{{merchant_id}}") > 0, spec.file
        assert card_template_tags(sql=sql, card_name=spec.name)["mode"]["required"] is True
