"""BigQuery emulator for the analytics tests: one `bqemulator` process per test session.

bqemulator needs DuckDB's spatial extension, which DuckDB would download; there is no
internet here, so it is installed once from the `duckdb-extension-spatial` wheel's file.
The emulator runs in persistent mode so that a test can stop and restart it and find its
tables again, as after a real outage.
"""

from __future__ import annotations

import fcntl
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest
from django.test import override_settings

from tests.support.gateway import free_port

PROJECT = "apaygate-test"
START_TIMEOUT = 60.0


def _install_spatial_extension(lock_path: Path) -> None:
    """Install DuckDB's spatial extension, one pytest-xdist worker at a time: the extension
    folder under the home directory is shared, and two installs at once can break it."""
    import duckdb
    import duckdb_extension_spatial

    wheel_dir = Path(duckdb_extension_spatial.__file__).parent
    extension = next(wheel_dir.glob(f"extensions/v{duckdb.__version__}/spatial.duckdb_extension"))
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        connection = duckdb.connect()
        try:
            connection.execute(f"INSTALL '{extension}'")
            connection.execute("LOAD spatial")
        finally:
            connection.close()


class Emulator:
    """A bqemulator subprocess that tests can stop and start again on the same port."""

    def __init__(self, *, data_dir: Path, log_path: Path, port: int | None = None) -> None:
        self.data_dir = data_dir
        self.log_path = log_path
        self.port = port or free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        binary = Path(sys.executable).with_name("bqemulator")
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                str(binary),
                "start",
                "--rest-port",
                str(self.port),
                "--grpc-port",
                "0",
                "--data-dir",
                str(self.data_dir),
                "--project",
                PROJECT,
                "--log-level",
                "warning",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + START_TIMEOUT
        url = f"{self.endpoint}/bigquery/v2/projects/{PROJECT}/datasets"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        self.stop()
        tail = self.log_path.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"bqemulator did not start on {self.endpoint}:\n{tail}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@pytest.fixture(scope="session")
def bq_emulator(tmp_path_factory):
    """Start bqemulator once for the session (persistent data dir), stop it at the end."""
    # The folder above each worker's base temp is the run's own, shared by its workers.
    _install_spatial_extension(tmp_path_factory.getbasetemp().parent / "duckdb-spatial.lock")
    base = tmp_path_factory.mktemp("bqemulator")
    emulator = Emulator(data_dir=base / "data", log_path=base / "emulator.log")
    emulator.start()
    yield emulator
    emulator.stop()


class BigQueryTestTarget:
    """A fresh dataset on the emulator, with the export settings pointing at it."""

    def __init__(self, emulator: Emulator, dataset: str) -> None:
        self.emulator = emulator
        self.dataset = dataset
        self.table = f"{PROJECT}.{dataset}.payment_events"
        self.view = f"{PROJECT}.{dataset}.payments_latest"

    def query(self, sql: str, **params) -> list[dict]:
        from google.cloud import bigquery

        from reporting.export.client import bigquery_client

        config = bigquery.QueryJobConfig(
            query_parameters=[
                bigquery.ScalarQueryParameter(name, "STRING", value)
                for name, value in params.items()
            ]
        )
        sql = sql.replace("{table}", f"`{self.table}`").replace("{view}", f"`{self.view}`")
        job = bigquery_client().query(sql, job_config=config, timeout=30)
        return [dict(row) for row in job.result(timeout=30)]

    def event_ids(self) -> list[str]:
        return [row["event_id"] for row in self.query("SELECT event_id FROM {table}")]


@pytest.fixture
def bq(bq_emulator):
    """Point the export at a new dataset on the emulator and create its table and view."""
    if not bq_emulator.running:
        bq_emulator.start()
    dataset = f"t_{uuid.uuid4().hex[:12]}"
    with override_settings(
        BIGQUERY_PROJECT=PROJECT,
        BIGQUERY_DATASET=dataset,
        BIGQUERY_API_ENDPOINT=bq_emulator.endpoint,
        BIGQUERY_REQUEST_TIMEOUT=3.0,
        BIGQUERY_EXPORT_INTERVAL=0.05,
    ):
        from reporting.export.client import bigquery_setup

        bigquery_setup()
        yield BigQueryTestTarget(bq_emulator, dataset)
