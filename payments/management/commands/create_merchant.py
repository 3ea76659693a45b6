"""`manage.py create_merchant <slug> --name "Shop" --provider sandbox|tele|bansky`.

Prints the merchant's postback secret alone on the last line of stdout.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from payments.merchants import MerchantError, merchant_create
from providers.registry import PROVIDERS


class Command(BaseCommand):
    help = "Create a merchant; its postback signing secret (whsec_…) is the last line of output."

    def add_arguments(self, parser):
        parser.add_argument(
            "slug", help="short unique id, e.g. acme-shop (letters, digits, - and _)"
        )
        parser.add_argument("--name", required=True, help="display name shown to shoppers")
        parser.add_argument(
            "--provider",
            required=True,
            choices=sorted(PROVIDERS),
            help="upstream provider for live payments (test tokens always use the sandbox)",
        )

    def handle(self, *args, slug: str, name: str, provider: str, **options):
        try:
            merchant = merchant_create(slug=slug, name=name, provider=provider, actor="cli")
        except MerchantError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Created merchant {merchant.slug} ({merchant.name}) on {provider}.")
        self.stdout.write("Postback signing secret (give it to the merchant; shown once):")
        self.stdout.write(merchant.postback_secret)
