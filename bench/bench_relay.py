"""Only the delivery rows of `make bench` (7: postback -> merchant receipt, 8: relay).

Run: `.venv/bin/python bench/bench_relay.py` (PostgreSQL and Redis up; the same
environment variables as bench/bench_gateway.py). It starts the same processes, runs the
two rows and prints them; it does not write bench/results.json.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_gateway import delivery_rows, print_table  # noqa: E402
from bench.processes import Stack  # noqa: E402


def main() -> None:
    stack = Stack(root=ROOT)
    rows: list[dict] = []
    try:
        stack.prepare()
        stack.start_web()
        rows = delivery_rows(stack)
    finally:
        stack.stop()
        print(stack.log_tail())
    print_table(rows, stack)
    print(json.dumps(rows, indent=2))
    print(f"load average: {os.getloadavg()}")


if __name__ == "__main__":
    main()
