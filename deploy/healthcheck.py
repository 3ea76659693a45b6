"""Container health check: GET /healthz on this container's web server (no curl in slim).

Sends the first of ALLOWED_HOSTS as Host, so a production ALLOWED_HOSTS still answers.
"""

from __future__ import annotations

import os
import sys
import urllib.request

host = os.environ.get("ALLOWED_HOSTS", "").split(",")[0].strip().lstrip(".")
host = host if host and host != "*" else "127.0.0.1"
request = urllib.request.Request(
    f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz", headers={"Host": host}
)
try:
    # A fixed http URL on loopback, not user input.
    with urllib.request.urlopen(request, timeout=4) as response:  # noqa: S310
        sys.exit(0 if response.status == 200 else 1)
except Exception as error:
    print(f"unhealthy: {error}", file=sys.stderr)
    sys.exit(1)
