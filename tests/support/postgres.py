"""The most PostgreSQL client connections open at once: for connection-budget checks.

Used by tests/apaygate/test_connection_budget.py and bench/bench_overload.py.
"""

from __future__ import annotations

import threading

import psycopg

# The poller's own connection carries this name and is never counted.
POLLER_APPLICATION = "peak-connections"


class PeakConnections:
    """Poll `pg_stat_activity` in a thread while the `with` block runs; `peak` is the most seen.

    `database` counts one database's connections only (None: the whole server);
    `exclude_application` leaves out connections with that `application_name` as well (the
    caller's own), besides the poller's.
    """

    def __init__(
        self,
        url: str,
        *,
        database: str | None = None,
        exclude_application: str = POLLER_APPLICATION,
        interval: float = 0.02,
    ) -> None:
        self.url, self.database, self.interval = url, database, interval
        self.exclude_application = exclude_application
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        with psycopg.connect(
            self.url, autocommit=True, application_name=POLLER_APPLICATION
        ) as conn:
            while not self._stop.wait(self.interval):
                count = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity"
                    " WHERE backend_type = 'client backend'"
                    " AND application_name NOT IN (%s, %s)"
                    " AND (%s::text IS NULL OR datname = %s)",
                    [POLLER_APPLICATION, self.exclude_application, self.database, self.database],
                ).fetchone()[0]
                self.peak = max(self.peak, count)

    def __enter__(self) -> PeakConnections:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(10)
