"""The SDK page's install commands, followed literally into fresh projects, then its quickstart.

The commands and snippets are read from the page the live gateway serves (not retyped), so
what a merchant copies is what runs: the install from the gateway's own URL, then the
quickstart's init-payment with a test token, a sandbox payment, and the docs' postback
handler verifying the postback the gateway delivered to the shop. tests/sdk/fresh_projects.py
says how the projects are kept fresh and off the network.
"""

from __future__ import annotations

import base64
import json
import subprocess
import time

import httpx
import pytest

from docsite.sdk_builds import sdk_versions
from tests.sdk.fresh_projects import NodeShop, PythonShop, pay_in_sandbox, served_snippets
from tests.sdk.gateway import ROOT

pytestmark = pytest.mark.worker


@pytest.fixture(scope="module")
def sdk_dist(tmp_path_factory):
    """The builds `make run` and the image serve, made by the same script."""
    out = tmp_path_factory.mktemp("sdk-dist")
    subprocess.run(
        ["bash", str(ROOT / "scripts" / "build-sdk-dist.sh"), str(out)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    return out


@pytest.fixture
def docs(gateway, sdk_dist, settings, sdk_built):
    settings.SDK_DIST_DIR = str(sdk_dist)
    page = httpx.get(f"{gateway.url}/docs/sdks/", timeout=60)  # a loaded CI machine
    assert page.status_code == 200
    return served_snippets(page.text)


def _postback_for(receiver, payment_id: str, timeout: float = 40.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for item in list(receiver.requests):
            if item.path == "/postbacks/apaygate" and item.json.get("paymentId") == payment_id:
                return item
        time.sleep(0.2)
    raise AssertionError(f"no postback for {payment_id}: {receiver.requests}")


def _tampered(body: bytes) -> bytes:
    changed = body.replace(b'"25.00"', b'"2500.00"')
    assert changed != body
    return changed


DJANGO_STAND_INS = """
import base64, json, sys

class HttpResponse:  # what the docs' Django view returns, without Django
    def __init__(self, content=b"", status=200):
        self.content, self.status_code = content, status

class Request:
    def __init__(self, body, headers):
        self.body, self.headers = body, headers

POSTBACK_SECRET = {secret!r}
"""

DJANGO_CALL = """
for item in json.load(sys.stdin):
    answer = apaygate_postback(Request(base64.b64decode(item["body"]), item["headers"]))
    print(answer.status_code)
"""


def test_pip_install_from_the_docs_installs_the_served_wheel_and_the_quickstart_runs(
    docs, gateway, receiver, tmp_path
):
    version = sdk_versions()["python"]
    command = docs["install-pip"]
    assert command.startswith(
        f"pip install {gateway.url}/docs/sdk/apaygate-{version}-py3-none-any.whl#sha256="
    )
    shop = PythonShop(tmp_path / "python-shop")
    # (the checksum in the URL is checked: the same command with another one installs nothing)
    sha256 = command.rsplit("#sha256=", 1)[1]
    refused = shop.shell(command.replace(sha256, "0" * 64), check=False)
    assert refused.returncode != 0
    assert "DO NOT MATCH THE HASHES" in refused.stderr, refused.stderr

    # when the merchant pastes the install command into a fresh venv
    installed = shop.shell(command)

    # then the gateway's wheel is what got installed, and nothing came from an index
    assert f"Successfully installed apaygate-{version}" in installed.stdout, installed.stdout
    where = shop.python("import apaygate; print(apaygate.__version__, apaygate.__file__)")
    found_version, location = where.stdout.split()
    assert found_version == version
    assert location.startswith(str(shop.venv))
    # and the docs' `apaygate listen` is a command of that venv (tests/sdk/test_listen.py
    # runs it end to end)
    listen = shop.shell("apaygate listen --help")
    assert "--forward-to" in listen.stdout

    # when the quickstart runs with a test token and the shop's origin
    shop_url = f"http://127.0.0.1:{receiver.port}"
    started = shop.python(
        docs["quickstart-python"] + "\nimport json\nprint(json.dumps(answer))\n",
        APAYGATE_TOKEN=gateway.token,
        SHOP_URL=shop_url,
    )
    answer = json.loads(started.stdout)
    assert answer["status"] == "success"
    assert answer["url"].startswith(f"{gateway.url}/integration/pay?id=")

    # and the shopper pays: the gateway delivers the postback to the shop
    pay_in_sandbox(answer["url"])
    postback = _postback_for(receiver, answer["id"])
    assert postback.json["id"] == "order-1001"
    assert postback.json["event"] == "payment.succeeded"

    # then the docs' handler accepts it, and refuses the same postback altered
    items = [
        {"body": base64.b64encode(body).decode(), "headers": postback.headers}
        for body in (postback.body, _tampered(postback.body))
    ]
    handler = DJANGO_STAND_INS.format(secret=gateway.postback_secret)
    verified = shop.python(
        handler + docs["verify-python-sdk"] + DJANGO_CALL, stdin=json.dumps(items)
    )
    assert verified.stdout.split() == ["200", "400"]


FETCH_CALL = """
import { readFileSync } from "node:fs";
const { POST } = await import("./postback.mjs");
for (const item of JSON.parse(readFileSync(0, "utf8"))) {
  const request = new Request("http://shop.test/postbacks/apaygate", {
    method: "POST", headers: item.headers, body: Buffer.from(item.body, "base64"),
  });
  const response = await POST({ request });
  console.log(response.status);
}
"""


def test_npm_install_from_the_docs_installs_the_served_tarball_and_the_quickstart_runs(
    docs, gateway, receiver, tmp_path
):
    version = sdk_versions()["typescript"]
    command = docs["install-npm"]
    assert command == f"npm install {gateway.url}/docs/sdk/apaygate-sdk-{version}.tgz"
    shop = NodeShop(tmp_path / "node-shop")

    # when the merchant pastes the install command into a fresh `npm init -y` project
    shop.shell(command)

    # then the gateway's tarball is what got installed, locked with its integrity
    assert shop.installed_package()["version"] == version
    locked = shop.lock_entry()
    assert locked["resolved"] == command.removeprefix("npm install ")
    assert locked["integrity"].startswith("sha512-")
    assert shop.locked_packages() == ["node_modules/@apaygate/sdk"]  # no dependencies came

    # when the quickstart runs with a test token and the shop's origin
    quickstart = shop.node_module(
        "quickstart.mjs",
        "globalThis.env = process.env;\n"
        + docs["quickstart-ts"]
        + "\nconsole.log(JSON.stringify({ id, url }));\n",
    )
    started = shop.node(
        quickstart.read_text(),
        APAYGATE_TOKEN=gateway.token,
        SHOP_URL=f"http://127.0.0.1:{receiver.port}",
    )
    answer = json.loads(started.stdout)
    assert answer["url"].startswith(f"{gateway.url}/integration/pay?id=")

    # and the shopper pays: the gateway delivers the postback to the shop
    pay_in_sandbox(answer["url"])
    postback = _postback_for(receiver, answer["id"])
    assert (postback.json["id"], postback.json["event"]) == ("order-1001", "payment.succeeded")

    # then the docs' fetch-style handler accepts it, and refuses the same postback altered
    shop.node_module("postback.mjs", docs["verify-ts"])
    items = [
        {"body": base64.b64encode(body).decode(), "headers": postback.headers}
        for body in (postback.body, _tampered(postback.body))
    ]
    verified = shop.node(
        "globalThis.env = process.env;\n" + FETCH_CALL,
        stdin=json.dumps(items),
        APAYGATE_POSTBACK_SECRET=gateway.postback_secret,
    )
    assert verified.stdout.split() == ["200", "400"]
