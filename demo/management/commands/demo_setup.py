"""`manage.py demo_setup`: the demo merchant and its test token, created if missing.

Used by `make run`. A token is only ever stored hashed, so the plaintext of the demo
token is kept in `.run/demo-token` (a development file) and reused while it is valid.
"""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from payments.merchants import api_token_issue, merchant_create
from payments.models import ApiToken, ExchangeRate, Merchant, TokenMode
from payments.tokens import token_digest

DEMO_RATES = {"USD": "1", "EUR": "1.08"}


class Command(BaseCommand):
    help = "Create the demo merchant and a test token if missing, and print them."

    def handle(self, *args, **options):
        merchant = Merchant.objects.filter(slug=settings.DEMO_MERCHANT_SLUG).first()
        if merchant is None:
            merchant = merchant_create(
                slug=settings.DEMO_MERCHANT_SLUG, name="Demo Shop", provider="sandbox"
            )
        for currency, rate in DEMO_RATES.items():
            if not ExchangeRate.objects.filter(currency=currency).exists():
                ExchangeRate.objects.create(currency=currency, rate_to_tusd=rate, note="demo")

        key = self._valid_saved_key(merchant)
        if key is None:
            _token, key = api_token_issue(
                merchant=merchant, mode=TokenMode.TEST, label="demo (make run)"
            )
            settings.DEMO_TOKEN_FILE.parent.mkdir(parents=True, exist_ok=True)
            settings.DEMO_TOKEN_FILE.write_text(key + "\n")
            settings.DEMO_TOKEN_FILE.chmod(0o600)

        base = settings.PUBLIC_BASE_URL
        self.stdout.write("")
        self.stdout.write(f"Demo merchant:     {merchant.slug} (provider: sandbox)")
        self.stdout.write(f"Demo shop:         {base}/demo/")
        self.stdout.write(f"Docs:              {base}/docs/   Swagger: {base}/api/docs/")
        self.stdout.write(f"Postback secret:   {merchant.postback_secret}")
        self.stdout.write("Test API token (sandbox):")
        self.stdout.write(key)

    def _valid_saved_key(self, merchant: Merchant) -> str | None:
        path = settings.DEMO_TOKEN_FILE
        if not path.exists():
            return None
        key = path.read_text().strip()
        valid = ApiToken.objects.filter(
            merchant=merchant, digest=token_digest(key), revoked_at__isnull=True
        ).exists()
        return key if valid else None
