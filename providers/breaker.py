"""Bulkheads for provider calls: a concurrency cap and a circuit breaker per provider.

A provider that hangs or fails must cost the gateway little: at most
`PROVIDER_MAX_CONCURRENCY` calls wait on it at once in one process (a caller that finds
no free slot within `PROVIDER_QUEUE_TIMEOUT` gets `ProviderError(kind="unavailable")`), and
after `PROVIDER_BREAKER_FAILURES` consecutive failures (timeouts, connection errors, 5xx,
garbled answers: any error a retry could fix) the breaker opens: calls fail at once with
the same error, so init-payment answers 503 `provider_unavailable` in milliseconds and the
payment is kept as `provider_error`. After
`PROVIDER_BREAKER_RESET` seconds one probe call is let through (half-open), with its
timeouts capped at `PROVIDER_PROBE_TIMEOUT` so even the probe answers within a second: its
success closes the breaker, its failure opens it again. A permanent refusal (4xx: our request was
wrong) is the provider working, not failing.

State is per process, not shared through Redis: a breaker must work best exactly when
things fail, Redis included, and reading shared state would add a round trip to every
call. The price is small: with W web processes a dead provider sees at most
W x PROVIDER_BREAKER_FAILURES calls before every process has opened, and W probes per reset
period. /healthz shows the answering process's breakers.

(pybreaker would fit the state machine but not the cap or the per-kind failure rule, and it
is not a dependency; this module is small enough to read in one go.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from django.conf import settings

from apaygate.http import provider_timeout_capped
from apaygate.instruments import (
    PROVIDER_BREAKER_STATE,
    PROVIDER_ERRORS,
    PROVIDER_REQUEST_DURATION,
)
from providers.base import ProviderError

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


@dataclass
class Breaker:
    """One provider's cap and breaker; thread-safe (Django's sync views run in threads)."""

    name: str
    failures_to_open: int
    reset_seconds: float
    max_concurrency: int
    queue_timeout: float
    probe_timeout: float = 0.8
    clock: Callable[[], float] = time.monotonic
    state: str = CLOSED
    failures: int = 0
    opened_at: float = 0.0
    in_flight: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _slots: threading.BoundedSemaphore = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._slots = threading.BoundedSemaphore(self.max_concurrency)

    def call(self, fn: Callable[[], T]) -> T:
        """Run `fn` (a provider call) under the cap and the breaker."""
        probe = self._admit()
        if not self._slots.acquire(timeout=self.queue_timeout):
            if probe:
                self._release_probe()
            raise ProviderError(f"{self.name} is busy: too many calls waiting", kind="unavailable")
        with self._lock:
            self.in_flight += 1
        try:
            if probe:
                with provider_timeout_capped(self.probe_timeout):
                    result = fn()
            else:
                result = fn()
        except ProviderError as exc:
            self._record(failed=not exc.permanent)
            raise
        except Exception:
            self._record(failed=True)
            raise
        else:
            self._record(failed=False)
            return result
        finally:
            with self._lock:
                self.in_flight -= 1
            self._slots.release()

    def _admit(self) -> bool:
        """Let the call through (True if it is the half-open probe) or raise at once."""
        with self._lock:
            if self.state == CLOSED:
                return False
            if self.state == OPEN and self.clock() - self.opened_at >= self.reset_seconds:
                self.state = HALF_OPEN
                return True
        raise ProviderError(
            f"{self.name} is unavailable (circuit open after repeated failures)",
            kind="unavailable",
        )

    def _release_probe(self) -> None:
        with self._lock:
            if self.state == HALF_OPEN:
                self.state, self.opened_at = OPEN, self.clock() - self.reset_seconds

    def _record(self, *, failed: bool) -> None:
        with self._lock:
            if not failed:
                self.state, self.failures = CLOSED, 0
                return
            self.failures += 1
            if self.state == HALF_OPEN or self.failures >= self.failures_to_open:
                self.state, self.opened_at = OPEN, self.clock()

    def snapshot(self) -> dict:
        """What /healthz shows: state, consecutive failures, calls in flight."""
        with self._lock:
            state = self.state
            if state == OPEN and self.clock() - self.opened_at >= self.reset_seconds:
                state = HALF_OPEN  # the next call will probe
            return {"state": state, "failures": self.failures, "in_flight": self.in_flight}


_breakers: dict[str, Breaker] = {}
_registry_lock = threading.Lock()


def provider_breaker(key: str) -> Breaker:
    """The process's breaker for provider `key`, created from settings on first use."""
    with _registry_lock:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = _breakers[key] = Breaker(
                name=key,
                failures_to_open=settings.PROVIDER_BREAKER_FAILURES,
                reset_seconds=settings.PROVIDER_BREAKER_RESET,
                max_concurrency=settings.PROVIDER_MAX_CONCURRENCY,
                queue_timeout=settings.PROVIDER_QUEUE_TIMEOUT,
                probe_timeout=settings.PROVIDER_PROBE_TIMEOUT,
            )
        return breaker


BREAKER_STATE_VALUE = {CLOSED: 0, HALF_OPEN: 1, OPEN: 2}


def provider_call(key: str, fn: Callable[[], T]) -> T:
    """Call provider `key` through its bulkhead, and record latency, errors and breaker state.

    See the module docstring. The metrics are the ones the provider alerts read
    (deploy/prometheus/alerts.yml).
    """
    breaker = provider_breaker(key)
    started = time.perf_counter()
    outcome = "ok"
    try:
        return breaker.call(fn)
    except ProviderError as exc:
        outcome = exc.kind
        PROVIDER_ERRORS.labels(provider=key, kind=exc.kind).inc()
        raise
    except Exception:
        outcome = "error"
        PROVIDER_ERRORS.labels(provider=key, kind="error").inc()
        raise
    finally:
        PROVIDER_REQUEST_DURATION.labels(provider=key, outcome=outcome).observe(
            time.perf_counter() - started
        )
        PROVIDER_BREAKER_STATE.labels(provider=key).set(
            BREAKER_STATE_VALUE[breaker.snapshot()["state"]]
        )


def breakers_snapshot() -> dict[str, dict]:
    """Every breaker this process has used, for /healthz."""
    with _registry_lock:
        breakers = list(_breakers.values())
    return {b.name: b.snapshot() for b in breakers}


def breakers_reset() -> None:
    """Forget every breaker (tests; settings changes)."""
    with _registry_lock:
        _breakers.clear()
