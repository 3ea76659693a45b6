"""`apaygate listen --forward-to URL`, end to end, with both SDKs' commands.

Everything real: the production web server (gunicorn + uvicorn, apaygate/asgi.py) serving
`GET /api/v1/postbacks/stream`, a Celery worker whose relay delivers the test payments'
postbacks (and copies them to the stream), the SDK's command in a subprocess (the Python
package's `python -m apaygate`, the npm package's `npx apaygate`, installed from its
tarball), and a developer's local handler in another subprocess that verifies each
forwarded postback with that SDK's verifier. The gateway ends streams after a few seconds
here, so every scenario also crosses a reconnect.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import tomllib
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.factories import make_token
from tests.sdk.conftest import require_node_modules
from tests.sdk.gateway import SDK_PY, SDK_TS, Celery, database_url, explain, last_line, run
from tests.support.processes import Process, free_port, port_open, wait_until

HERE = Path(__file__).parent / "listen"
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))
STREAM = "/api/v1/postbacks/stream"
STREAM_SECONDS = 4  # the gateway's POSTBACK_STREAM_MAX_SECONDS here: reconnects are seen
PER_MERCHANT = 3

pytestmark = pytest.mark.worker


@dataclass(frozen=True)
class ListenGateway:
    url: str
    test_token: str
    live_token: str
    secret: str


@pytest.fixture
def listen_gateway(transactional_db, settings, tmp_path, monkeypatch):
    """The production web server and a Celery worker on the test database and Redis."""
    # One key prefix for this process, the web server and the worker: the stream's key.
    monkeypatch.setenv("CACHE_KEY_PREFIX", settings.CACHES["default"]["KEY_PREFIX"])
    slug = f"listen-{uuid.uuid4().hex[:8]}"
    secret = last_line("create_merchant", slug, "--name", "Listen Shop", "--provider", "sandbox")
    test_token = last_line("issue_token", slug, "--test", "--label", "listen tests")
    from payments.models import Merchant

    _, live_token = make_token(merchant=Merchant.objects.get(slug=slug))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "apaygate.test_settings",
        "DATABASE_URL": database_url(),
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "1",
        "WEB_THREADS": "2",
        "LOG_LEVEL": "WARNING",
        "PUBLIC_BASE_URL": url,
        "DEBUG": "true",  # http:// return URLs on 127.0.0.1
        "POSTBACK_ALLOW_PRIVATE": "true",  # the payments' own postbackUrl is on loopback too
        "POSTBACK_STREAM_MAX_SECONDS": str(STREAM_SECONDS),
        "POSTBACK_STREAM_PER_MERCHANT": str(PER_MERCHANT),
    }
    web = Process(
        [GUNICORN, "apaygate.asgi:application", "-c", "apaygate/gunicorn_conf.py"],
        env=env,
        log_path=tmp_path / "web.log",
    )
    celery = Celery(broker_url=settings.CELERY_BROKER_URL, tmp=tmp_path)
    try:
        web.start(ready=lambda: port_open(port))
        celery.start()
        yield ListenGateway(url=url, test_token=test_token, live_token=live_token, secret=secret)
    finally:
        celery.stop()
        web.stop()


def pay(gateway: ListenGateway, *, outcome: str, postback_url: str) -> str:
    """A test payment settled at once by a magic e-mail; return its payment id."""
    response = requests.post(
        f"{gateway.url}/api/v1/init-payment",
        headers={"Authorization": f"Token {gateway.test_token}"},
        json={
            "id": f"order-{uuid.uuid4().hex[:8]}",
            "amount": "12.50",
            "currency": "USD",
            "customerEmail": f"{outcome}@sandbox.apaygate.test",  # a magic e-mail
            "successUrl": "http://127.0.0.1/ok",
            "errorUrl": "http://127.0.0.1/err",
            "postbackUrl": postback_url,
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def summary_lines(cli: Process) -> list[str]:
    return [line for line in cli.log_text().splitlines() if " -> " in line]


def listen_scenario(gateway, receiver, tmp_path, *, cli_args, cwd, env, local_handler):
    """Forward three test postbacks; the first while nothing listens locally yet.

    `cli_args(forward_to)` is the SDK's command line; `local_handler(port, log)` the local
    handler's. Returns the CLI's summary lines and the handler's records.
    """
    port = free_port()
    log = tmp_path / "local.jsonl"
    forward_to = f"http://127.0.0.1:{port}/postback"
    cli = Process(cli_args(forward_to), env=env, cwd=cwd, log_path=tmp_path / "cli.log")
    local = Process(local_handler(port, log), env=env, log_path=tmp_path / "local.log")
    try:
        cli.start(ready="Ready.")
        first = pay(gateway, outcome="paid", postback_url=receiver.url)
        # no local handler yet: the command prints the failure and keeps listening
        assert wait_until(lambda: any(first in line for line in summary_lines(cli)), timeout=30), (
            cli.log_text()
        )
        local.start(ready=lambda: port_open(port))
        second = pay(gateway, outcome="declined", postback_url=receiver.url)
        assert wait_until(lambda: len(records(log)) >= 1, timeout=30), cli.log_text()
        time.sleep(STREAM_SECONDS + 1)  # the gateway ends the stream; the command reconnects
        third = pay(gateway, outcome="paid", postback_url=receiver.url)
        assert wait_until(lambda: len(records(log)) >= 2, timeout=30), cli.log_text()
        assert receiver.wait_for(3, timeout=30)
    finally:
        cli.stop()
        local.stop()
    lines = summary_lines(cli)
    got = records(log)
    assert len(lines) == 3, cli.log_text()
    assert first in lines[0] and "failed:" in lines[0], lines
    assert second in lines[1] and "payment.failed" in lines[1] and "-> 200" in lines[1], lines
    assert third in lines[2] and "payment.succeeded" in lines[2] and "-> 200" in lines[2], lines
    assert cli.log_text().count("Ready.") >= 2, cli.log_text()  # it reconnected
    # verified by the SDK's verifier at the receiving end
    assert [(r["paymentId"], r["event"], r["verified"]) for r in got] == [
        (second, "payment.failed", True),
        (third, "payment.succeeded", True),
    ], got
    # unchanged: the same webhook-id and the same body the gateway delivered to postbackUrl
    delivered = {r.headers["webhook-id"]: r.body.decode() for r in receiver.requests}
    for record in got:
        assert delivered[record["webhookId"]] == record["body"]
    return lines, got


def python_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    env["PYTHONPATH"] = str(SDK_PY / "src")  # the SDK, not the gateway's `apaygate`
    return env


def python_cli(gateway: ListenGateway, token: str):
    return lambda forward_to: [
        sys.executable,
        "-P",
        "-m",
        "apaygate",
        "listen",
        "--forward-to",
        forward_to,
        "--base-url",
        gateway.url,
        "--token",
        token,
    ]


def test_python_listen_forwards_test_postbacks_to_a_local_handler_that_verifies_them(
    listen_gateway, receiver, tmp_path
):
    listen_scenario(
        listen_gateway,
        receiver,
        tmp_path,
        cli_args=python_cli(listen_gateway, listen_gateway.test_token),
        cwd=SDK_PY,
        env=python_env(),
        local_handler=lambda port, log: [
            sys.executable,
            "-P",
            str(HERE / "receiver.py"),
            str(port),
            listen_gateway.secret,
            str(log),
        ],
    )


def test_the_python_package_declares_the_apaygate_console_command():
    project = tomllib.loads((SDK_PY / "pyproject.toml").read_text())
    assert project["project"]["scripts"] == {"apaygate": "apaygate._listen:main"}


@pytest.fixture
def npm_installed(sdk_built, tmp_path):
    """@apaygate/sdk installed from its packed tarball into a fresh project, as a merchant
    does; its `apaygate` bin is what `npx apaygate` runs."""
    require_node_modules(SDK_TS)
    packed = tmp_path / "pack"
    packed.mkdir()
    proc = run(["npm", "pack", "--ignore-scripts", "--pack-destination", str(packed)], cwd=SDK_TS)
    assert proc.returncode == 0, explain(proc)
    (tarball,) = packed.glob("apaygate-sdk-*.tgz")
    project = tmp_path / "shop"
    project.mkdir()
    (project / "package.json").write_text('{"name": "shop", "private": true, "type": "module"}')
    proc = run(
        ["npm", "install", "--offline", "--no-audit", "--no-fund", str(tarball)], cwd=project
    )
    assert proc.returncode == 0, explain(proc)
    return project


def test_npx_listen_forwards_test_postbacks_to_a_local_handler_that_verifies_them(
    listen_gateway, receiver, npm_installed, tmp_path
):
    entry = npm_installed / "node_modules" / "@apaygate" / "sdk" / "dist" / "index.js"
    listen_scenario(
        listen_gateway,
        receiver,
        tmp_path,
        cli_args=lambda forward_to: [
            "npx",
            "--no-install",
            "apaygate",
            "listen",
            "--forward-to",
            forward_to,
            "--base-url",
            listen_gateway.url,
            "--token",
            listen_gateway.test_token,
        ],
        cwd=npm_installed,
        env=dict(os.environ),
        local_handler=lambda port, log: [
            "node",
            str(HERE / "receiver.mjs"),
            str(port),
            listen_gateway.secret,
            str(log),
            str(entry),
        ],
    )


def test_a_live_token_is_refused_with_a_machine_code_and_both_commands_stop(
    listen_gateway, npm_installed
):
    response = requests.get(
        listen_gateway.url + STREAM,
        headers={"Authorization": f"Token {listen_gateway.live_token}"},
        timeout=10,
    )
    assert response.status_code == 403
    assert response.headers["Content-Type"] == "application/json"
    assert response.json()["code"] == "test_token_required"

    python = python_cli(listen_gateway, listen_gateway.live_token)("http://127.0.0.1:9/")
    npx = ["npx", "--no-install", "apaygate", *python[python.index("listen") :]]
    for args, cwd, env in (
        (python, SDK_PY, python_env()),
        (npx, npm_installed, dict(os.environ)),
    ):
        proc = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 2, explain(proc)
        assert "test_token_required" in proc.stderr, explain(proc)


def _open_stream(gateway: ListenGateway) -> requests.Response:
    response = requests.get(
        gateway.url + STREAM,
        headers={"Authorization": f"Token {gateway.test_token}", "Accept": "text/event-stream"},
        stream=True,
        timeout=10,
    )
    return response


def test_streams_hold_no_pool_thread_are_capped_per_merchant_and_resume_after_last_event_id(
    listen_gateway, receiver
):
    gateway = listen_gateway
    streams = [_open_stream(gateway) for _ in range(PER_MERCHANT)]
    try:
        assert [s.status_code for s in streams] == [200] * PER_MERCHANT
        assert streams[0].headers["Content-Type"].startswith("text/event-stream")
        # more streams than the web's two general threads, and the API still answers
        listed = requests.get(
            f"{gateway.url}/api/v1/payments",
            headers={"Authorization": f"Token {gateway.test_token}"},
            timeout=5,
        )
        assert listed.status_code == 200, listed.text
        # one stream too many for this merchant
        refused = _open_stream(gateway)
        assert refused.status_code == 429
        assert refused.json()["code"] == "stream_limit_reached"
    finally:
        for stream in streams:
            stream.close()

    # two postbacks arrive on a stream; a reconnect after the first gets the second again
    stream = _open_stream(gateway)
    paid = pay(gateway, outcome="paid", postback_url=receiver.url)
    declined = pay(gateway, outcome="declined", postback_url=receiver.url)
    events, current = [], {}
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith(("id:", "data:")):
            name, _, value = line.partition(": ")
            current[name] = value
        elif not line and "data" in current:
            events.append((current["id"], json.loads(current["data"])))
            current = {}
            if len(events) == 2:
                break
    stream.close()
    assert [e[1]["paymentId"] for e in events] == [paid, declined]
    resumed = requests.get(
        gateway.url + STREAM,
        headers={"Authorization": f"Token {gateway.test_token}", "Last-Event-ID": events[0][0]},
        stream=True,
        timeout=10,
    )
    data = next(
        line for line in resumed.iter_lines(decode_unicode=True) if line.startswith("data:")
    )
    resumed.close()
    assert json.loads(data.removeprefix("data: "))["paymentId"] == declined
