"""A liveness file for the roles that serve no HTTP: the worker and beat.

The image's health check (deploy/healthcheck.py) probes `/healthz` for the web role; a
worker or beat container has no web port, so each touches `LIVENESS_FILE` (set by the
image) while it runs: beat on every heartbeat of its scheduler, the worker from a thread
started once it is ready to consume. A stale file means the process stopped making
progress. Unset (checkouts, the test suite): nothing is written.
"""

from __future__ import annotations

import contextlib
import os
import threading
from pathlib import Path

LIVENESS_FILE_ENV = "LIVENESS_FILE"
# The worker's touch interval; the health check allows several missed ones.
WORKER_TOUCH_SECONDS = 10.0


def liveness_touch() -> None:
    """Mark this process alive now (when the image asked for a liveness file)."""
    path = os.environ.get(LIVENESS_FILE_ENV, "")
    if path:
        # Not writable: the health check failing is the right outcome; the process goes on.
        with contextlib.suppress(OSError):
            Path(path).touch()


def liveness_keep(every: float = WORKER_TOUCH_SECONDS) -> None:
    """Touch the liveness file every `every` seconds from a daemon thread."""
    if not os.environ.get(LIVENESS_FILE_ENV):
        return

    def loop() -> None:
        while True:
            liveness_touch()
            threading.Event().wait(every)

    threading.Thread(target=loop, name="liveness", daemon=True).start()
