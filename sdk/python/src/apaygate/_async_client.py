"""The asynchronous client: the same surface as `Client`, awaited (httpx.AsyncClient)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any, cast

import httpx

from ._client import Amount, Params, _Base, _error_from
from ._constants import PaymentStatus
from ._errors import NetworkError
from ._types import (
    InitPaymentAnswer,
    Payment,
    PostbackResendAnswer,
    PostbackTestAnswer,
)


class AsyncClient(_Base):
    """The Merchant API v1 client for asyncio. Use `async with`, or `await aclose()`."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        max_retries: int = 2,
        retry_base_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        timeout: float = 30.0,
        http_client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(
            token=token,
            base_url=base_url,
            max_retries=max_retries,
            retry_base_delay=retry_base_delay,
            max_retry_delay=max_retry_delay,
            timeout=timeout,
        )
        self._http = http_client or httpx.AsyncClient(timeout=timeout, follow_redirects=False)

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def init_payment(
        self,
        *,
        amount: Amount,
        success_url: str,
        error_url: str,
        id: str | None = None,
        customer_email: str | None = None,
        customer_name: str | None = None,
        currency: str | None = None,
        type: str | None = None,
        postback_url: str | None = None,
        idempotency_key: str | None = None,
    ) -> InitPaymentAnswer:
        """`POST /api/v1/init-payment`: create a payment; send the shopper to `url`."""
        body = self._init_body(
            amount=amount,
            success_url=success_url,
            error_url=error_url,
            id=id,
            customer_email=customer_email,
            customer_name=customer_name,
            currency=currency,
            type=type,
            postback_url=postback_url,
        )
        headers = self._init_headers(id, idempotency_key)
        return cast(
            InitPaymentAnswer,
            await self._call("POST", "/api/v1/init-payment", json=body, headers=headers),
        )

    async def get_payment(self, payment_id: str) -> Payment:
        """`GET /api/v1/payments/<paymentId>`."""
        return cast(Payment, await self._call("GET", self._payment_path(payment_id)))

    async def list_payments(
        self,
        *,
        id: str | None = None,
        status: PaymentStatus | str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        page_size: int | None = None,
    ) -> AsyncIterator[Payment]:
        """Every payment matching the filters, page after page (`async for`)."""
        params: Params | None = self._list_params(
            id=id,
            status=status,
            created_after=created_after,
            created_before=created_before,
            page_size=page_size,
        )
        seen: set[str] = set()
        while params is not None:
            page = await self._call("GET", "/api/v1/payments", params=params)
            for payment in page["results"]:
                if payment["paymentId"] not in seen:
                    seen.add(payment["paymentId"])
                    yield cast(Payment, payment)
            params = self._next_params(page)

    async def resend_postback(self, payment_id: str) -> PostbackResendAnswer:
        """Queue the payment's latest postback again (same webhook-id)."""
        path = self._payment_path(payment_id, "/postbacks/resend")
        return cast(PostbackResendAnswer, await self._call("POST", path, json={}))

    async def send_test_postback(self, *, url: str) -> PostbackTestAnswer:
        """Sign and send a `postback.test` to `url` now; report your endpoint's answer."""
        answer = await self._call("POST", "/api/v1/postbacks/test", json={"url": url})
        return cast(PostbackTestAnswer, answer)

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        attempt = 0
        while True:
            try:
                response = await self._http.request(
                    method,
                    self.base_url + path,
                    params=params,
                    json=json,
                    headers=self._headers(headers),
                    timeout=self._timeout,
                )
                if response.is_success:
                    return response.json()
                error = _error_from(response)
            except httpx.TransportError as exc:
                error = NetworkError(
                    status=0,
                    code="network_error",
                    message=f"{type(exc).__name__}: {exc}" if str(exc) else repr(exc),
                )
            delay = self._delay(attempt, error)
            if delay is None:
                raise error
            await asyncio.sleep(delay)
            attempt += 1
