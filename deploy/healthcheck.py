"""Container health check, one for every role of the image (no curl in slim).

- worker and beat serve no HTTP: each touches `LIVENESS_FILE` while it runs
  (foundation/liveness.py); healthy while that file is fresh.
- web (no liveness file): GET /healthz on this container's web server, with the first of
  ALLOWED_HOSTS as Host, so a production ALLOWED_HOSTS still answers.
- migrate is a one-shot role: it exits before the first check.
"""

from __future__ import annotations

import os
import sys
import time
import urllib.request
from pathlib import Path

# Several missed touches (worker: every 10 s, beat: every 5 s) before calling it stuck.
LIVENESS_MAX_AGE_SECONDS = 60


def liveness_ok(path: Path) -> bool:
    age = time.time() - path.stat().st_mtime
    if age > LIVENESS_MAX_AGE_SECONDS:
        print(f"unhealthy: no progress for {age:.0f} s", file=sys.stderr)
        return False
    return True


def web_ok() -> bool:
    host = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".")
    host = host if host and host != "*" else "127.0.0.1"
    request = urllib.request.Request(
        f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz", headers={"Host": host}
    )
    try:
        # A fixed http URL on loopback, not user input.
        with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
            return response.status == 200
    except Exception as error:
        print(f"unhealthy: {error}", file=sys.stderr)
        return False


def main() -> int:
    liveness = os.environ.get("LIVENESS_FILE", "")
    if liveness and Path(liveness).exists():
        return 0 if liveness_ok(Path(liveness)) else 1
    return 0 if web_ok() else 1


if __name__ == "__main__":
    sys.exit(main())
