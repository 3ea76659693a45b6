"""API token authentication, the merchant-active permission, and per-token throttling."""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from datetime import timedelta

import redis
from django.core.cache.backends.locmem import LocMemCache
from django.utils import timezone
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import SimpleRateThrottle

from payments import kv
from payments.models import ApiToken, Merchant
from payments.tokens import token_digest

logger = logging.getLogger(__name__)

KEYWORDS = ("token", "bearer")
# last_used_at is a hint for staff, not an audit record: write it at most once a minute.
LAST_USED_RESOLUTION = timedelta(seconds=60)


@dataclass(frozen=True)
class ApiPrincipal:
    """`request.user` for API calls: the merchant acting through one token."""

    merchant: Merchant
    token: ApiToken
    is_authenticated: bool = True
    is_anonymous: bool = False

    @property
    def is_test(self) -> bool:
        return self.token.is_test


class ApiTokenAuthentication(BaseAuthentication):
    """`Authorization: Token <key>` or `Bearer <key>`.

    The key is hashed and the row found by its digest (indexed); the digests are then
    compared with `hmac.compare_digest`, so the check itself takes constant time.
    """

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower().decode(errors="replace") not in KEYWORDS:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Malformed Authorization header.", code="invalid_token"
            )
        try:
            key = header[1].decode("ascii")
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid token.", code="invalid_token") from None
        digest = token_digest(key)
        token = ApiToken.objects.select_related("merchant").filter(digest=digest).first()
        if token is None or not hmac.compare_digest(token.digest, digest):
            raise exceptions.AuthenticationFailed("Invalid token.", code="invalid_token")
        if token.revoked_at is not None:
            raise exceptions.AuthenticationFailed(
                "This token has been revoked.", code="revoked_token"
            )
        _touch(token)
        return ApiPrincipal(merchant=token.merchant, token=token), token

    def authenticate_header(self, request) -> str:
        return 'Token realm="api"'


def _touch(token: ApiToken) -> None:
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now


class IsActiveMerchant(BasePermission):
    """Authenticated, and the merchant is not disabled (403 `merchant_disabled`)."""

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, ApiPrincipal):
            raise exceptions.NotAuthenticated()
        if not principal.merchant.is_active:
            raise exceptions.PermissionDenied(
                "This merchant is disabled.", code="merchant_disabled"
            )
        return True


class ApiTokenRateThrottle(SimpleRateThrottle):
    """A sliding window per API token (rate `api_token` in settings); 429 with Retry-After.

    The window lives in the shared cache (Redis). When the cache cannot be reached, the
    limit is kept per process instead (a local cache), never answered with a 500: each
    web process then allows up to the full rate until Redis is back. The KV's circuit
    breaker (same Redis) decides, so requests do not each wait on a dead server.
    """

    scope = "api_token"
    local_cache = LocMemCache("api-throttle-fallback", {})

    def allow_request(self, request, view) -> bool:
        if kv.breaker.closed:
            try:
                return super().allow_request(request, view)
            except redis.RedisError as exc:  # Django's Redis cache lets them through
                logger.warning("throttle cache unavailable (%s); limiting locally", exc)
                kv.breaker.record_failure()
        self.cache = self.local_cache
        return super().allow_request(request, view)

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiToken):
            return self.cache_format % {"scope": self.scope, "ident": request.auth.pk}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
