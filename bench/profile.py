"""Profile the gateway's processes under one hot path's load (py-spy), as the bench runs it.

Run: `.venv/bin/python bench/profile.py init|intake|miss|hit [seconds]` (PostgreSQL and
Redis up; the environment of bench/bench_gateway.py; py-spy in the venv, `uv pip install
py-spy`, or on PATH). It starts the gateway and stubs as `make bench` does, drives the
path with wrk while `py-spy record --gil` samples every worker of the server that serves
it (the web process; for the redirect's `miss` and `hit`, the shopper process class, as
`make bench` routes them), only the thread holding the GIL: where the Python CPU goes.
It prints the share of samples inside each layer (inclusive) and the functions with the
most samples of their own. The collapsed stacks stay in the file it names, for a flame
graph.
"""

from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402
from bench.processes import Stack  # noqa: E402

# Layers, by a pattern on a frame ("function (file:line)"); a sample counts once per layer.
LAYERS = {
    "django middleware (all)": r"django/utils/deprecation\.py|django/core/handlers/base\.py",
    "sessions": r"contrib/sessions/",
    "csrf": r"middleware/csrf\.py",
    "auth middleware": r"contrib/auth/middleware\.py",
    "messages": r"contrib/messages/",
    "axes": r"/axes/",
    "whitenoise": r"/whitenoise/",
    "csp": r"/csp/",
    "security/common/clickjacking": r"middleware/(security|common|clickjacking)\.py",
    "request id / metrics mw": r"apaygate/(request_id|metrics)\.py",
    "prometheus_client": r"prometheus_client/",
    "logging": r"/logging/|pythonjsonlogger|logging_config\.py",
    "url resolving": r"django/urls/",
    "DRF (rest_framework)": r"rest_framework/",
    "DRF parsing/validation": r"rest_framework/(serializers|fields|parsers|request)\.py",
    "ORM (django/db/models)": r"django/db/models/",
    "db backend + psycopg": r"django/db/backends/|psycopg/",
    "transaction (atomic)": r"django/db/transaction\.py",
    "redis-py": r"redis/",
    "requests/urllib3": r"requests/|urllib3/|requests_hardened/",
    "asgi adapter": r"apaygate/asgi\.py",
    "uvicorn/asyncio": r"uvicorn/|asyncio/",
    "templates": r"django/template/",
    "payments (ours)": r"payments/|providers/",
}


def prepared_load(stack: Stack, path: str, seconds: float):
    """Make the path's data first (not sampled), then return the run that drives it."""
    gw = stack.gateway_url
    if path in ("miss", "hit"):  # the redirect: where make bench sends it
        gw = stack.shopper_url
    if path == "init":
        script, connections = stack.init_script(), 64
    elif path == "intake":
        script = stack.postback_script(int(1500 * seconds), with_merchant_postback=False)
        connections = 32
    elif path == "miss":
        script = wrk.lua_paths(stack.pay_paths(stack.payments(int(1000 * seconds), in_kv=False)))
        connections = 8
    elif path == "hit":  # closed loop, as make bench's KV-hit row
        script = wrk.lua_paths(stack.pay_paths(stack.payments(200, in_kv=True)))
        connections = 32
    else:
        raise SystemExit(f"unknown path {path!r}: init, intake, miss or hit")
    return lambda: wrk.run(gw, script, connections=connections, seconds=seconds)


def summarize(collapsed: Path) -> None:
    layers = {name: re.compile(pattern) for name, pattern in LAYERS.items()}
    inclusive: collections.Counter = collections.Counter()
    own: collections.Counter = collections.Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        own[frames[-1]] += n
        for name, pattern in layers.items():
            if any(pattern.search(frame) for frame in frames):
                inclusive[name] += n
    print(f"\n{total} samples (the thread holding the GIL), {collapsed}")
    print("\ninclusive share by layer:")
    for name, n in inclusive.most_common():
        print(f"  {100 * n / total:5.1f}%  {name}")
    print("\nown samples, top 30 functions:")
    for frame, n in own.most_common(30):
        print(f"  {100 * n / total:5.1f}%  {frame}")


def _workers(pid: int) -> list[str]:
    """The server's worker processes: its gunicorn master's children."""
    return Path(f"/proc/{pid}/task/{pid}/children").read_text().split()


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else "init"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 15
    stack = Stack(root=ROOT)
    out = stack.tmp / f"profile-{path}.txt"
    try:
        stack.prepare()
        stack.start_web()
        prepared_load(stack, path, 3)()  # warm-up: threads, connections, imports
        run = prepared_load(stack, path, seconds)
        server = stack.shopper_server if path in ("miss", "hit") else "gw"
        _name, master = next(item for item in stack.processes if item[0] == server)
        workers = _workers(master.pid)
        spy = str(Path(sys.executable).with_name("py-spy"))
        if not Path(spy).exists():
            spy = shutil.which("py-spy") or spy
        spies = [
            subprocess.Popen(
                [
                    spy,
                    "record",
                    "--pid",
                    pid,
                    "--gil",
                    "--format",
                    "raw",
                    "--rate",
                    "200",
                    "--nonblocking",
                    "--duration",
                    str(int(seconds) - 1),
                    "-o",
                    str(out.with_suffix(f".{pid}.txt")),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for pid in workers
        ]
        with stack.shopper_events_trimmed():  # no worker drains the redirects' events
            result = run()
        for process in spies:
            process.wait(timeout=120)
    finally:
        stack.stop()
    out.write_text("".join(p.read_text() for p in stack.tmp.glob(f"profile-{path}.*.txt")))
    summarize(out)
    rps, errors, p99 = result["rps"], result["errors"], result["p99_ms"]
    print(f"load: {rps:.0f} rps, {errors} errors, p99 {p99:.0f} ms")
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
