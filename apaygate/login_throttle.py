"""Login throttling (django-axes) for every login form: the portal's and the admin's."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from django.contrib.auth.backends import ModelBackend


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
