"""The insert request's two tries, against a server that never answers (no emulator)."""

from __future__ import annotations

import socket
import threading

import pytest
import requests
from django.test import override_settings

from reporting.export.client import bigquery_insert_rows


class SilentServer:
    """Accept connections on loopback, read what arrives, never answer."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.connections: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections.append(conn)

    def close(self) -> None:
        self.sock.close()
        for conn in self.connections:
            conn.close()


@pytest.fixture
def silent_server():
    server = SilentServer()
    yield server
    server.close()


def test_an_insert_that_times_out_is_not_sent_again_row_by_row(silent_server):
    # given: BigQuery accepts the connection and never answers
    silent = override_settings(
        BIGQUERY_PROJECT="apaygate-test",
        BIGQUERY_DATASET="silent",
        BIGQUERY_API_ENDPOINT=f"http://127.0.0.1:{silent_server.port}",
        BIGQUERY_REQUEST_TIMEOUT=0.3,
    )

    # when / then: the first try's timeout is the answer; no second request waits again
    with silent, pytest.raises(requests.exceptions.Timeout):
        bigquery_insert_rows(rows=[{"event_id": "e1"}], row_ids=["e1"])
    assert len(silent_server.connections) == 1
