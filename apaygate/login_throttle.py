"""Login throttling (django-axes) for every login form: the portal's and the admin's."""

from __future__ import annotations

from axes.backends import AxesStandaloneBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """Refuse a locked-out username+IP before its password is even checked.

    Every login view passes the request (Django's `LoginView`, the admin). A call without
    one (`Client.login` in tests, a management command) has no client to throttle, so it
    is left to the next backend instead of raising as django-axes' own backend does.
    """

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
