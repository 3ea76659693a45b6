"""Provider bulkheads: the concurrency cap and the circuit breaker (providers/breaker.py)."""

from __future__ import annotations

import threading

import pytest

from providers.base import ProviderError
from providers.breaker import CLOSED, HALF_OPEN, OPEN, Breaker


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _breaker(clock=None, **overrides) -> Breaker:
    options = {
        "name": "tele",
        "failures_to_open": 3,
        "reset_seconds": 10.0,
        "max_concurrency": 4,
        "queue_timeout": 0.05,
        **overrides,
    }
    return Breaker(clock=clock or Clock(), **options)


def _fail(kind="timeout"):
    def call():
        raise ProviderError("down", kind=kind, permanent=kind == "refused")

    return call


def _fail_n(breaker, n, kind="timeout"):
    for _ in range(n):
        with pytest.raises(ProviderError):
            breaker.call(_fail(kind))


def test_the_breaker_opens_after_consecutive_failures_and_then_refuses_without_calling():
    breaker = _breaker()
    _fail_n(breaker, 3)
    calls = []

    with pytest.raises(ProviderError) as refused:
        breaker.call(lambda: calls.append(1))

    assert breaker.state == OPEN
    assert refused.value.kind == "unavailable"
    assert calls == []


def test_a_success_in_between_resets_the_count():
    breaker = _breaker()
    _fail_n(breaker, 2)
    breaker.call(lambda: "ok")
    _fail_n(breaker, 2)

    assert breaker.state == CLOSED


def test_permanent_refusals_are_the_provider_working_and_never_open_the_breaker():
    breaker = _breaker()
    _fail_n(breaker, 5, kind="refused")

    assert breaker.state == CLOSED


def test_after_the_reset_time_one_probe_goes_through_and_its_success_closes_the_breaker():
    clock = Clock()
    breaker = _breaker(clock)
    _fail_n(breaker, 3)
    clock.now += 10

    assert breaker.snapshot()["state"] == HALF_OPEN
    assert breaker.call(lambda: "invoice") == "invoice"
    assert breaker.state == CLOSED


def test_a_failed_probe_opens_the_breaker_again_for_a_full_period():
    clock = Clock()
    breaker = _breaker(clock)
    _fail_n(breaker, 3)
    clock.now += 10
    _fail_n(breaker, 1)
    clock.now += 5

    with pytest.raises(ProviderError):
        breaker.call(lambda: "not called")
    assert breaker.state == OPEN


def test_while_the_probe_is_out_other_calls_are_refused_at_once():
    clock = Clock()
    breaker = _breaker(clock)
    _fail_n(breaker, 3)
    clock.now += 10
    probing, release = threading.Event(), threading.Event()

    def slow_probe():
        probing.set()
        release.wait(5)
        return "ok"

    probe = threading.Thread(target=breaker.call, args=(slow_probe,))
    probe.start()
    probing.wait(5)
    try:
        with pytest.raises(ProviderError):
            breaker.call(lambda: "second")
    finally:
        release.set()
        probe.join()
    assert breaker.state == CLOSED


def test_calls_beyond_the_cap_are_refused_after_the_queue_timeout():
    breaker = _breaker(max_concurrency=2)
    inside, release = threading.Barrier(3), threading.Event()

    def hang():
        inside.wait(5)
        release.wait(5)
        return "ok"

    threads = [threading.Thread(target=breaker.call, args=(hang,)) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait(5)
    try:
        assert breaker.snapshot()["in_flight"] == 2
        with pytest.raises(ProviderError, match="busy"):
            breaker.call(lambda: "third")
    finally:
        release.set()
        for t in threads:
            t.join()
    assert breaker.state == CLOSED


def test_the_probe_runs_with_its_timeouts_capped_and_other_calls_do_not():
    from foundation.http import provider_timeout

    clock = Clock()
    breaker = _breaker(clock, probe_timeout=0.8)
    seen = [breaker.call(provider_timeout)]
    _fail_n(breaker, 3)
    clock.now += 10

    seen.append(breaker.call(provider_timeout))

    assert seen[0] == (5.0, 15.0)
    assert seen[1] == (0.8, 0.8)


class Announcements:
    """Stands in for the shared store (payments.kv.BreakerAnnouncements) between breakers."""

    def __init__(self):
        self.open: set[str] = set()

    def announce_open(self, name, *, seconds):
        self.open.add(name)

    def announce_closed(self, name):
        self.open.discard(name)

    def is_announced_open(self, name):
        return name in self.open


def test_a_breaker_opened_in_another_process_refuses_here_at_once():
    # given two processes' breakers sharing announcements; the first sees the failures
    shared = Announcements()
    here, there = _breaker(shared=shared), _breaker(shared=shared)
    _fail_n(there, 3)
    calls = []

    # when this one, which has seen no failure, is called
    with pytest.raises(ProviderError) as refused:
        here.call(lambda: calls.append(1))

    # then it refuses without waiting on the provider, and is open itself
    assert (refused.value.kind, calls, here.state) == ("unavailable", [], OPEN)


def test_a_successful_probe_withdraws_the_announcement():
    clock = Clock()
    shared = Announcements()
    breaker = _breaker(clock, shared=shared)
    _fail_n(breaker, 3)
    assert shared.open == {"tele"}
    clock.now += 10

    breaker.call(lambda: "invoice")

    assert (breaker.state, shared.open) == (CLOSED, set())
