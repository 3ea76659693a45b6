"""`manage.py issue_token <slug> [--test] [--label "…"]`: the new key alone on the last line."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from payments.merchants import MerchantError, api_token_issue
from payments.models import Merchant, TokenMode


class Command(BaseCommand):
    help = "Issue an API token for a merchant; the key (shown once) is the last line of output."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the merchant's slug (see create_merchant)")
        parser.add_argument(
            "--test",
            action="store_true",
            help="issue a test token: sandbox payments only, never real money",
        )
        parser.add_argument(
            "--label", default="", help="a note to recognise the token by, e.g. 'shop server'"
        )

    def handle(self, *args, slug: str, test: bool, label: str, **options):
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            raise CommandError(f"no merchant with slug {slug!r}")
        mode = TokenMode.TEST if test else TokenMode.LIVE
        try:
            token, key = api_token_issue(merchant=merchant, mode=mode, label=label, actor="cli")
        except MerchantError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Issued {mode} token {token.prefix}… for {merchant.slug}. It is shown once:"
        )
        self.stdout.write(key)
