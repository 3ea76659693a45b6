"""`manage.py revoke_token <token-prefix>`."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from payments.merchants import MerchantError, api_token_revoke_by_prefix


class Command(BaseCommand):
    help = "Revoke the active token whose key starts with the given prefix (10+ characters)."

    def add_arguments(self, parser):
        parser.add_argument(
            "prefix", help="the key, or its first 10+ characters (e.g. apg_live_AbCdE)"
        )

    def handle(self, *args, prefix: str, **options):
        try:
            token = api_token_revoke_by_prefix(prefix=prefix, actor="cli")
        except MerchantError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Revoked {token.prefix}… of {token.merchant.slug}.")
