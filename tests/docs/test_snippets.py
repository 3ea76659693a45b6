"""The postback-verification snippets in docs/public/postbacks.md, run against real postbacks.

Each snippet is cut out of the Markdown (the block after `<!-- snippet: verify-<lang> -->`)
and run as written, never from a second copy: Python in-process, the JavaScript one inside
workerd (Cloudflare's runtime, through miniflare: `snippet_in_workerd.mjs`) and in Node.js,
PHP with the machine's PHP CLI. The postbacks are signed and POSTed by the gateway's own
delivery code to a local endpoint.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from standardwebhooks import Webhook

from payments.delivery.wire import delivery_headers
from payments.merchants import merchant_rotate_postback_secret
from tests.factories import MerchantFactory
from tests.sdk.conftest import require_node_modules
from tests.sdk.gateway import SDK_TS

from .conftest import DOCS_ROOT, docs_snippets

WORKERD_HARNESS = Path(__file__).with_name("snippet_in_workerd.mjs")

NODE_HARNESS = """
const input = JSON.parse(require("node:fs").readFileSync(0, "utf8"));
const body = Buffer.from(input.body_b64, "base64").toString("utf8");
const headers = input.as_headers_object ? new Headers(input.headers) : input.headers;
checkPostbackSignature(body, headers, input.secret).then(
  (event) => process.stdout.write(JSON.stringify({ ok: true, event })),
  (error) => process.stdout.write(JSON.stringify({ ok: false, error: error.message })),
);
"""

PHP_HARNESS = """
$input = json_decode(stream_get_contents(STDIN), true);
try {
    $body = base64_decode($input['body_b64']);
    $event = check_postback_signature($body, $input['headers'], $input['secret']);
    echo json_encode(['ok' => true, 'event' => $event]);
} catch (Throwable $e) {
    echo json_encode(['ok' => false, 'error' => $e->getMessage()]);
}
"""


def _run_python(body: bytes, headers: dict, secret: str) -> dict:
    namespace: dict = {}
    exec(docs_snippets()["verify-python"], namespace)
    try:
        return {"ok": True, "event": namespace["check_postback_signature"](body, headers, secret)}
    except namespace["InvalidPostback"] as exc:
        return {"ok": False, "error": str(exc)}


def _run_external(
    command: list[str], source: str, body: bytes, headers: dict, secret: str, tmp_path, **extra
) -> dict:
    script = tmp_path / ("verify.php" if command[0] == "php" else "verify.js")
    script.write_text(source, encoding="utf-8")
    payload = {
        "body_b64": base64.b64encode(body).decode(),
        "headers": headers,
        "secret": secret,
        **extra,
    }
    done = subprocess.run(
        [*command, str(script)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _run_node(body, headers, secret, tmp_path, **extra) -> dict:
    source = docs_snippets()["verify-javascript"] + "\n" + NODE_HARNESS
    return _run_external(["node"], source, body, headers, secret, tmp_path, **extra)


def _run_php(body, headers, secret, tmp_path, **extra) -> dict:
    source = docs_snippets()["verify-php"] + "\n" + PHP_HARNESS
    # PHP hands headers over as the client spelled them (getallheaders): use that spelling.
    headers = {"-".join(part.capitalize() for part in k.split("-")): v for k, v in headers.items()}
    return _run_external(["php"], source, body, headers, secret, tmp_path, **extra)


def _run_workerd(body, headers, secret, tmp_path) -> dict:
    require_node_modules(SDK_TS)  # miniflare comes with the TypeScript SDK's dev tools
    script = tmp_path / "snippet.js"
    script.write_text(docs_snippets()["verify-javascript"], encoding="utf-8")
    case = {"body_b64": base64.b64encode(body).decode(), "headers": headers, "secret": secret}
    done = subprocess.run(
        ["node", str(WORKERD_HARNESS), str(script)],
        input=json.dumps([case]),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    [result] = json.loads(done.stdout)
    assert result.pop("runtime") == "Cloudflare-Workers"  # really inside workerd
    return result


LANGUAGES = ["python", "javascript-workerd", "javascript-node", "php"]
# The SDKs' verifiers; a hand-written snippet named like them would read as the SDK's API.
SDK_VERIFIER_NAMES = {"verifyPostback", "verify_postback"}


@pytest.fixture
def verify(tmp_path):
    def run(language: str, body: bytes, headers: dict, secret: str, **extra) -> dict:
        if language == "python":
            return _run_python(body, headers, secret)
        binary = "php" if language == "php" else "node"
        if shutil.which(binary) is None:
            pytest.fail(
                f"`{binary}` is not installed (scripts/ensure-system-packages.sh installs it)"
            )
        if language == "javascript-workerd":
            return _run_workerd(body, headers, secret, tmp_path)
        runner = _run_node if language == "javascript-node" else _run_php
        return runner(body, headers, secret, tmp_path, **extra)

    return run


def test_docs_define_one_snippet_per_language():
    assert {"verify-python", "verify-javascript", "verify-php"} <= set(docs_snippets())


@pytest.mark.parametrize("name", ["verify-python", "verify-javascript", "verify-php"])
def test_snippets_are_not_named_like_the_sdks_verifier(name):
    defined = set(re.findall(r"(?:def|function)\s+(\w+)", docs_snippets()[name]))

    assert {"check_postback_signature", "checkPostbackSignature"} & defined
    assert not SDK_VERIFIER_NAMES & defined


def test_postbacks_page_leads_with_the_sdks_verifier():
    text = (DOCS_ROOT / "public" / "postbacks.md").read_text(encoding="utf-8")
    section = text[text.index("## Verify the signature") :]

    first_code = section.index("```")
    assert section.index("### With an SDK") < section.index("### Without an SDK")
    assert "verifyPostback" in section[: first_code + 400]
    assert section.index("verify_postback") < section.index("<!-- snippet:")


@pytest.mark.parametrize("language", LANGUAGES)
def test_snippet_accepts_a_real_postback(language, verify, send_real_postback):
    merchant = MerchantFactory()
    postback = send_real_postback(merchant=merchant)

    result = verify(language, postback.body, postback.headers, merchant.postback_secret)

    assert result == {"ok": True, "event": json.loads(postback.body)}


@pytest.mark.parametrize("language", LANGUAGES)
def test_snippet_accepts_a_postback_with_non_ascii_body(language, verify, send_real_postback):
    merchant = MerchantFactory()
    postback = send_real_postback(merchant=merchant, reference="заказ-№7 ünïcode")
    assert "заказ".encode() in postback.body  # sent as raw UTF-8, not \\u escapes

    result = verify(language, postback.body, postback.headers, merchant.postback_secret)

    assert result["ok"] is True, result
    assert result["event"]["id"] == "заказ-№7 ünïcode"


@pytest.mark.parametrize("language", LANGUAGES)
def test_snippet_rejects_a_tampered_body(language, verify, send_real_postback):
    merchant = MerchantFactory()
    postback = send_real_postback(merchant=merchant)
    tampered = postback.body.replace(b'"succeeded"', b'"succeedeD"')
    assert tampered != postback.body

    result = verify(language, tampered, postback.headers, merchant.postback_secret)

    assert result["ok"] is False
    assert "no matching signature" in result["error"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_snippet_rejects_another_merchants_secret(language, verify, send_real_postback):
    merchant = MerchantFactory()
    postback = send_real_postback(merchant=merchant)

    result = verify(language, postback.body, postback.headers, MerchantFactory().postback_secret)

    assert result["ok"] is False


@pytest.mark.parametrize("language", LANGUAGES)
def test_snippet_rejects_a_replayed_old_postback(language, verify, send_real_postback):
    # given a postback correctly signed by the gateway, but ten minutes ago
    merchant = MerchantFactory()
    postback = send_real_postback(merchant=merchant)
    old = delivery_headers(
        merchant=merchant,
        webhook_id=postback.headers["webhook-id"],
        body=postback.body.decode(),
        at=timezone.now() - timedelta(minutes=10),
    )
    headers = {k.lower(): v for k, v in old.items()}
    assert _run_python_signature_only(postback.body, headers, merchant.postback_secret)

    result = verify(language, postback.body, headers, merchant.postback_secret)

    assert result["ok"] is False
    assert "stale timestamp" in result["error"]


def _run_python_signature_only(body: bytes, headers: dict, secret: str) -> bool:
    """Check the signature alone (no clock), so the stale test fails only for its timestamp."""
    at = datetime.fromtimestamp(int(headers["webhook-timestamp"]), tz=UTC)
    expected = Webhook(secret).sign(headers["webhook-id"], at, body.decode())
    return expected in headers["webhook-signature"].split()


@pytest.mark.parametrize("language", LANGUAGES)
def test_snippet_accepts_both_secrets_during_a_rotation(language, verify, send_real_postback):
    merchant = MerchantFactory()
    old_secret = merchant.postback_secret
    new_secret = merchant_rotate_postback_secret(merchant=merchant)
    merchant.refresh_from_db()
    postback = send_real_postback(merchant=merchant)
    assert len(postback.headers["webhook-signature"].split()) == 2

    assert verify(language, postback.body, postback.headers, new_secret)["ok"] is True
    assert verify(language, postback.body, postback.headers, old_secret)["ok"] is True


def test_node_snippet_takes_a_fetch_headers_object(verify, send_real_postback):
    # Cloudflare Pages and SvelteKit hand the snippet `request.headers`, a Headers object.
    merchant = MerchantFactory()
    postback = send_real_postback(merchant=merchant)

    result = verify(
        "javascript-node",
        postback.body,
        postback.headers,
        merchant.postback_secret,
        as_headers_object=True,
    )

    assert result["ok"] is True, result


def test_example_postback_printed_in_the_docs_is_really_signed():
    # The HTTP example on the postbacks page carries a signature for the example secret;
    # readers test their code with it, so it must be right.
    text = (DOCS_ROOT / "public" / "postbacks.md").read_text(encoding="utf-8")
    example = re.search(r"```http\n(?P<head>.*?)\n\n(?P<body>\{.*?\})\n```", text, re.S)
    secret = re.search(r"example secret\n`(whsec_[A-Za-z0-9+/=]+)`", text)[1]
    headers = dict(
        line.split(": ", 1) for line in example["head"].splitlines() if line.startswith("webhook-")
    )

    assert _run_python_signature_only(example["body"].encode(), headers, secret)
    assert not _run_python_signature_only(example["body"].encode() + b" ", headers, secret)


@pytest.mark.parametrize("language", LANGUAGES)
def test_snippet_names_a_missing_header(language, verify, send_real_postback):
    merchant = MerchantFactory()
    postback = send_real_postback(merchant=merchant)
    headers = {k: v for k, v in postback.headers.items() if k != "webhook-signature"}

    result = verify(language, postback.body, headers, merchant.postback_secret)

    assert result["ok"] is False
    assert "missing header webhook-signature" in result["error"]
