from __future__ import annotations

from django.apps import AppConfig


class PaymentsConfig(AppConfig):
    name = "payments"
    verbose_name = "Payments"

    def ready(self) -> None:
        from django.db.models.signals import post_save

        from payments.models import ApiToken, Merchant
        from payments.token_cache import forget_on_save

        # A token revoked or a merchant changed in this process is seen by its next call.
        for model in (ApiToken, Merchant):
            post_save.connect(forget_on_save, sender=model, dispatch_uid=f"token-cache-{model}")
