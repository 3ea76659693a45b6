"""Starting and stopping the processes tests run: one helper for every suite.

`Process` runs a command in its own process group with its output in a log file, waits
for it to be ready (a line in its log, or any condition such as `http_answers`), and stops
the whole group (SIGTERM, then SIGKILL) or kills it outright (`kill -9`, for fault tests);
`stop_all` stops several at once. `wait_until` polls a condition instead of sleeping a
fixed time. `free_port` hands out ports from the pytest-xdist worker's own range. Nothing
here imports the gateway, Django or pytest, so tests/sdk and bench/ use it too (bench/
runs it outside pytest: the worker range is then gw0's).
"""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 40.0
STOP_TIMEOUT = 10.0
POLL_INTERVAL = 0.05

# Ports for servers the tests start: a range per xdist worker, below the kernel's
# ephemeral range (32768-60999 on Linux), so a port found free is not taken by another
# worker's server, or by an outgoing connection's local port, before our server binds it.
PORT_RANGE_START = 20000
PORT_RANGE_SIZE = 1000
_WORKER_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
_FIRST_PORT = PORT_RANGE_START + _WORKER_INDEX * PORT_RANGE_SIZE
# Start somewhere else in the range in each run, so two runs side by side rarely meet.
_next_port = _FIRST_PORT + (os.getpid() % 100) * 10


def free_port() -> int:
    """A port no one listens on, from this worker's range (tried in turn, wrapping around)."""
    global _next_port
    for _ in range(PORT_RANGE_SIZE):
        port = _next_port
        _next_port = _FIRST_PORT + (_next_port + 1 - _FIRST_PORT) % PORT_RANGE_SIZE
        with socket.socket() as sock, contextlib.suppress(OSError):
            sock.bind(("127.0.0.1", port))
            return port
    raise RuntimeError(f"no free port in {_FIRST_PORT}-{_FIRST_PORT + PORT_RANGE_SIZE - 1}")


def wait_until(
    condition: Callable[[], object],
    *,
    timeout: float,
    interval: float = POLL_INTERVAL,
    failure: Callable[[], bool] | None = None,
) -> bool:
    """Poll `condition` until it is true (True) or `timeout` seconds pass (False).

    `failure`, when given and true, ends the wait early (False): a process that died.
    """
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return True
        if (failure is not None and failure()) or time.monotonic() >= deadline:
            return bool(condition())
        time.sleep(interval)


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), 0.2):
        return True
    return False


def http_answers(url: str, timeout: float = 2.0) -> bool:
    """Whether a GET to `url` gets any HTTP answer (a server that is up; never followed)."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
    try:
        conn.request("GET", f"{parts.path or '/'}{'?' + parts.query if parts.query else ''}")
        conn.getresponse().read()
        return True
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


@dataclass
class Process:
    """A command in its own process group (so stopping it stops its children too)."""

    args: Sequence[str]
    env: dict[str, str] | None = None
    log_path: Path | None = None
    cwd: Path = ROOT
    proc: subprocess.Popen | None = field(default=None, init=False)
    _log_offset: int = field(default=0, init=False)

    def start(
        self,
        *,
        ready: str | Callable[[], object] | None = None,
        timeout: float = STARTUP_TIMEOUT,
    ) -> Process:
        """Start; with `ready` (a line in the log, or a condition), wait until it holds."""
        if self.log_path is not None:
            self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            out = self.log_path.open("ab")
        else:
            out = subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(
                list(self.args),
                cwd=self.cwd,
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        if ready is None:
            return self
        return self.wait_ready(ready, timeout=timeout)

    def wait_ready(
        self, ready: str | Callable[[], object], *, timeout: float = STARTUP_TIMEOUT
    ) -> Process:
        """Wait until `ready` (a line this start wrote to the log, or a condition) holds; stop
        the process and fail if it does not. Apart from `start`, so that several processes
        can start side by side and then be waited for."""
        check = (lambda: ready in self.new_log_text()) if isinstance(ready, str) else ready
        if not wait_until(check, timeout=timeout, interval=0.1, failure=self.exited):
            self.stop()
            raise RuntimeError(f"{self.args[0]} did not start; log:\n{self.log_text()[-3000:]}")
        return self

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def exited(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_text(self) -> str:
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_text(errors="replace")

    def new_log_text(self) -> str:
        """What this start wrote to the log (a restarted process appends to the same file)."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        return self.log_path.read_bytes()[self._log_offset :].decode(errors="replace")

    def wait(self, timeout: float | None = None) -> int:
        """Wait for the leader to exit (subprocess.TimeoutExpired after `timeout`); its code."""
        assert self.proc is not None
        return self.proc.wait(timeout)

    def signal(self, signum: int) -> None:
        """Send `signum` to the process group (children included, even if the leader left)."""
        if self.proc is not None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, signum)

    def terminate(self) -> None:
        """SIGTERM the leader only (as `docker stop` and Kubernetes do): a warm shutdown."""
        if self.proc is not None and self.running():
            self.proc.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """`kill -9` the whole process group (no goodbye, no acks)."""
        if self.proc is not None:
            self.signal(signal.SIGKILL)
            self.proc.wait(STOP_TIMEOUT)

    def stop(self, *, timeout: float = STOP_TIMEOUT) -> None:
        """SIGTERM the group and wait; SIGKILL what is still there after `timeout`."""
        if self.proc is None:
            return
        if self.running():
            self.signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout)
        self.kill()  # whatever of the group is left (a child that ignored SIGTERM)

    def __enter__(self) -> Process:
        return self

    def __exit__(self, *_exc) -> None:
        self.stop()


def stop_all(processes: Iterable[Process], *, timeout: float = STOP_TIMEOUT) -> None:
    """Stop several processes at once: SIGTERM every group first, so their graceful stops
    overlap, then wait for them together; whatever is left after `timeout` is killed."""
    processes = list(processes)
    for process in processes:
        if process.running():
            process.signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        if process.proc is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.proc.wait(max(0.0, deadline - time.monotonic()))
        process.kill()
