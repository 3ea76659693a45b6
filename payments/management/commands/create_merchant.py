"""`manage.py create_merchant <slug> --name "Shop" --provider tele [--provider bansky …]`.

`--provider` may be repeated: the merchant is routed to those providers in that order
(the first healthy one takes a payment). `--route "bansky currency=EUR type=fiat"` adds a
route with rules instead (payments/routing.py). Prints the merchant's postback secret
alone on the last line of stdout.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from payments.merchants import MerchantError, merchant_create
from payments.routing import ROUTE_LINE_HELP
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
            action="append",
            dest="routes",
            choices=sorted(PROVIDERS),
            help=(
                "upstream provider for live payments (test tokens always use the sandbox); "
                "repeat it to route to several, in order of preference"
            ),
        )
        parser.add_argument("--route", action="append", dest="routes", help=ROUTE_LINE_HELP)

    def handle(self, *args, slug: str, name: str, routes: list[str] | None, **options):
        if not routes:
            raise CommandError("give at least one --provider (or --route)")
        try:
            merchant = merchant_create(slug=slug, name=name, routes=routes, actor="cli")
        except MerchantError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Created merchant {merchant.slug} ({merchant.name}) on {', '.join(routes)}."
        )
        self.stdout.write("Postback signing secret (give it to the merchant; shown once):")
        self.stdout.write(merchant.postback_secret)
