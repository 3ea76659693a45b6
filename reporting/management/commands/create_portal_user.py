"""`python manage.py create_portal_user <slug> <email> [--password …]`: a merchant staff login.

Without `--password` the user gets an invite link (printed, and e-mailed when
`--send-invite` is given) where they choose their own password.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from payments.models import Merchant
from reporting.portal.users import (
    PortalUserError,
    portal_invite_send,
    portal_invite_url,
    portal_user_create,
)


class Command(BaseCommand):
    help = "Create a merchant staff login for /portal/ (prints an invite link without --password)."

    def add_arguments(self, parser) -> None:
        parser.add_argument("slug", help="the merchant's slug")
        parser.add_argument("email", help="the login (e-mail address)")
        parser.add_argument("--password", help="set this password instead of sending an invite")
        parser.add_argument(
            "--send-invite", action="store_true", help="also e-mail the invite link"
        )

    def handle(self, *args, slug: str, email: str, password: str | None, **options) -> None:
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            raise CommandError(f"no merchant with slug {slug!r}")
        try:
            membership = portal_user_create(merchant=merchant, email=email, password=password)
        except PortalUserError as exc:
            raise CommandError(str(exc)) from None
        user = membership.user
        if password:
            self.stdout.write(f"Portal user {user.username} created for {merchant.slug}.")
            return
        url = (
            portal_invite_send(user=user)
            if options["send_invite"]
            else portal_invite_url(user=user)
        )
        self.stdout.write(f"Portal user {user.username} created for {merchant.slug}; invite link:")
        self.stdout.write(url)
