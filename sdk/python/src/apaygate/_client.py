"""`Client` and `AsyncClient`: the Merchant API v1 over httpx, with bounded retries."""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from email.utils import parsedate_to_datetime
from typing import Any, Union, cast
from urllib.parse import parse_qsl, quote, urlsplit

import httpx

from ._constants import PaymentStatus
from ._errors import APayGateError, NetworkError, error_class
from ._types import (
    InitPaymentAnswer,
    Payment,
    PostbackResendAnswer,
    PostbackTestAnswer,
)
from ._version import __version__

Params = dict[str, str]
Amount = Union[str, Decimal, int]


def _retryable(status: int) -> bool:
    return status == 429 or status >= 500 or status == 0


def parse_retry_after(value: str | None) -> float | None:
    """Read a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max((when - datetime.now(tz=when.tzinfo)).total_seconds(), 0.0)


def _error_from(response: httpx.Response) -> APayGateError:
    retry_after = parse_retry_after(response.headers.get("Retry-After"))
    request_id = response.headers.get("X-Request-ID")
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("code"), str):
        code = data["code"]
        return error_class(status=response.status_code, code=code)(
            status=response.status_code,
            code=code,
            message=str(data.get("message", "")),
            errors=data.get("errors") or {},
            retry_after=retry_after,
            request_id=request_id,
        )
    kind = "HTML page" if "html" in response.headers.get("Content-Type", "") else "body"
    return error_class(status=response.status_code, code="unexpected_response")(
        status=response.status_code,
        code="unexpected_response",
        message=(
            f"HTTP {response.status_code} with a non-JSON {kind} from {response.request.url}: "
            "is base_url the gateway's address?"
        ),
        retry_after=retry_after,
        request_id=request_id,
    )


def _iso(value: datetime | str) -> str:
    return value.isoformat() if isinstance(value, datetime) else value


class _Base:
    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        max_retries: int = 2,
        retry_base_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        timeout: float = 30.0,
    ) -> None:
        if not token:
            raise ValueError("token is required")
        if not base_url:
            raise ValueError("base_url is required")
        self.base_url = base_url.rstrip("/")
        self._token = token
        self._max_retries = max(0, int(max_retries))
        self._base_delay = retry_base_delay
        self._max_delay = max_retry_delay
        self._timeout = timeout

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {
            "Accept": "application/json",
            "Authorization": f"Token {self._token}",
            "User-Agent": f"apaygate-sdk-python/{__version__}",
        }
        headers.update(extra or {})
        return headers

    def _delay(self, attempt: int, error: APayGateError) -> float | None:
        """Return the wait before the next try, or None to give up and raise `error`."""
        if not _retryable(error.status) or attempt >= self._max_retries:
            return None
        if error.retry_after is not None and error.retry_after > self._max_delay:
            return None
        backoff = min(self._max_delay, self._base_delay * 2**attempt) * random.uniform(0.5, 1)
        return max(backoff, error.retry_after or 0.0)

    @staticmethod
    def _init_body(
        *,
        amount: Amount,
        success_url: str,
        error_url: str,
        id: str | None,
        customer_email: str | None,
        customer_name: str | None,
        currency: str | None,
        type: str | None,
        postback_url: str | None,
    ) -> dict[str, Any]:
        if isinstance(amount, (float, bool)) or not isinstance(amount, (str, Decimal, int)):
            raise TypeError('amount must be a decimal string such as "25.00" (or a Decimal)')
        body: dict[str, Any] = {
            "id": id,
            "customerEmail": customer_email,
            "customerName": customer_name,
            "amount": str(amount),
            "currency": currency,
            "type": type,
            "successUrl": success_url,
            "errorUrl": error_url,
            "postbackUrl": postback_url,
        }
        return {k: v for k, v in body.items() if v is not None}

    @staticmethod
    def _init_headers(id: str | None, idempotency_key: str | None) -> dict[str, str]:
        # Retries must not create a second payment: without `id`, one key for the whole call.
        key = idempotency_key or (None if id else f"sdk_{uuid.uuid4()}")
        return {"Idempotency-Key": key} if key else {}

    @staticmethod
    def _list_params(
        *,
        id: str | None,
        status: PaymentStatus | str | None,
        created_after: datetime | str | None,
        created_before: datetime | str | None,
        page_size: int | None,
    ) -> Params:
        params: Params = {}
        if id is not None:
            params["id"] = id
        if status is not None:
            params["status"] = str(status)
        if created_after is not None:
            params["created_after"] = _iso(created_after)
        if created_before is not None:
            params["created_before"] = _iso(created_before)
        if page_size is not None:
            params["limit"] = str(page_size)
        return params

    @staticmethod
    def _next_params(page: dict[str, Any]) -> Params | None:
        # Follow `next` by its query only: its host is whatever the gateway saw.
        if not page.get("next") or not page.get("results"):
            return None
        return dict(parse_qsl(urlsplit(page["next"]).query))

    @staticmethod
    def _payment_path(payment_id: str, suffix: str = "") -> str:
        return f"/api/v1/payments/{quote(payment_id, safe='')}{suffix}"


class Client(_Base):
    """The Merchant API v1 client (synchronous). Use as a context manager, or `close()`."""

    def __init__(
        self,
        *,
        token: str,
        base_url: str,
        max_retries: int = 2,
        retry_base_delay: float = 0.5,
        max_retry_delay: float = 30.0,
        timeout: float = 30.0,
        http_client: httpx.Client | None = None,
    ) -> None:
        super().__init__(
            token=token,
            base_url=base_url,
            max_retries=max_retries,
            retry_base_delay=retry_base_delay,
            max_retry_delay=max_retry_delay,
            timeout=timeout,
        )
        self._http = http_client or httpx.Client(timeout=timeout, follow_redirects=False)

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def init_payment(
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
            self._call("POST", "/api/v1/init-payment", json=body, headers=headers),
        )

    def get_payment(self, payment_id: str) -> Payment:
        """`GET /api/v1/payments/<paymentId>`."""
        return cast(Payment, self._call("GET", self._payment_path(payment_id)))

    def list_payments(
        self,
        *,
        id: str | None = None,
        status: PaymentStatus | str | None = None,
        created_after: datetime | str | None = None,
        created_before: datetime | str | None = None,
        page_size: int | None = None,
    ) -> Iterator[Payment]:
        """Every payment matching the filters, page after page."""
        params: Params | None = self._list_params(
            id=id,
            status=status,
            created_after=created_after,
            created_before=created_before,
            page_size=page_size,
        )
        seen: set[str] = set()  # offset pages shift when payments are created meanwhile
        while params is not None:
            page = self._call("GET", "/api/v1/payments", params=params)
            for payment in page["results"]:
                if payment["paymentId"] not in seen:
                    seen.add(payment["paymentId"])
                    yield cast(Payment, payment)
            params = self._next_params(page)

    def resend_postback(self, payment_id: str) -> PostbackResendAnswer:
        """Queue the payment's latest postback again (same webhook-id)."""
        path = self._payment_path(payment_id, "/postbacks/resend")
        return cast(PostbackResendAnswer, self._call("POST", path, json={}))

    def send_test_postback(self, *, url: str) -> PostbackTestAnswer:
        """Sign and send a `postback.test` to `url` now; report your endpoint's answer."""
        return cast(
            PostbackTestAnswer, self._call("POST", "/api/v1/postbacks/test", json={"url": url})
        )

    def _call(
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
                response = self._http.request(
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
            time.sleep(delay)
            attempt += 1
