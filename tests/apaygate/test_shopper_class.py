"""The shopper process class behind the TLS proxy, for real: Caddy, web and shopper processes.

Caddy runs deploy/proxy/Caddyfile as shipped (https with its local CA, the production
security settings behind it), in front of `scripts/serve.sh web` and `scripts/serve.sh
shopper` on free loopback ports. Which process answered is read from each one's access
log. One origin: every request goes to Caddy's https port.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urljoin

import pytest
import requests
from django.conf import settings

from apaygate.shopper_paths import OPERATIONS_PATHS, ROUTED_PATHS, ROUTED_PREFIXES
from payments.kv import kv_store
from payments.models import EventType, Payment, PaymentEvent, PaymentStatus, TokenMode
from payments.shopper.event_buffer import shopper_events_drain
from tests.factories import MerchantFactory, PaymentFactory, make_token
from tests.support.gateway import _database_url, free_port

ROOT = Path(__file__).resolve().parents[2]
CADDYFILE = ROOT / "deploy" / "proxy" / "Caddyfile"
START_TIMEOUT = 120  # a loaded shared machine; only a failure waits this long


def _caddy() -> str:
    found = shutil.which("caddy")
    if found:
        return found
    if os.environ.get("CI") == "true":
        pytest.fail("caddy is missing in CI: scripts/ensure-system-packages.sh installs it")
    pytest.skip("caddy not installed (Debian: apt-get install caddy)")


class Process:
    """A subprocess in its own session, its output in a log file."""

    def __init__(self, name: str, command: list[str], env: dict, tmp_path: Path):
        self.log_path = tmp_path / f"{name}.log"
        with self.log_path.open("w") as log:
            self.popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def log(self) -> str:
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.popen.poll() is None:  # the whole session: gunicorn's master and workers
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)


class Stack:
    """Caddy (https, local CA) in front of one web and one shopper process."""

    def __init__(self, tmp_path: Path, *, web_env: dict | None = None):
        self.https_port, self.http_port = free_port(), free_port()
        self.web_port, self.shopper_port = free_port(), free_port()
        self.origin = f"https://127.0.0.1:{self.https_port}"
        app_env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "apaygate.test_settings",
            "DATABASE_URL": _database_url(),
            "REDIS_URL": settings.REDIS_URL,
            "CACHE_KEY_PREFIX": settings.CACHES["default"]["KEY_PREFIX"],
            "PUBLIC_BASE_URL": self.origin,
            "SECURE_SSL_REDIRECT": "true",  # production: only https is served
            "LOG_LEVEL": "WARNING",
            "WEB_BIND": f"127.0.0.1:{self.web_port}",
            "WEB_CONCURRENCY": "1",
            "SHOPPER_BIND": f"127.0.0.1:{self.shopper_port}",
            "SHOPPER_CONCURRENCY": "1",
        }
        app_env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        caddy_env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(tmp_path),
            "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
            "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
            "APAYGATE_SITE": "127.0.0.1",
            "APAYGATE_TLS": "internal",
            "CADDY_HTTPS_PORT": str(self.https_port),
            "CADDY_HTTP_PORT": str(self.http_port),
            "WEB_UPSTREAM": f"127.0.0.1:{self.web_port}",
            "SHOPPER_UPSTREAM": f"127.0.0.1:{self.shopper_port}",
        }
        self.root_certificate = (
            tmp_path / "caddy-data" / "caddy" / "pki" / "authorities" / "local" / "root.crt"
        )
        self.tmp_path = tmp_path
        self.processes: list[Process] = []
        try:
            self.web = self._start("web", ["scripts/serve.sh", "web"], app_env | (web_env or {}))
            self.shopper = self._start("shopper", ["scripts/serve.sh", "shopper"], app_env)
            self.caddy = self._start(
                "caddy",
                [_caddy(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"],
                caddy_env,
            )
            self._wait_until_ready()
        except BaseException:
            self.stop()
            raise

    def _start(self, name: str, command: list[str], env: dict) -> Process:
        process = Process(name, command, env, self.tmp_path)
        self.processes.append(process)
        return process

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        direct = {
            self.web: f"http://127.0.0.1:{self.web_port}/healthz",
            self.shopper: f"http://127.0.0.1:{self.shopper_port}/healthz",
        }
        for process, url in direct.items():
            while not _answers(url):
                assert process.popen.poll() is None, process.log()
                assert time.monotonic() < deadline, process.log()
                time.sleep(0.1)
        while not (self.root_certificate.exists() and _answers(self.url("/healthz"), self)):
            assert self.caddy.popen.poll() is None, self.caddy.log()
            assert time.monotonic() < deadline, self.caddy.log()
            time.sleep(0.1)

    def url(self, path: str) -> str:
        return f"{self.origin}{path}"

    def get(self, path: str, **kwargs) -> requests.Response:
        kwargs.setdefault("timeout", 10)
        return requests.get(
            self.url(path), allow_redirects=False, verify=str(self.root_certificate), **kwargs
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.stop()


def _answers(url: str, stack: Stack | None = None) -> bool:
    verify = str(stack.root_certificate) if stack else True
    try:
        requests.get(url, timeout=2, verify=verify)
    except requests.RequestException:
        return False
    return True


ACCESS_LINE = re.compile(r'^\S+ - "[A-Z]+ (?P<target>\S+) HTTP/[0-9.]+" [0-9]{3}')


def _logged(process: Process, fragment: str) -> bool:
    """Whether the process's access log has a request whose target contains `fragment`."""
    return any(
        fragment in match["target"]
        for match in map(ACCESS_LINE.match, process.log().splitlines())
        if match
    )


def _until(condition, *, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.fixture(scope="module")
def shared_stack(django_db_setup, tmp_path_factory):
    """One stack for the tests that do not change its processes' settings."""
    _caddy()
    running = Stack(tmp_path_factory.mktemp("stack"))
    yield running
    running.stop()


@pytest.fixture
def stack(shared_stack, transactional_db):
    return shared_stack


def _init_payment_body() -> dict:
    return {
        "customerEmail": "a@example.com",
        "amount": "10.00",
        "currency": "USD",
        "successUrl": "https://shop.example/s",
        "errorUrl": "https://shop.example/e",
    }


def test_the_redirect_is_answered_by_the_shopper_class_and_init_payment_by_web(stack):
    key = make_token(merchant=MerchantFactory(), mode=TokenMode.TEST)[1]  # the sandbox

    # when: a merchant creates a payment, then its shopper follows the link, on one origin
    created = requests.post(
        stack.url("/api/v1/init-payment"),
        json=_init_payment_body(),
        headers={"Authorization": f"Token {key}"},
        timeout=30,
        verify=str(stack.root_certificate),
    )
    assert created.status_code == 201, created.text
    link = created.json()["url"]
    assert link.startswith(f"{stack.origin}/integration/pay?id=")  # PUBLIC_BASE_URL: the proxy
    public_id = link.rsplit("=", 1)[1]
    redirect = stack.get(f"/integration/pay?id={public_id}")

    # then
    assert redirect.status_code == 302
    assert redirect.headers["Location"]
    assert redirect.headers["Strict-Transport-Security"].startswith("max-age=")  # https
    assert _until(lambda: _logged(stack.shopper, f"/integration/pay?id={public_id}"))
    assert _until(lambda: _logged(stack.web, "/api/v1/init-payment"))
    assert not _logged(stack.web, "/integration/pay")
    assert not _logged(stack.shopper, "/api/v1/init-payment")


def test_a_sandbox_payment_goes_through_the_proxy_with_the_shopper_class_over_https(stack):
    # given: a payment created through the proxy (web), its link on the one public origin
    key = make_token(merchant=MerchantFactory(), mode=TokenMode.TEST)[1]
    shopper = requests.Session()
    shopper.trust_env = False  # REQUESTS_CA_BUNDLE would replace the proxy's local CA
    shopper.verify = str(stack.root_certificate)
    created = shopper.post(
        stack.url("/api/v1/init-payment"),
        json=_init_payment_body(),
        headers={"Authorization": f"Token {key}"},
        timeout=30,
    )
    assert created.status_code == 201, created.text
    payment = Payment.objects.get(public_id=created.json()["id"])

    # when: the shopper follows the link to the sandbox's page and presses Pay (a form with
    # its CSRF token and Secure cookie, as a browser sends it)
    to_provider = shopper.get(created.json()["url"], allow_redirects=False, timeout=10)
    page_url = to_provider.headers["Location"]
    assert page_url.startswith(f"{stack.origin}/sandbox/pay/")
    page = shopper.get(page_url, timeout=10)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)[1]
    paid = shopper.post(
        page_url,
        data={"csrfmiddlewaretoken": token, "outcome": "success"},
        headers={"Referer": page_url},
        allow_redirects=False,
        timeout=30,
    )
    success_url = urljoin(page_url, paid.headers["Location"])
    back = shopper.get(success_url, allow_redirects=False, timeout=10)

    # then: settled, the shopper sent back to the shop, every step by the shopper class
    assert paid.status_code == 302, paid.text
    assert success_url.startswith(f"{stack.origin}/integration/success")
    assert (back.status_code, back.headers["Location"]) == (302, "https://shop.example/s")
    payment.refresh_from_db()
    assert payment.status == PaymentStatus.SUCCEEDED
    for target in (
        f"/integration/pay?id={payment.public_id}",
        "/sandbox/pay/",
        "/integration/success",
    ):
        assert _until(lambda target=target: _logged(stack.shopper, target)), target
        assert not _logged(stack.web, target)


def test_the_shopper_pages_and_their_static_files_come_from_the_shopper_class(stack):
    payment = PaymentFactory()

    waiting = stack.get(f"/integration/status?id={payment.public_id}")
    stylesheet = stack.get("/static/apaygate/site.css")
    docs = stack.get("/docs/")

    assert waiting.status_code == 200
    assert stylesheet.status_code == 200
    assert docs.status_code == 200
    assert _until(lambda: _logged(stack.shopper, "/static/apaygate/site.css"))
    assert _logged(stack.shopper, "/integration/status?id=")
    assert _until(lambda: _logged(stack.web, "/docs/"))
    assert not _logged(stack.shopper, "/docs/")


def test_the_shopper_class_refuses_the_merchant_api_sent_to_it_by_mistake(stack):
    answer = requests.post(
        f"http://127.0.0.1:{stack.shopper_port}/api/v1/init-payment",
        json=_init_payment_body(),
        headers={"X-Forwarded-Proto": "https"},  # as the proxy would send it
        timeout=10,
    )

    assert answer.status_code == 404
    assert answer.json()["code"] == "not_served_here"
    assert not Payment.objects.exists()


def test_plain_http_to_the_proxy_is_sent_to_https(stack):
    answer = requests.get(
        f"http://127.0.0.1:{stack.http_port}/integration/pay?id=pay_x",
        allow_redirects=False,
        timeout=10,
    )

    assert answer.status_code in (301, 308)
    assert answer.headers["Location"].startswith("https://127.0.0.1")


def test_shoppers_are_answered_by_their_class_while_every_web_provider_thread_hangs(
    transactional_db, tmp_path
):
    # given: a provider that accepts connections and never answers, and a web provider pool
    # of 2 whose threads are both held by init-payments waiting on it
    _caddy()
    hanging = socket.create_server(("127.0.0.1", 0), backlog=16)
    accepted: list[socket.socket] = []
    threading.Thread(
        target=lambda: [accepted.append(hanging.accept()[0]) for _ in range(4)], daemon=True
    ).start()
    stack = Stack(
        tmp_path,
        web_env={
            "WEB_PROVIDER_THREADS": "2",
            "WEB_THREADS": "2",
            "BANSKY_API_URL": f"http://127.0.0.1:{hanging.getsockname()[1]}",
            "PROVIDER_READ_TIMEOUT": "30",
        },
    )
    try:
        key = make_token(merchant=MerchantFactory(provider="bansky"))[1]

        def init_payment():
            with contextlib.suppress(requests.RequestException):  # the stack stops below
                requests.post(
                    stack.url("/api/v1/init-payment"),
                    json=_init_payment_body(),
                    headers={"Authorization": f"Token {key}"},
                    timeout=60,
                    verify=str(stack.root_certificate),
                )

        # as many as the provider pool has threads: more would be shed (503), not held
        waiting = [threading.Thread(target=init_payment, daemon=True) for _ in range(2)]
        for thread in waiting:
            thread.start()
        assert _until(lambda: len(accepted) == 2, timeout=20)  # the provider pool is full
        in_kv, not_in_kv = PaymentFactory(), PaymentFactory()
        kv_store(in_kv)

        # when: shoppers follow their links (the fast lane, and a KV miss needing a thread)
        hit = stack.get(f"/integration/pay?id={in_kv.public_id}")
        miss = stack.get(f"/integration/pay?id={not_in_kv.public_id}")

        # then: both answered, by the shopper class, while the merchants still wait
        assert (hit.status_code, hit.headers["Location"]) == (302, in_kv.provider_url)
        assert (miss.status_code, miss.headers["Location"]) == (302, not_in_kv.provider_url)
        assert _until(lambda: _logged(stack.shopper, not_in_kv.public_id))
        assert _logged(stack.shopper, in_kv.public_id)
        assert all(thread.is_alive() for thread in waiting)
        shopper_events_drain()
        for payment in (in_kv, not_in_kv):
            assert PaymentEvent.objects.filter(
                payment=payment, type=EventType.SHOPPER_REDIRECTED
            ).exists()
    finally:
        stack.stop()
        for conn in accepted:
            conn.close()
        hanging.close()


class Upstream:
    """A loopback HTTP server that answers 200 and keeps the headers of every request."""

    def __init__(self):
        self.seen: list[tuple[str, dict[str, str]]] = []
        upstream = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                upstream.seen.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.address = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def upstreams():
    web, shopper = Upstream(), Upstream()
    yield web, shopper
    web.close()
    shopper.close()


def _caddy_alone(tmp_path: Path, upstreams, *, tls: str) -> tuple[Process, int, Path]:
    """Caddy with the shipped Caddyfile in front of two recording upstreams."""
    web, shopper = upstreams
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "caddy-data"),
        "XDG_CONFIG_HOME": str(tmp_path / "caddy-config"),
        "APAYGATE_SITE": "127.0.0.1" if tls == "internal" else f"http://127.0.0.1:{port}",
        "APAYGATE_TLS": tls,
        "CADDY_HTTPS_PORT": str(port if tls == "internal" else free_port()),
        "CADDY_HTTP_PORT": str(free_port() if tls == "internal" else port),
        "WEB_UPSTREAM": web.address,
        "SHOPPER_UPSTREAM": shopper.address,
    }
    command = [_caddy(), "run", "--config", str(CADDYFILE), "--adapter", "caddyfile"]
    return Process("caddy", command, env, tmp_path), port, tmp_path / "caddy-data"


@pytest.mark.parametrize("tls", ["internal", "auto"])
def test_the_proxy_replaces_the_clients_forwarded_headers_and_keeps_the_host(
    tmp_path, upstreams, tls
):
    web, shopper = upstreams
    caddy, port, data = _caddy_alone(tmp_path, upstreams, tls=tls)
    scheme = "https" if tls == "internal" else "http"
    root = data / "caddy" / "pki" / "authorities" / "local" / "root.crt"
    spoofed = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    if tls == "internal":
        spoofed["X-Forwarded-Proto"] = "http"
    try:

        def fetch(path: str) -> requests.Response | None:
            try:
                return requests.get(
                    f"{scheme}://127.0.0.1:{port}{path}",
                    headers=spoofed,
                    timeout=5,
                    verify=str(root) if tls == "internal" else True,
                )
            except (requests.RequestException, OSError):
                assert caddy.popen.poll() is None, caddy.log()
                return None

        assert _until(lambda: fetch("/healthz") is not None, timeout=START_TIMEOUT)
        web.seen.clear()

        # when: a shopper path and a merchant path, with client-made forwarded headers
        assert fetch("/integration/pay?id=pay_x").status_code == 200
        assert fetch("/api/v1/payments").status_code == 200
    finally:
        caddy.stop()

    # then: each class got its path, with the proxy's own view of the client
    [(shopper_path, shopper_headers)] = shopper.seen
    [(web_path, web_headers)] = web.seen
    assert (shopper_path, web_path) == ("/integration/pay?id=pay_x", "/api/v1/payments")
    for headers in (shopper_headers, web_headers):
        assert headers["x-forwarded-proto"] == scheme
        assert headers["x-forwarded-for"] == "127.0.0.1"
        assert headers["host"] == f"127.0.0.1:{port}"


def test_the_proxy_routes_exactly_the_paths_the_shopper_class_serves():
    text = CADDYFILE.read_text()
    [matcher] = re.findall(r"^\s*@shopper path (.+)$", text, flags=re.MULTILINE)

    routed = matcher.split()

    assert routed == [f"{prefix}*" for prefix in ROUTED_PREFIXES] + list(ROUTED_PATHS)
    assert not set(OPERATIONS_PATHS) & set(routed)  # probes and metrics: the web class
