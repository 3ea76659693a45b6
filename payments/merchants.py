"""Services for merchants and their API tokens (admin, CLI and tests all call these)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.utils import timezone

from payments.models import ApiToken, Merchant, TokenMode
from payments.tokens import (
    DISPLAY_PREFIX_LENGTH,
    display_prefix,
    postback_secret_generate,
    token_digest,
    token_generate,
)
from providers.registry import PROVIDERS

logger = logging.getLogger(__name__)


class MerchantError(ValueError):
    """Bad input for a merchant or token operation, worded for the operator."""


def merchant_create(*, slug: str, name: str, provider: str) -> Merchant:
    """Create a merchant with a fresh postback secret."""
    if provider not in PROVIDERS:
        raise MerchantError(f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}")
    if Merchant.objects.filter(slug=slug).exists():
        raise MerchantError(f"a merchant with slug {slug!r} already exists")
    merchant = Merchant.objects.create(
        slug=slug, name=name, provider=provider, postback_secret=postback_secret_generate()
    )
    logger.info("merchant created: %s (provider %s)", slug, provider)
    return merchant


def api_token_issue(
    *, merchant: Merchant, mode: str = TokenMode.LIVE, label: str = ""
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext key, which is never stored."""
    key = token_generate(mode=mode)
    token = ApiToken.objects.create(
        merchant=merchant,
        mode=mode,
        label=label,
        prefix=display_prefix(key),
        digest=token_digest(key),
    )
    logger.info("API token issued: %s… for %s (%s)", token.prefix, merchant.slug, mode)
    return token, key


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke a token; revoking twice keeps the first revocation time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        logger.info("API token revoked: %s…", token.prefix)
    return token


def api_token_revoke_by_prefix(*, prefix: str) -> ApiToken:
    """Revoke the one active token whose key starts with `prefix` (or is exactly it)."""
    if len(prefix) < 10:
        raise MerchantError("give at least 10 characters of the token (e.g. apg_live_Ab)")
    active = ApiToken.objects.filter(revoked_at__isnull=True)
    if len(prefix) >= DISPLAY_PREFIX_LENGTH:
        exact = active.filter(digest=token_digest(prefix)).first()
        if exact is not None:
            return api_token_revoke(token=exact)
        matches = list(active.filter(prefix=prefix[:DISPLAY_PREFIX_LENGTH]))
    else:
        matches = list(active.filter(prefix__startswith=prefix))
    if not matches:
        raise MerchantError(f"no active token starts with {prefix!r}")
    if len(matches) > 1:
        raise MerchantError(
            f"{len(matches)} active tokens start with {prefix!r}; give more characters"
        )
    return api_token_revoke(token=matches[0])


@transaction.atomic
def merchant_rotate_postback_secret(*, merchant: Merchant, overlap_hours: int = 24) -> str:
    """Start a rotation: the old secret keeps signing (alongside the new) for `overlap_hours`."""
    merchant = Merchant.objects.select_for_update().get(pk=merchant.pk)
    merchant.previous_postback_secret = merchant.postback_secret
    merchant.previous_secret_expires_at = timezone.now() + timezone.timedelta(hours=overlap_hours)
    merchant.postback_secret = postback_secret_generate()
    merchant.save(
        update_fields=[
            "previous_postback_secret",
            "previous_secret_expires_at",
            "postback_secret",
            "updated_at",
        ]
    )
    logger.info("postback secret rotated for %s", merchant.slug)
    return merchant.postback_secret
