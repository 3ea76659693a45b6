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

State is per process, so a breaker works when Redis does not. The processes also tell
each other (`SharedOpenState`, given by the caller; payments passes one on the KV's Redis):
a breaker that opens announces it for one reset period, and a closed breaker that finds
the announcement opens at once instead of letting its own calls wait out their timeouts.
Without that, a process that had not yet seen the failures (its connections came later)
paid the full read timeout for every call in flight: measured in bench/, p99 2 s with
the breaker "open". The check is one Redis GET per call (beside a provider call of
hundreds of milliseconds), and a Redis that is away reads as "not announced": each
process then opens on its own failures, as before. Probes stay per process: W processes
send at most W probes per reset period. /healthz shows the answering process's breakers.

(pybreaker would fit the state machine but not the cap or the per-kind failure rule, and it
is not a dependency; this module is small enough to read in one go.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from django.conf import settings

from foundation.http import provider_timeout_capped
from foundation.instruments import (
    PROVIDER_BREAKER_STATE,
    PROVIDER_ERRORS,
    PROVIDER_REQUEST_DURATION,
)
from providers.base import ProviderError

T = TypeVar("T")

CLOSED, OPEN, HALF_OPEN = "closed", "open", "half_open"


class SharedOpenState(Protocol):
    """How breakers of several processes tell each other a provider is down; never raises."""

    def announce_open(self, name: str, *, seconds: float) -> None: ...

    def announce_closed(self, name: str) -> None: ...

    def is_announced_open(self, name: str) -> bool: ...


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
    shared: SharedOpenState | None = None
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
        # Outside the lock: a Redis read must not queue the other callers.
        opened_elsewhere = (
            self.state == CLOSED
            and self.shared is not None
            and self.shared.is_announced_open(self.name)
        )
        with self._lock:
            if self.state == CLOSED and opened_elsewhere:
                self.state, self.opened_at = OPEN, self.clock()
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
            before = self.state
            if not failed:
                self.state, self.failures = CLOSED, 0
            else:
                self.failures += 1
                if self.state == HALF_OPEN or self.failures >= self.failures_to_open:
                    self.state, self.opened_at = OPEN, self.clock()
            after = self.state
        # Tell the other processes, outside the lock, when this call changed the state.
        if self.shared is None or before == after:
            return
        if after == OPEN:
            self.shared.announce_open(self.name, seconds=self.reset_seconds)
        else:  # closed by a success: the provider works
            self.shared.announce_closed(self.name)

    def snapshot(self) -> dict:
        """What /healthz shows: state, consecutive failures, calls in flight."""
        with self._lock:
            state = self.state
            if state == OPEN and self.clock() - self.opened_at >= self.reset_seconds:
                state = HALF_OPEN  # the next call will probe
            return {"state": state, "failures": self.failures, "in_flight": self.in_flight}


_breakers: dict[str, Breaker] = {}
_registry_lock = threading.Lock()
_shared_state: SharedOpenState | None = None


def breakers_share_open_state(shared: SharedOpenState | None) -> None:
    """Have this process's breakers (present and future) tell other processes' breakers."""
    global _shared_state
    with _registry_lock:
        _shared_state = shared
        for breaker in _breakers.values():
            breaker.shared = shared


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
                shared=_shared_state,
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
