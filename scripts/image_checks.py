"""The role checks of `make image-test` (scripts/image-test.sh), on a built image.

Standard library only: it runs with the machine's python3, outside any venv. Every role's
container uses the host's network (`--network host`) and listens on, or reaches, 127.0.0.1
only: the host's PostgreSQL and Redis, web and shopper ports picked free, and a loopback
merchant receiver for the postbacks. The BigQuery emulator (second argument: the image of
the Dockerfile's `bigquery-emulator` stage) runs with `--network none`. Prints one line per
check; exits non-zero on the first failure (with the containers' logs).

    python3 scripts/image_checks.py apaygate:image-test [apaygate-bigquery-emulator:image-test]

Environment: IMAGE_TEST_DATABASE_URL (a database it drops and creates; default
postgres://postgres@127.0.0.1:5432/apaygate_image_test), IMAGE_TEST_REDIS_URL (a Redis
database it empties; default redis://127.0.0.1:6379/15), IMAGE_TEST_STOP_GRACE (30).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.cookiejar
import http.server
import json
import os
import re
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter

IMAGE = sys.argv[1] if len(sys.argv) > 1 else "apaygate:image-test"
# The `bigquery-emulator` stage's image, when given: `image_checks.py IMAGE BIGQUERY_IMAGE`.
BIGQUERY_IMAGE = sys.argv[2] if len(sys.argv) > 2 else ""
DATABASE_URL = os.environ.get(
    "IMAGE_TEST_DATABASE_URL", "postgres://postgres@127.0.0.1:5432/apaygate_image_test"
)
REDIS_URL = os.environ.get("IMAGE_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Covers gunicorn's graceful timeout (20 s) and the longest postback (POSTBACK_TIMEOUT, 15 s).
STOP_GRACE = int(os.environ.get("IMAGE_TEST_STOP_GRACE", "30"))
# A configuration error must end the container this fast.
CONFIG_ERROR_LIMIT = 20
# How long the loopback merchant holds each postback: in flight when the worker is stopped.
SLOW_ANSWER_SECONDS = 4.0
IN_FLIGHT_PAYMENTS = 6
PREFIX = f"apaygate-it-{os.getpid()}"

started: list[str] = []


def say(message: str) -> None:
    print(f"  {message}", flush=True)


def fail(message: str) -> None:
    print(f"FAILED: {message}", flush=True)
    for name in started:
        logs = subprocess.run(["docker", "logs", "--tail", "40", name], capture_output=True)
        print(f"--- logs of {name}:\n{(logs.stdout + logs.stderr).decode(errors='replace')}")
    raise SystemExit(1)


def docker(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(["docker", *args], capture_output=True, text=True)
    if check and proc.returncode != 0:
        fail(f"docker {' '.join(args)}: {proc.stderr.strip() or proc.stdout.strip()}")
    return proc


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


PORT = free_port()
BASE = f"http://127.0.0.1:{PORT}"
ENV = {
    "SECRET_KEY": "image-test-" + base64.b64encode(os.urandom(24)).decode(),
    "DATABASE_URL": DATABASE_URL,
    "REDIS_URL": REDIS_URL,
    "PORT": str(PORT),
    "WEB_BIND": f"127.0.0.1:{PORT}",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "PUBLIC_BASE_URL": BASE,
    # Plain http on loopback: no TLS proxy in front in this test.
    "SECURE_SSL_REDIRECT": "false",
    "SESSION_COOKIE_SECURE": "false",
    "CSRF_COOKIE_SECURE": "false",
    "SANDBOX_ENABLED": "true",
    # The merchant receiver is plain http on loopback, which the URL rules refuse unless
    # DEBUG is on and the address rule is lifted (as the SDKs' live suites do).
    "DEBUG": "true",
    "POSTBACK_ALLOW_PRIVATE": "true",
    "WEB_CONCURRENCY": "1",
    "LOG_LEVEL": "WARNING",
}


def env_args(env: dict[str, str]) -> list[str]:
    return [arg for key, value in env.items() for arg in ("-e", f"{key}={value}")]


def run_role(role: str, *, name: str, env: dict[str, str] | None = None, detach=True) -> str:
    full = f"{PREFIX}-{name}"
    args = ["run", "--name", full, "--network", "host", f"--stop-timeout={STOP_GRACE}"]
    args += env_args(ENV if env is None else env)
    args += ["-d"] if detach else []
    docker(*args, IMAGE, role, check=detach)
    started.append(full)
    return full


def manage(*args: str) -> str:
    proc = docker(
        "run", "--rm", "--network", "host", *env_args(ENV), "--entrypoint", "python",
        IMAGE, "manage.py", *args,
    )  # fmt: skip
    return proc.stdout.strip().splitlines()[-1]


def state(name: str, field: str) -> str:
    return docker("inspect", "-f", "{{" + field + "}}", name).stdout.strip()


def wait_for(what: str, condition, limit: float) -> float:
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if condition():
            return time.monotonic() - start
        time.sleep(0.5)
    fail(f"{what}: not within {limit:.0f} s")
    return limit


def wait_healthy(name: str, limit: float = 90) -> float:
    def healthy() -> bool:
        status = state(name, ".State.Health.Status")
        if state(name, ".State.Running") != "true":
            fail(f"{name} exited ({state(name, '.State.ExitCode')})")
        return status == "healthy"

    return wait_for(f"{name} healthy", healthy, limit)


# --- the loopback merchant ------------------------------------------------------------------
class Receiver(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), ReceiverHandler)
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.lock = threading.Lock()
        self.delay = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/postbacks"

    def webhook_ids(self) -> Counter:
        with self.lock:
            return Counter(headers.get("webhook-id", "") for headers, _ in self.received)


class ReceiverHandler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        time.sleep(self.server.delay)
        with self.server.lock:
            self.server.received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def signature_valid(secret: str, headers: dict[str, str], body: bytes) -> bool:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    return any(
        hmac.compare_digest(part.split(",", 1)[-1], expected)
        for part in headers.get("webhook-signature", "").split()
    )


# --- the shopper and the merchant's server --------------------------------------------------
class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def opener_for(context: ssl.SSLContext | None = None, *handlers) -> urllib.request.OpenerDirector:
    """No redirects followed; https verified against `context` (a CA file) when given."""
    return urllib.request.build_opener(
        NoRedirect, urllib.request.HTTPSHandler(context=context), *handlers
    )


def fetch(method: str, url: str, *, data=None, headers=None, opener=None, context=None):
    body = json.dumps(data).encode() if isinstance(data, dict) else data
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with (opener or opener_for(context)).open(request, timeout=20) as r:
            return r.status, {k.lower(): v for k, v in r.headers.items()}, r.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def pay(
    token: str,
    order: str,
    *,
    postback_url: str | None,
    base: str = BASE,
    context: ssl.SSLContext | None = None,
) -> str:
    """Init a sandbox payment and press Pay as the shopper; return the payment id."""
    request = {
        "id": order,
        "customerEmail": "shopper@example.com",
        "amount": "12.50",
        "currency": "USD",
        "successUrl": "https://shop.example/ok",
        "errorUrl": "https://shop.example/error",
    }
    if postback_url:
        request["postbackUrl"] = postback_url
    status, _, body = fetch(
        "POST",
        f"{base}/api/v1/init-payment",
        data=request,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
        context=context,
    )
    if status != 201:
        fail(f"init-payment answered {status}: {body[:300]!r}")
    payment = json.loads(body)
    if not payment["url"].startswith(base):
        fail(f"the payment's url {payment['url']!r} is not under {base}")
    status, headers, _ = fetch("GET", payment["url"], context=context)
    invoice = urllib.parse.urljoin(payment["url"], headers.get("location", ""))
    if status != 302 or "/sandbox/pay/" not in invoice:
        fail(f"/integration/pay answered {status} to {invoice!r}")
    jar = http.cookiejar.CookieJar()
    opener = opener_for(context, urllib.request.HTTPCookieProcessor(jar))
    status, _, page = fetch("GET", invoice, opener=opener)
    match = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)
    if status != 200 or match is None:
        fail(f"the sandbox page answered {status}")
    form = urllib.parse.urlencode(
        {"outcome": "success", "csrfmiddlewaretoken": match.group(1).decode()}
    ).encode()
    status, headers, _ = fetch(
        "POST",
        invoice,
        data=form,
        headers={"Content-Type": "application/x-www-form-urlencoded", "Referer": invoice},
        opener=opener,
    )
    if status != 302 or "/integration/success" not in headers.get("location", ""):
        fail(f"pressing Pay answered {status} to {headers.get('location')!r}")
    return payment["id"]


# --- the checks ------------------------------------------------------------------------------
def fresh_database_and_redis() -> None:
    url = urllib.parse.urlsplit(DATABASE_URL)
    name = url.path.lstrip("/")
    admin = ["psql", "-q", "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432)]
    admin += ["-U", url.username or "postgres", "-d", "postgres"]
    for sql in (f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"'):
        subprocess.run([*admin, "-c", sql], check=True)
    redis = urllib.parse.urlsplit(REDIS_URL)
    subprocess.run(
        ["redis-cli", "-h", redis.hostname or "127.0.0.1", "-p", str(redis.port or 6379),
         "-n", redis.path.lstrip("/") or "0", "flushdb"],
        check=True, capture_output=True,
    )  # fmt: skip


def check_configuration_error_exits() -> None:
    # DEBUG off: with it on, a missing SECRET_KEY has a development default.
    broken = {k: v for k, v in ENV.items() if k not in ("SECRET_KEY", "DEBUG")}
    for role in ("web", "worker", "beat"):
        name = run_role(role, name=f"noconfig-{role}", env=broken)
        took = wait_for(
            f"{role} without SECRET_KEY exits",
            lambda n=name: state(n, ".State.Running") == "false",
            CONFIG_ERROR_LIMIT,
        )
        code = state(name, ".State.ExitCode")
        if code == "0":
            fail(f"{role} without SECRET_KEY exited 0")
        say(f"{role} without SECRET_KEY: exit {code} after {took:.1f} s")


def check_shopper_class() -> None:
    """The shopper process class starts, turns healthy on its own port and serves only the
    shopper's paths (the TLS proxy sends it those; anything else is a routing mistake)."""
    port = free_port()
    env = {**ENV, "PORT": str(port), "SHOPPER_BIND": f"127.0.0.1:{port}"}
    name = run_role("shopper", name="shopper", env=env)
    say(f"shopper: healthy after {wait_healthy(name):.1f} s")
    status, _, _ = fetch("GET", f"http://127.0.0.1:{port}/healthz")
    api, _, body = fetch("POST", f"http://127.0.0.1:{port}/api/v1/init-payment", data={})
    if status != 200 or api != 404 or b"not_served_here" not in body:
        fail(f"shopper: /healthz {status}, /api/v1/init-payment {api} {body[:120]!r}")
    say("shopper /healthz: 200; /api/v1/init-payment: 404 not_served_here")
    docker("rm", "-f", name)


# Run inside the emulator's container: wait until its REST API answers.
BIGQUERY_PROBE = """
import time, urllib.request
url = "http://127.0.0.1:9050/bigquery/v2/projects/apaygate-local/datasets"
for _ in range(240):
    try:
        urllib.request.urlopen(url, timeout=1)
        break
    except OSError:
        time.sleep(0.5)
else:
    raise SystemExit("no answer")
"""
# Run by `manage.py shell` in the gateway's image: the export's own insert, read back through
# the latest-state view (DuckDB's SQL under the emulator).
BIGQUERY_INSERT_AND_READ = """
import datetime, json
from reporting.export.client import bigquery_client, bigquery_insert_rows, latest_view_id
now = datetime.datetime.now(datetime.timezone.utc)
events = [("payment.created", "pending"), ("payment.succeeded", "succeeded")]
rows = [
    dict(event_id=f"e{n}", type=event, status=status, payment_id="p1", amount="12.50",
         currency="USD", is_test=True,
         occurred_at=(now + datetime.timedelta(seconds=n)).isoformat())
    for n, (event, status) in enumerate(events)
]
refused = bigquery_insert_rows(rows=rows, row_ids=[row["event_id"] for row in rows])
sql = f"SELECT payment_id, status, last_event_type FROM `{latest_view_id()}`"
view = [dict(row) for row in bigquery_client().query(sql).result()]
print(json.dumps({"refused": refused, "view": view}))
"""


def check_bigquery_emulator() -> None:
    """The emulator starts with no network at all (`--network none`: nothing can be
    downloaded at start) and answers what the export sends: `manage.py bigquery_setup`
    (dataset, partitioned table, the latest-state view) and a streamed insert read back
    through the view. The gateway's image runs them in the emulator's network namespace."""
    name = f"{PREFIX}-bigquery"
    docker("run", "-d", "--name", name, "--network", "none", BIGQUERY_IMAGE,
           "--project", "apaygate-local")  # fmt: skip
    started.append(name)
    begun = time.monotonic()
    docker("exec", name, "/opt/bq/bin/python", "-c", BIGQUERY_PROBE)
    say(f"bigquery emulator (--network none): answering after {time.monotonic() - begun:.1f} s")
    env = {
        "SECRET_KEY": ENV["SECRET_KEY"],
        "BIGQUERY_PROJECT": "apaygate-local",
        "BIGQUERY_DATASET": "image_test",
        "BIGQUERY_API_ENDPOINT": "http://127.0.0.1:9050",
        "LOG_LEVEL": "WARNING",
    }
    client = ["run", "--rm", "--network", f"container:{name}", *env_args(env)]
    client += ["--entrypoint", "python", IMAGE, "manage.py"]
    setup = docker(*client, "bigquery_setup").stdout.strip().replace("\n", "; ")
    say(f"bigquery_setup: {setup}")
    output = docker(*client, "shell", "-c", BIGQUERY_INSERT_AND_READ).stdout
    answer = json.loads(output.strip().splitlines()[-1])
    expected = [{"payment_id": "p1", "status": "succeeded", "last_event_type": "payment.succeeded"}]
    if answer != {"refused": {}, "view": expected}:
        fail(f"bigquery emulator: {answer}")
    say("bigquery emulator: 2 rows streamed, payments_latest gives the payment's last state")
    logs = docker("logs", name)
    if "download" in (logs.stdout + logs.stderr).lower():
        fail("the emulator tried to download something")
    docker("rm", "-f", name)


def main() -> None:
    print(f"Role checks of {IMAGE} (web on {BASE}, host network, loopback only)", flush=True)
    fresh_database_and_redis()
    try:
        check_configuration_error_exits()

        name = run_role("migrate", name="migrate")
        took = wait_for("migrate exits", lambda: state(name, ".State.Running") == "false", 180)
        if state(name, ".State.ExitCode") != "0":
            fail("migrate did not exit 0")
        say(f"migrate: exit 0 after {took:.1f} s")

        web = run_role("web", name="web")
        worker = run_role("worker", name="worker")
        beat = run_role("beat", name="beat")
        for role, name in (("web", web), ("worker", worker), ("beat", beat)):
            say(f"{role}: healthy after {wait_healthy(name):.1f} s")
        for path in ("/healthz", "/readyz"):
            status, _, body = fetch("GET", BASE + path)
            if status != 200:
                fail(f"{path} answered {status}: {body[:200]!r}")
            say(f"web {path}: 200 {body[:60].decode(errors='replace')}")
        if "Control server error" in docker("logs", web).stderr:
            fail("gunicorn's control server could not start (read-only home?)")
        check_shopper_class()

        secret = manage("create_merchant", "image-test", "--name", "Image Test", "--provider",
                        "sandbox")  # fmt: skip
        token = manage("issue_token", "image-test", "--test", "--label", "image-test")
        receiver = Receiver()
        threading.Thread(target=receiver.serve_forever, daemon=True).start()

        started_at = time.monotonic()
        payment_id = pay(token, "order-e2e", postback_url=receiver.url)
        wait_for("the postback", lambda: receiver.received, 60)
        headers, body = receiver.received[0]
        event = json.loads(body)
        if event.get("paymentId") != payment_id or event.get("event") != "payment.succeeded":
            fail(f"unexpected postback {event}")
        if not signature_valid(secret, headers, body):
            fail("the postback's signature does not verify with the merchant's secret")
        took = time.monotonic() - started_at
        say(f"sandbox payment end to end: signed payment.succeeded received in {took:.1f} s")

        # A worker stopped with postbacks in flight: finishes them, exits 0, none twice.
        receiver.delay = SLOW_ANSWER_SECONDS
        first = len(receiver.received)
        for n in range(IN_FLIGHT_PAYMENTS):
            pay(token, f"order-stop-{n}", postback_url=receiver.url)
        time.sleep(1.0)  # the relay has claimed them; the merchant holds every answer
        stop_started = time.monotonic()
        docker("stop", "-t", str(STOP_GRACE), worker)
        stop_took = time.monotonic() - stop_started
        code = state(worker, ".State.ExitCode")
        if code != "0" or stop_took >= STOP_GRACE:
            fail(f"docker stop of the worker: exit {code} after {stop_took:.1f} s")
        say(f"worker stopped with postbacks in flight: exit 0 after {stop_took:.1f} s")
        receiver.delay = 0.0
        run_role("worker", name="worker-2")
        wait_for(
            "every postback after the restart",
            lambda: len(receiver.webhook_ids()) >= first + IN_FLIGHT_PAYMENTS,
            120,
        )
        time.sleep(5)  # a second copy, if any, would come now
        twice = {wid: n for wid, n in receiver.webhook_ids().items() if n > 1}
        if twice:
            fail(f"postbacks sent twice: {twice}")
        say(f"{IN_FLIGHT_PAYMENTS} postbacks in flight at the stop: each received once")

        for role, name in (("web", web), ("beat", beat)):
            if state(name, ".State.Health.Status") != "healthy":
                fail(f"{role} no longer healthy")
        say("web and beat still healthy")
        if BIGQUERY_IMAGE:
            check_bigquery_emulator()
    finally:
        for name in started:
            docker("rm", "-f", name, check=False)
    print("Role checks: all passed", flush=True)


if __name__ == "__main__":
    main()
