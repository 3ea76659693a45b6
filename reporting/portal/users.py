"""Services for merchant portal logins: create them, invite them, resolve their merchant."""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode

from payments.models import Merchant
from reporting.models import PortalMembership

logger = logging.getLogger(__name__)


class PortalUserError(ValueError):
    """Bad input for a portal user operation, worded for the operator."""


def _mask_email(email: str) -> str:
    """Keep log lines free of full addresses (see COMMON security rules)."""
    local, _, domain = email.partition("@")
    return f"{local[:1]}***@{domain}"


@transaction.atomic
def portal_user_create(
    *, merchant: Merchant, email: str, password: str | None = None
) -> PortalMembership:
    """Create a login for `merchant`'s staff; without a password it can only be activated by invite.

    The username is the e-mail address (lower-cased) so staff log in with what they know.
    """
    email = email.strip().lower()
    if "@" not in email:
        raise PortalUserError(f"{email!r} is not an e-mail address")
    user_model = get_user_model()
    if user_model.objects.filter(username=email).exists():
        raise PortalUserError("a user with this e-mail already exists")
    user = user_model(username=email, email=email, is_staff=False, is_superuser=False)
    if password:
        try:
            validate_password(password, user=user)
        except Exception as exc:  # ValidationError carries a list of messages
            messages = getattr(exc, "messages", [str(exc)])
            raise PortalUserError("; ".join(messages)) from None
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.save()
    membership = PortalMembership.objects.create(user=user, merchant=merchant)
    logger.info("portal user created: %s for %s", _mask_email(email), merchant.slug)
    return membership


def portal_invite_url(*, user) -> str:
    """Return a one-time link where the user sets their password (Django's reset token).

    The token is bound to the password hash and last login, so it stops working once used.
    """
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    path = reverse("portal:invite", kwargs={"uidb64": uid, "token": token})
    return f"{settings.PUBLIC_BASE_URL}{path}"


def portal_invite_send(*, user) -> str:
    """E-mail the invite link to the user and return it (the admin shows it too)."""
    url = portal_invite_url(user=user)
    merchant = user.portal_membership.merchant
    send_mail(
        subject=f"Your APayGate portal access for {merchant.name}",
        message=(
            f"You have been given access to the APayGate merchant portal for {merchant.name}.\n\n"
            f"Set your password here (the link works once):\n{url}\n"
        ),
        from_email=None,
        recipient_list=[user.email],
    )
    logger.info("portal invite sent to %s", _mask_email(user.email))
    return url


def portal_invite_send_on_commit(*, user) -> None:
    """E-mail the invite once the surrounding transaction commits (never inside it).

    The admin saves inside a transaction: sending there would mail a link for a user that
    a rollback then removes, and would hold the transaction open during SMTP.
    """
    transaction.on_commit(lambda: portal_invite_send(user=user))
