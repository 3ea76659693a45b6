"""Celery beat's scheduler: the file-backed default, able to start anywhere, with a heartbeat.

Named by `CELERY_BEAT_SCHEDULER` and by `scripts/serve.sh beat`. It creates its schedule
file's folder before opening it (`beat_init` comes too late: beat opens the file first), so
beat starts from a fresh checkout or image; and it records a heartbeat that the
`ApaygateBeatDown` alert watches.
"""

from __future__ import annotations

import time
from pathlib import Path

from celery.beat import PersistentScheduler

from apaygate.metrics import beat_heartbeat
from foundation.liveness import liveness_touch


class HeartbeatScheduler(PersistentScheduler):
    """Beat's default scheduler, plus a heartbeat at most every 5 s of ticking.

    Used by `scripts/serve.sh beat` (`--scheduler apaygate.beat:HeartbeatScheduler`).
    """

    heartbeat_every = 5.0
    _last_heartbeat = 0.0

    def _open_schedule(self):
        Path(self.schedule_filename).parent.mkdir(parents=True, exist_ok=True)
        return super()._open_schedule()

    def tick(self, *args, **kwargs):
        now = time.time()
        if now - self._last_heartbeat >= self.heartbeat_every:
            self._last_heartbeat = now
            beat_heartbeat(now)
            liveness_touch()  # the image's health check for the beat role
        # Never sleep longer than a heartbeat period, so an idle schedule still beats.
        return min(super().tick(*args, **kwargs), self.heartbeat_every)
