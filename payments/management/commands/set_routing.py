"""`manage.py set_routing <slug> --provider tele --provider bansky` (or `--route "…"`).

Replaces a merchant's provider routing (in order; audited as `merchant.routing`), and
prints the routing now in force, one route per line.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from payments.merchants import MerchantError, merchant_routing_set
from payments.models import Merchant
from payments.routing import ROUTE_LINE_HELP, merchant_routes
from providers.registry import PROVIDERS


class Command(BaseCommand):
    help = "Route a merchant's live payments to providers, in order of preference."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the merchant's slug")
        parser.add_argument(
            "--provider",
            action="append",
            dest="routes",
            choices=sorted(PROVIDERS),
            help="a provider taking every payment; repeat it, in order of preference",
        )
        parser.add_argument("--route", action="append", dest="routes", help=ROUTE_LINE_HELP)

    def handle(self, *args, slug: str, routes: list[str] | None, **options):
        merchant = Merchant.objects.filter(slug=slug).first()
        if merchant is None:
            raise CommandError(f"no merchant with slug {slug!r}")
        if not routes:
            raise CommandError("give at least one --provider (or --route)")
        try:
            merchant = merchant_routing_set(merchant=merchant, routes=routes, actor="cli")
        except MerchantError as exc:
            raise CommandError(str(exc)) from exc
        for line in merchant_routes(merchant):
            self.stdout.write(line.as_line())
