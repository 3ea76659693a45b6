"""The CLI contract: create_merchant, issue_token, revoke_token."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from payments.models import ApiToken, Merchant
from payments.tokens import token_digest
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def run(*args) -> list[str]:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip().splitlines()


def test_create_merchant_prints_its_postback_secret_alone_on_the_last_line():
    lines = run("create_merchant", "shop", "--name", "Shop", "--provider", "bansky")

    merchant = Merchant.objects.get(slug="shop")
    assert lines[-1] == merchant.postback_secret
    assert lines[-1].startswith("whsec_")
    assert merchant.provider == "bansky"


def test_create_merchant_refuses_a_duplicate_slug():
    MerchantFactory(slug="shop")
    with pytest.raises(CommandError, match="already exists"):
        run("create_merchant", "shop", "--name", "Shop", "--provider", "tele")


def test_create_merchant_refuses_an_unknown_provider():
    with pytest.raises(CommandError):
        run("create_merchant", "shop", "--name", "Shop", "--provider", "paypal")


@pytest.mark.parametrize(
    ("flag", "prefix", "mode"), [((), "apg_live_", "live"), (("--test",), "apg_test_", "test")]
)
def test_issue_token_prints_the_new_key_alone_on_the_last_line(flag, prefix, mode):
    MerchantFactory(slug="shop", provider="bansky")

    key = run("issue_token", "shop", *flag, "--label", "ci")[-1]

    assert key.startswith(prefix)
    token = ApiToken.objects.get(digest=token_digest(key))
    assert (token.mode, token.label) == (mode, "ci")


def test_issue_token_for_an_unknown_slug_fails():
    with pytest.raises(CommandError, match="no merchant"):
        run("issue_token", "ghost")


def test_revoke_token_by_prefix_and_by_full_key():
    MerchantFactory(slug="shop", provider="bansky")
    first = run("issue_token", "shop")[-1]
    second = run("issue_token", "shop")[-1]

    run("revoke_token", first[:16])
    run("revoke_token", second)

    assert ApiToken.objects.filter(revoked_at__isnull=False).count() == 2


def test_revoke_token_with_unknown_or_short_prefix_fails():
    with pytest.raises(CommandError):
        run("revoke_token", "apg_live_zzzzzzzz")
    with pytest.raises(CommandError, match="at least"):
        run("revoke_token", "apg")


def test_demo_setup_creates_the_demo_merchant_once_and_reuses_its_token(settings, tmp_path):
    settings.DEMO_TOKEN_FILE = tmp_path / "demo-token"

    first = run("demo_setup")[-1]
    second = run("demo_setup")[-1]

    assert first == second
    assert first.startswith("apg_test_")
    assert Merchant.objects.filter(slug=settings.DEMO_MERCHANT_SLUG).count() == 1
    assert ApiToken.objects.get(digest=token_digest(first)).merchant.provider == "sandbox"


def test_demo_setup_issues_a_new_token_when_the_saved_one_was_revoked(settings, tmp_path):
    from payments.merchants import api_token_revoke

    settings.DEMO_TOKEN_FILE = tmp_path / "demo-token"
    first = run("demo_setup")[-1]
    api_token_revoke(token=ApiToken.objects.get(digest=token_digest(first)))

    second = run("demo_setup")[-1]

    assert second != first
    assert (tmp_path / "demo-token").read_text().strip() == second
