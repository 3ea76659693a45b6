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
    """Issue a real token through the service; return it with its plaintext key.

    A live key on a sandbox merchant, which the service refuses (hostile item 18), is
    written as a row, as such keys exist from before: the suite's live API flows run on the
    sandbox merchant, and the sandbox never settles those payments on its pay page.
    """
    from payments.merchants import api_token_issue
    from payments.tokens import display_prefix, token_digest, token_generate

    merchant = merchant or MerchantFactory()
    if mode == TokenMode.LIVE and merchant.provider == "sandbox":
        key = token_generate(mode=mode)
        token = ApiToken.objects.create(
            merchant=merchant,
            mode=mode,
            label="test",
            prefix=display_prefix(key),
            digest=token_digest(key),
        )
        return token, key
    return api_token_issue(merchant=merchant, mode=mode, label="test")


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
