"""factory_boy factories for the suite."""

from __future__ import annotations

from decimal import Decimal

import factory

from payments.models import ApiToken, ExchangeRate, Merchant, Payment, PaymentStatus, TokenMode
from payments.tokens import payment_id_generate, postback_secret_generate


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    slug = factory.Sequence(lambda n: f"shop-{n}")
    name = factory.Sequence(lambda n: f"Shop {n}")
    provider = "sandbox"
    postback_secret = factory.LazyFunction(postback_secret_generate)


def make_token(
    *, merchant: Merchant | None = None, mode: str = TokenMode.LIVE
) -> tuple[ApiToken, str]:
    """Issue a real token through the service; return it with its plaintext key."""
    from payments.merchants import api_token_issue

    return api_token_issue(merchant=merchant or MerchantFactory(), mode=mode, label="test")


class PaymentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Payment

    public_id = factory.LazyFunction(payment_id_generate)
    merchant = factory.SubFactory(MerchantFactory)
    provider = factory.LazyAttribute(lambda o: o.merchant.provider)
    merchant_reference = factory.Sequence(lambda n: f"order-{n}")
    request_fingerprint = "0" * 64
    customer_email = "shopper@example.com"
    customer_name = "Shopper"
    amount = Decimal("100.00")
    currency = "USD"
    payment_type = "fiat"
    success_url = "https://shop.example/success"
    error_url = "https://shop.example/error"
    postback_url = "https://shop.example/postback"
    provider_reference = factory.Sequence(lambda n: f"ref-{n}")
    provider_url = "https://pay.provider.example/i/1"
    status = PaymentStatus.PENDING


class ExchangeRateFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ExchangeRate

    currency = "USD"
    rate_to_tusd = Decimal("1.0000000000")
