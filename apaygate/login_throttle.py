"""Login throttling (django-axes) for every login form and every password re-entry.

The portal's and the admin's login, the Developers page's reveal and rotate of the signing
secret and the password-change page all count against one lock (username + client
address, `AXES_FAILURE_LIMIT` wrong passwords for `AXES_COOLOFF_TIME`).
"""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest


class LoginThrottleBackend(AxesStandaloneBackend, ModelBackend):
    """Check the lock-out first, then the password: one backend for the whole site.

    One backend rather than django-axes' check followed by `ModelBackend`, so that views
    calling `login(request, user)` without naming a backend (the portal's invitation
    page) keep working. A locked-out username+IP is refused before its password is even
    checked. A call without a request (`Client.login` in tests, a management command) has
    no client to throttle, so only the password is checked.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is not None:
            # Raises (and records why) when this username+IP is locked out.
            AxesStandaloneBackend.authenticate(
                self, request, username=username, password=password, **kwargs
            )
        return ModelBackend.authenticate(
            self, request, username=username, password=password, **kwargs
        )


def client_address(request: HttpRequest) -> str:
    """Return the client address to throttle: trust `X-Forwarded-For` only `AXES_PROXY_COUNT` deep.

    Each trusted proxy appends the address it received the request from, so the client is
    the Nth address from the right; anything further left was written by the client and is
    ignored. With no proxy (0) the header is never read: the socket's peer is the client,
    whatever the request says (the web server does not rewrite it either,
    `apaygate/web_worker.py`). A request with fewer addresses than proxies did not come
    through them all: its leftmost address is the best left, and the deploy keeps the web
    port off any network but the proxy's (deploy/README.md).
    """
    peer = request.META.get("REMOTE_ADDR", "")
    count = settings.AXES_PROXY_COUNT
    if count <= 0:
        return peer
    forwarded = [
        part.strip()
        for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
        if part.strip()
    ]
    if not forwarded:
        return peer
    return forwarded[-count] if len(forwarded) >= count else forwarded[0]


def password_recheck(*, request: HttpRequest, password: str) -> bool:
    """Check the signed-in user's password again, under the login throttle.

    Goes through `authenticate`, so a wrong password is a failed login to django-axes
    (counted against this username and address) and a locked-out pair is refused before
    the password is even checked: the Developers page's reveal and rotate and the
    password-change page cannot be used to guess a password faster than the login form.
    A lock-out marks the request; django-axes' middleware answers it with the lock-out
    page (429).
    """
    user = request.user
    checked = authenticate(request, username=user.get_username(), password=password)
    return checked is not None and checked.pk == user.pk
