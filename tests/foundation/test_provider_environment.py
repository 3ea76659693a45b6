"""Provider calls honour the proxy environment as requests does, read once per destination.

`ProviderHTTPSession` (foundation/http.py) turns off requests' per-call look-ups
(`trust_env`) and does them itself, once per destination: the settings it hands requests
must be the very ones requests would have found, and a proxy in the environment must carry
the call (or not, under NO_PROXY).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from foundation import http
from foundation.http import ProviderHTTPSession, provider_session

ENV_NAMES = (
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
)

ENVIRONMENTS = [
    {},
    {"HTTPS_PROXY": "http://proxy.example:3128"},
    {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": "api.tele.store"},
    {"HTTPS_PROXY": "http://proxy.example:3128", "NO_PROXY": ".bansky.example,10.0.0.0/8"},
    {"HTTP_PROXY": "http://p1.example:8080", "HTTPS_PROXY": "http://p2.example:8080"},
    {"ALL_PROXY": "socks5://p3.example:1080", "NO_PROXY": "*"},
    {"REQUESTS_CA_BUNDLE": "/etc/ssl/certs/bundle.pem"},
    {"CURL_CA_BUNDLE": "/etc/ssl/certs/curl.pem", "HTTPS_PROXY": "http://proxy.example:3128"},
]

URLS = [
    "https://api.tele.store/v1/invoices",
    "https://api.bansky.example/payments",
    "https://bansky.example/payments",
    "http://10.1.2.3:8080/payments",
    "http://127.0.0.1:18002/payments",
]


@pytest.fixture
def environment(monkeypatch):
    """Set exactly the given proxy/CA variables (the rest removed) for one test."""

    def set_to(values: dict[str, str]) -> None:
        for name in ENV_NAMES:
            monkeypatch.delenv(name, raising=False)
        for name, value in values.items():
            monkeypatch.setenv(name, value)

    return set_to


@pytest.mark.parametrize("values", ENVIRONMENTS)
def test_settings_are_those_requests_would_find(environment, values):
    environment(values)
    ours, plain = provider_session(), requests.Session()
    assert isinstance(ours, ProviderHTTPSession)
    for url in URLS:
        for _twice in range(2):  # the second time from the session's memory
            assert ours.merge_environment_settings(url, {}, None, None, None) == (
                plain.merge_environment_settings(url, {}, None, None, None)
            ), url


def test_the_environment_is_read_once_per_destination(environment, monkeypatch):
    environment({"HTTPS_PROXY": "http://proxy.example:3128"})
    calls: list[str] = []
    real = http.get_environ_proxies

    def counting(url, no_proxy=None):
        calls.append(url)
        return real(url, no_proxy=no_proxy)

    monkeypatch.setattr(http, "get_environ_proxies", counting)
    session = provider_session()
    for _ in range(3):
        session.merge_environment_settings("https://api.tele.store/a", {}, None, None, None)
        session.merge_environment_settings("https://api.tele.store/b?x=1", {}, None, None, None)
    session.merge_environment_settings("https://api.bansky.example/p", {}, None, None, None)

    assert calls == ["https://api.tele.store/", "https://api.bansky.example/"]


def test_no_netrc_credentials_replace_the_providers_authorization(
    environment, tmp_path, monkeypatch
):
    environment({})
    netrc = tmp_path / "netrc"
    netrc.write_text("machine api.tele.store login someone password secret\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    request = requests.Request(
        "POST", "https://api.tele.store/v1/invoices", headers={"Authorization": "Bearer tok"}
    )

    prepared = provider_session().prepare_request(request)

    assert prepared.headers["Authorization"] == "Bearer tok"


class _Recorder(BaseHTTPRequestHandler):
    """A loopback stand-in for an HTTP proxy: records the request line, answers an invoice."""

    seen: list[str] = []

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).seen.append(self.path)
        body = json.dumps({"url": "https://pay.example/i/1", "reference": "r1"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy_server():
    _Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", _Recorder.seen
    server.shutdown()
    server.server_close()


def test_a_provider_call_goes_through_the_proxy_unless_no_proxy_names_it(environment, proxy_server):
    proxy_url, seen = proxy_server
    target = "http://provider.invalid/payments"  # never resolved: only the proxy can answer it
    environment({"HTTP_PROXY": proxy_url})

    answer = provider_session().post(target, json={"id": "p"}, timeout=5)

    assert answer.json()["reference"] == "r1"
    assert seen == [target]  # the absolute form: a request to a proxy

    environment({"HTTP_PROXY": proxy_url, "NO_PROXY": "provider.invalid"})
    with pytest.raises(requests.ConnectionError):
        provider_session().post(target, json={"id": "p"}, timeout=5)
    assert seen == [target]
