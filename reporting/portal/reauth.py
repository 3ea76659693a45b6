"""Password re-entry under the login throttle: the Developers page and password changes.

A wrong password typed again to reveal or rotate the signing secret, or as the old
password when changing it (portal and admin), is a failed login to django-axes: it counts
against the same username + client address lock as the login forms
(`apaygate/login_throttle.py`), so a stolen session cannot guess the password faster there.
"""

from __future__ import annotations

from django import forms
from django.contrib.auth import authenticate
from django.contrib.auth.forms import PasswordChangeForm
from django.http import HttpRequest


def password_recheck(*, request: HttpRequest, password: str) -> bool:
    """Check the signed-in user's password again, under the login throttle.

    Goes through `authenticate`, so a wrong password is recorded by django-axes and a
    locked-out username + address is refused before the password is even checked; the
    lock-out marks the request, and django-axes' middleware answers it with the lock-out
    page (429).
    """
    user = request.user
    checked = authenticate(request, username=user.get_username(), password=password)
    return checked is not None and checked.pk == user.pk


class ThrottledPasswordChangeForm(PasswordChangeForm):
    """Django's password change, with the old password checked under the login throttle."""

    def __init__(self, user, *args, request: HttpRequest, **kwargs):
        super().__init__(user, *args, **kwargs)
        self.request = request

    def clean_old_password(self) -> str:
        old_password = self.cleaned_data["old_password"]
        if not password_recheck(request=self.request, password=old_password):
            raise forms.ValidationError(
                self.error_messages["password_incorrect"], code="password_incorrect"
            )
        return old_password


class ThrottledPasswordChangeMixin:
    """For a `PasswordChangeView`: the throttled form, given the request."""

    form_class = ThrottledPasswordChangeForm

    def get_form_kwargs(self) -> dict:
        return {**super().get_form_kwargs(), "request": self.request}
