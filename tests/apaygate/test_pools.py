"""The web's thread pools shed load (apaygate/pools.py): in process, on a real event loop.

What runs is decided by each call's own record (`ran`): a request refused or abandoned must
never show up there, even after the pool has drained; one that started must finish.
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
from prometheus_client import REGISTRY

from apaygate.pools import (
    CLIENT_GONE,
    QUEUE_FULL,
    QUEUE_TIMEOUT,
    SHED_RETRY_AFTER_SECONDS,
    Pool,
    Shed,
    shed_answer,
)
from tests.support.aio import run_coroutine

WAIT = 30.0  # a bound on waiting for a condition, never a measured duration


async def _stays_connected() -> dict:
    await asyncio.Event().wait()  # a client that never leaves (cancelled when done)
    return {"type": "http.disconnect"}


def _shed_count(pool: str, reason: str) -> float:
    labels = {"pool": pool, "reason": reason}
    return REGISTRY.get_sample_value("apaygate_web_shed_total", labels) or 0


class Calls:
    """Calls that record that they ran, the first ones held until released."""

    def __init__(self) -> None:
        self.ran: list[str] = []
        self.release = threading.Event()
        self.started = threading.Event()

    def held(self, name: str):
        def call() -> str:
            self.ran.append(name)
            self.started.set()
            assert self.release.wait(WAIT)
            return name

        return call

    def quick(self, name: str):
        def call() -> str:
            self.ran.append(name)
            return name

        return call


def _run(coro):
    return run_coroutine(asyncio.wait_for(coro, WAIT))


async def _until(event: threading.Event) -> None:
    assert await asyncio.to_thread(event.wait, WAIT)


def test_a_request_past_the_bounded_queue_is_refused_at_once_and_never_runs():
    pool, calls = Pool("t-full", threads=1, max_queue=1, queue_budget=WAIT), Calls()
    before = _shed_count("t-full", QUEUE_FULL)

    async def scenario():
        running = asyncio.ensure_future(pool.run(calls.held("a"), receive=_stays_connected))
        await _until(calls.started)
        queued = asyncio.ensure_future(pool.run(calls.quick("b"), receive=_stays_connected))
        await asyncio.sleep(0)  # b is submitted, and waits behind a
        refused = await pool.run(calls.quick("c"), receive=_stays_connected)  # a's still held
        calls.release.set()
        return refused, await running, await queued

    refused, first, second = _run(scenario())

    assert refused == Shed(QUEUE_FULL)
    assert (first, second) == ("a", "b")
    assert calls.ran == ["a", "b"]
    assert _shed_count("t-full", QUEUE_FULL) == before + 1


def test_a_request_not_started_within_its_budget_is_refused_and_never_runs_later():
    pool, calls = Pool("t-budget", threads=1, max_queue=10, queue_budget=0.05), Calls()

    async def scenario():
        running = asyncio.ensure_future(pool.run(calls.held("a"), receive=_stays_connected))
        await _until(calls.started)
        late = await pool.run(calls.quick("late"), receive=_stays_connected)  # a's still held
        calls.release.set()
        await running
        after = await pool.run(calls.quick("after"), receive=_stays_connected)  # FIFO: drained
        return late, after

    late, after = _run(scenario())

    assert late == Shed(QUEUE_TIMEOUT)
    assert after == "after"
    assert calls.ran == ["a", "after"]


def test_a_request_whose_client_left_while_it_waited_is_never_run():
    pool, calls = Pool("t-gone", threads=1, max_queue=10, queue_budget=WAIT), Calls()
    before = _shed_count("t-gone", CLIENT_GONE)

    async def scenario():
        left = asyncio.Event()

        async def leaves() -> dict:
            await left.wait()
            return {"type": "http.disconnect"}

        running = asyncio.ensure_future(pool.run(calls.held("a"), receive=_stays_connected))
        await _until(calls.started)
        abandoned = asyncio.ensure_future(pool.run(calls.quick("gone"), receive=leaves))
        await asyncio.sleep(0)  # queued behind a
        left.set()
        gone = await abandoned
        calls.release.set()
        await running
        after = await pool.run(calls.quick("after"), receive=_stays_connected)
        return gone, after

    gone, after = _run(scenario())

    assert gone == Shed(CLIENT_GONE)
    assert after == "after"
    assert calls.ran == ["a", "after"]
    assert _shed_count("t-gone", CLIENT_GONE) == before + 1


def test_a_request_that_started_runs_to_its_end_past_the_budget():
    pool, calls = Pool("t-started", threads=1, max_queue=1, queue_budget=0.01), Calls()

    async def scenario():
        running = asyncio.ensure_future(pool.run(calls.held("a"), receive=_stays_connected))
        await _until(calls.started)
        await asyncio.sleep(0.05)  # past its budget, but it had started
        calls.release.set()
        return await running

    assert _run(scenario()) == "a"


def test_a_refused_api_request_gets_the_json_overloaded_error_with_retry_after():
    status, headers, body = shed_answer("/api/v1/init-payment")

    assert status == 503
    assert dict(headers)[b"retry-after"] == str(SHED_RETRY_AFTER_SECONDS).encode()
    assert dict(headers)[b"content-type"] == b"application/json"
    answer = json.loads(body)
    assert answer["status"] == "error"
    assert answer["code"] == "overloaded"
    assert "not processed" in answer["message"]


@pytest.mark.parametrize("path", ["/integration/pay", "/portal/"])
def test_a_refused_page_request_gets_the_branded_503_page(path):
    status, headers, body = shed_answer(path)

    assert status == 503
    assert dict(headers)[b"retry-after"] == str(SHED_RETRY_AFTER_SECONDS).encode()
    assert dict(headers)[b"content-type"].startswith(b"text/html")
    assert b'data-error="503"' in body
