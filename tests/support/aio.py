"""Run a coroutine to completion from a test, whatever the calling thread is doing.

`asyncio.run` refuses to start while the thread already runs an event loop, and
Playwright's sync API (the browser tests' session fixtures) keeps one running in the main
thread of any xdist worker that has run a browser test. A fresh thread has no loop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def run_coroutine(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """`asyncio.run(coroutine)` on a thread of its own; its result or its exception."""
    with ThreadPoolExecutor(max_workers=1) as executor:
        return executor.submit(asyncio.run, coroutine).result()
