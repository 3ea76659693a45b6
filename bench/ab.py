"""Before and after in the same run: the gateway's CPU per request on its hot paths, two trees.

Run: `.venv/bin/python bench/ab.py BASE_DIR [seconds] [init,intake,miss,hit]` where BASE_DIR
holds another tree of the gateway (e.g. `git archive <commit> | tar -x -C /tmp/base`); the
current tree's `.venv` runs both. It starts both gateways side by side (the production web
command, same worker count, same database, Redis and stubs: bench/processes.py) and the
raw baseline app (bench/raw.py), then drives each hot path on each in turn, twice,
alternating, and prints CPU milliseconds per request (and rps) for base, current and raw.
On a shared machine absolute figures swing with the neighbours; the ratio between trees in
the same run is the figure to quote.

`.venv/bin/python bench/ab.py BASE_DIR [seconds] relay` compares the two trees' workers
instead (rows 7-8 of `make bench`, bench/bench_relay.py): one gateway, then each tree's
worker and beat in turn, twice, alternating, each running postback -> merchant receipt at
100/s and the relay's backlog against bare POSTs from as many threads, in the same run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench import wrk  # noqa: E402
from bench.bench_gateway import cpu_per_request, paced  # noqa: E402
from bench.processes import Stack  # noqa: E402

ROUNDS = 2


def scripts(stack: Stack, seconds: float) -> dict[str, tuple[str, int]]:
    """Each hot path's wrk script (fresh data per server and round) and its connections."""

    def miss():
        paths = stack.pay_paths(stack.payments(int(250 * seconds), in_kv=False))
        return wrk.lua_paths(paths, think_ms=paced(200, 4)), 4

    def hit():
        # Closed loop, as make bench's KV-hit row; the raw app's KV hit is `/r`.
        return wrk.lua_paths(stack.pay_paths(stack.payments(200, in_kv=True))), 32

    def intake():
        # Enough distinct postbacks for the raw app's rate; the gateway's repeats would be
        # duplicates (another path), so it gets as many as it can apply.
        return stack.postback_script(int(700 * seconds), with_merchant_postback=False), 32

    # 64 in flight as in make bench; fewer (BENCH_AB_INIT_CONNS) where a crowded machine
    # makes requests time out, whose CPU would then be charged to the ones that finished.
    init_conns = int(os.environ.get("BENCH_AB_INIT_CONNS", "64"))
    return {
        "init": lambda: (stack.init_script(), init_conns),
        "intake": intake,
        "miss": miss,
        "hit": hit,
    }


def _script(path: str, server: str, make) -> tuple[str, int]:
    """The path's script for one server; the raw app's KV hit is its own `/r` (one GET)."""
    script, connections = make()
    if path == "hit" and server == "raw":
        script = wrk.lua_paths(["/r?id=baseline"])
    return script, connections


def relay_ab(base_dir: Path, seconds: float) -> None:
    """Each tree's worker in turn on the same stack: receipt p99 at 100/s and relay rate."""
    stack = Stack(root=ROOT)
    trees = {"base": base_dir, "current": ROOT}
    figures: dict[str, list[dict]] = {name: [] for name in trees}
    try:
        stack.prepare()
        stack.start_web()
        for _round in range(ROUNDS):
            for name, tree in trees.items():
                stack.start_worker(root=tree)
                stack.postbacks_end_to_end(rate=100, seconds=2)  # warm-up
                e2e = stack.postbacks_end_to_end(rate=100, seconds=seconds)
                relay = stack.relay(count=int(600 * seconds))
                stack.stop_worker()
                receipts = {"received": e2e["received"], "sent": e2e["sent"]}
                figures[name].append({**relay, "receipt_p99_ms": e2e["p99_ms"], **receipts})
                print(name, figures[name][-1], f"load {os.getloadavg()}", flush=True)
    finally:
        stack.stop()
        print(stack.log_tail())
    print(f"\n{stack.describe()}; base tree: {base_dir}")
    print("| tree    | relay rps | bare rps | relay/bare | receipt p99 ms (100/s) | delivered")
    for name, runs in figures.items():
        for run in runs:
            print(
                f"| {name:7} | {run['rps']:9.0f} | {run['bare_rps']:8.0f} |"
                f" {run['rps'] / run['bare_rps']:10.2f} | {run['receipt_p99_ms']:22.0f} |"
                f" {run['delivered']} (receipts {run['received']}/{run['sent']})"
            )
    print(f"load average: {os.getloadavg()}")


def main() -> None:
    base_dir = Path(sys.argv[1]).resolve()
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 8
    if len(sys.argv) > 3 and sys.argv[3] == "relay":
        return relay_ab(base_dir, seconds)
    stack = Stack(root=ROOT)
    port = stack.ports["merch"] + 1
    urls = {"base": f"http://127.0.0.1:{port}", "current": stack.gateway_url, "raw": stack.raw_url}
    names = {"base": "base", "current": "gw", "raw": "raw"}
    figures: dict[tuple[str, str], list[dict]] = {}
    try:
        stack.prepare()
        stack.start_web()
        stack._web("base", "apaygate.asgi:application", port, "/integration/pay?id=x", base_dir)
        with stack.shopper_events_trimmed():  # no worker drains the redirects' events
            makers = scripts(stack, seconds)
            if len(sys.argv) > 3:
                makers = {path: makers[path] for path in sys.argv[3].split(",")}
            for path, make in makers.items():
                for server in ("base", "current", "raw"):  # warm-up
                    script, connections = _script(path, server, make)
                    wrk.run(urls[server], script, connections=connections, seconds=2)
                for _round in range(ROUNDS):
                    for server in ("base", "current", "raw"):
                        script, connections = _script(path, server, make)
                        result = cpu_per_request(
                            stack,
                            lambda u=urls[server], s=script, c=connections: wrk.run(
                                u, s, connections=c, seconds=seconds
                            ),
                            names[server],
                        )
                        figures.setdefault((path, server), []).append(result)
    finally:
        stack.stop()
        print(stack.log_tail())
    print(f"\n{stack.describe()}; base tree: {base_dir}")
    print("| path   | base ms/req |  current |    raw | cur/base | cur/raw | rps base/cur/raw")
    for path in makers:
        cpu = {s: sum(r["cpu_ms_per_request"] for r in figures[path, s]) / ROUNDS for s in urls}
        rps = {s: sum(r["rps"] for r in figures[path, s]) / ROUNDS for s in urls}
        errors = {s: sum(r["errors"] for r in figures[path, s]) for s in urls}
        print(
            f"| {path:6} | {cpu['base']:11.2f} | {cpu['current']:8.2f} | {cpu['raw']:6.2f} |"
            f" {cpu['current'] / cpu['base']:8.2f} | {cpu['current'] / cpu['raw']:7.2f} |"
            f" {rps['base']:.0f}/{rps['current']:.0f}/{rps['raw']:.0f}"
            f" (errors {errors['base']}/{errors['current']}/{errors['raw']})"
        )
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
