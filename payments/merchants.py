"""Services for merchants, their API tokens and postback secrets.

The admin, the CLI, the portal's Developers page and the tests all call these, so every
issue, revoke, rotation, reveal and merchant change goes through one place and lands in
the audit trail (`AuditEntry`) with who did it: `staff:<login>`, `portal:user-<id>` or
`cli`. Audit rows never hold a key or a secret, only that the action happened.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import transaction
from django.utils import timezone

from payments.audit import audit_record
from payments.delivery.send import AttemptResult, delivery_send_test
from payments.models import ApiToken, Merchant, TokenMode
from payments.routing import Route, RoutingError, merchant_routes, routes_parse
from payments.tokens import (
    DISPLAY_PREFIX_LENGTH,
    display_prefix,
    postback_secret_generate,
    token_digest,
    token_generate,
)
from providers.registry import PROVIDERS

logger = logging.getLogger(__name__)

SYSTEM_ACTOR = "system"
# Fields an operator may change on a merchant; secrets change only through rotation.
MERCHANT_EDITABLE_FIELDS = ("name", "provider", "is_active", "allowed_return_hosts")


class MerchantError(ValueError):
    """Bad input for a merchant or token operation, worded for the operator."""


def _merchant_target(merchant: Merchant) -> str:
    return f"merchant:{merchant.slug}"


def _routes_read(routes: list[str] | list[Route]) -> list[Route]:
    """Routes from lines (`bansky currency=EUR`) or built ones; a MerchantError if wrong."""
    try:
        if all(isinstance(r, Route) for r in routes):
            if not routes:
                raise RoutingError("a merchant needs at least one provider")
            return list(routes)  # type: ignore[arg-type]
        return routes_parse(routes)  # type: ignore[arg-type]
    except RoutingError as exc:
        raise MerchantError(str(exc)) from exc


def _routing_json(routes: list[Route]) -> list[dict]:
    """What `Merchant.routing` stores: nothing for one unconditional route (as before)."""
    if len(routes) == 1 and routes[0] == Route(routes[0].provider):
        return []
    return [r.as_json() for r in routes]


@transaction.atomic
def merchant_create(
    *,
    slug: str,
    name: str,
    provider: str = "",
    routes: list[str] | list[Route] | None = None,
    actor: str = SYSTEM_ACTOR,
    **fields: Any,
) -> Merchant:
    """Create a merchant with a fresh postback secret (never typed in by anyone).

    `routes` (in order, e.g. `["tele", "bansky"]`) routes it to several providers;
    `provider` alone is the one-provider merchant.
    """
    if routes is None:
        if provider not in PROVIDERS:
            raise MerchantError(
                f"unknown provider {provider!r}; choose one of: {', '.join(PROVIDERS)}"
            )
        routes = [provider]
    parsed = _routes_read(routes)
    provider = parsed[0].provider
    if Merchant.objects.filter(slug=slug).exists():
        raise MerchantError(f"a merchant with slug {slug!r} already exists")
    extra = {k: v for k, v in fields.items() if k in MERCHANT_EDITABLE_FIELDS}
    merchant = Merchant.objects.create(
        slug=slug,
        name=name,
        provider=provider,
        routing=_routing_json(parsed),
        postback_secret=postback_secret_generate(),
        **extra,
    )
    changes = {"name": name, "provider": provider, **{k: str(v) for k, v in extra.items()}}
    if merchant.routing:
        changes["routing"] = [r.as_line() for r in parsed]
    audit_record(
        actor=actor, action="merchant.create", target=_merchant_target(merchant), changes=changes
    )
    logger.info("merchant created: %s (provider %s)", slug, provider)
    return merchant


@transaction.atomic
def merchant_routing_set(
    *, merchant: Merchant, routes: list[str] | list[Route], actor: str
) -> Merchant:
    """Replace the merchant's ordered provider routes; its `provider` becomes the first.

    Each route is a provider with optional rules (`bansky currency=EUR,USD type=fiat
    amount=10..5000`); see payments/routing.py. Audited with the old and new lists.
    """
    parsed = _routes_read(routes)
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    old = [r.as_line() for r in merchant_routes(locked)]
    new = [r.as_line() for r in parsed]
    if old == new:
        return locked
    locked.routing = _routing_json(parsed)
    locked.provider = parsed[0].provider
    locked.save(update_fields=["routing", "provider", "updated_at"])
    audit_record(
        actor=actor,
        action="merchant.routing",
        target=_merchant_target(locked),
        changes={"routing": {"old": old, "new": new}},
    )
    logger.info("merchant %s routed to %s", locked.slug, ", ".join(r.provider for r in parsed))
    return locked


@transaction.atomic
def merchant_update(*, merchant: Merchant, changes: dict[str, Any], actor: str) -> Merchant:
    """Change a merchant's editable fields and record old and new values."""
    unknown = set(changes) - set(MERCHANT_EDITABLE_FIELDS)
    if unknown:
        raise MerchantError(f"these fields cannot be changed here: {', '.join(sorted(unknown))}")
    locked = Merchant.objects.select_for_update().get(pk=merchant.pk)
    diff = {
        name: {"old": getattr(locked, name), "new": value}
        for name, value in changes.items()
        if getattr(locked, name) != value
    }
    if not diff:
        return locked
    if "provider" in changes and changes["provider"] not in PROVIDERS:
        raise MerchantError(f"unknown provider {changes['provider']!r}")
    if "provider" in changes and locked.routing:
        raise MerchantError(
            "this merchant is routed to several providers: change its routing instead"
        )
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.save(update_fields=[*diff, "updated_at"])
    audit_record(
        actor=actor, action="merchant.update", target=_merchant_target(locked), changes=diff
    )
    return locked


@transaction.atomic
def api_token_issue(
    *, merchant: Merchant, mode: str = TokenMode.LIVE, label: str = "", actor: str = SYSTEM_ACTOR
) -> tuple[ApiToken, str]:
    """Create a token and return it with its plaintext key, which is never stored."""
    if mode not in TokenMode.values:
        raise MerchantError(f"mode must be one of: {', '.join(TokenMode.values)}")
    key = token_generate(mode=mode)
    token = ApiToken.objects.create(
        merchant=merchant,
        mode=mode,
        label=label[:100],
        prefix=display_prefix(key),
        digest=token_digest(key),
    )
    audit_record(
        actor=actor,
        action="token.issue",
        target=_merchant_target(merchant),
        changes={"prefix": token.prefix, "mode": mode, "label": token.label},
    )
    logger.info("API token issued: %s… for %s (%s)", token.prefix, merchant.slug, mode)
    return token, key


@transaction.atomic
def api_token_revoke(*, token: ApiToken, actor: str = SYSTEM_ACTOR) -> ApiToken:
    """Revoke a token; revoking twice keeps the first revocation time."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        audit_record(
            actor=actor,
            action="token.revoke",
            target=f"merchant:{token.merchant.slug}",
            changes={"prefix": token.prefix, "mode": token.mode},
        )
        logger.info("API token revoked: %s…", token.prefix)
    return token


def api_token_revoke_by_prefix(*, prefix: str, actor: str = SYSTEM_ACTOR) -> ApiToken:
    """Revoke the one active token whose key starts with `prefix` (or is exactly it)."""
    if len(prefix) < 10:
        raise MerchantError("give at least 10 characters of the token (e.g. apg_live_Ab)")
    active = ApiToken.objects.filter(revoked_at__isnull=True).select_related("merchant")
    if len(prefix) >= DISPLAY_PREFIX_LENGTH:
        exact = active.filter(digest=token_digest(prefix)).first()
        if exact is not None:
            return api_token_revoke(token=exact, actor=actor)
        matches = list(active.filter(prefix=prefix[:DISPLAY_PREFIX_LENGTH]))
    else:
        matches = list(active.filter(prefix__startswith=prefix))
    if not matches:
        raise MerchantError(f"no active token starts with {prefix!r}")
    if len(matches) > 1:
        raise MerchantError(
            f"{len(matches)} active tokens start with {prefix!r}; give more characters"
        )
    return api_token_revoke(token=matches[0], actor=actor)


@transaction.atomic
def merchant_rotate_postback_secret(
    *, merchant: Merchant, overlap_hours: int = 24, actor: str = SYSTEM_ACTOR
) -> str:
    """Start a rotation: the old secret keeps signing (alongside the new) for `overlap_hours`.

    Merchants verify with either secret during the overlap, so they can deploy the new one
    without a window where postbacks fail verification.
    """
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
    audit_record(
        actor=actor,
        action="secret.rotate",
        target=_merchant_target(merchant),
        changes={"overlap_hours": overlap_hours},
    )
    logger.info("postback secret rotated for %s", merchant.slug)
    return merchant.postback_secret


def merchant_postback_secret_reveal(*, merchant: Merchant, actor: str) -> str:
    """Return the current signing secret, recording who looked at it."""
    audit_record(actor=actor, action="secret.reveal", target=_merchant_target(merchant))
    return Merchant.objects.values_list("postback_secret", flat=True).get(pk=merchant.pk)


def merchant_postback_test_send(*, merchant: Merchant, url: str, actor: str) -> AttemptResult:
    """Send a signed test postback to `url` now (portal and API alike) and audit who did.

    Returns the delivery service's `AttemptResult`: status code, duration, error and the
    first part of the answer, which the caller shows as it is.
    """
    result = delivery_send_test(merchant=merchant, url=url)
    audit_record(
        actor=actor,
        action="postback.test",
        target=_merchant_target(merchant),
        changes={"url": url, "status_code": result.status_code, "error": result.error[:200]},
    )
    return result
