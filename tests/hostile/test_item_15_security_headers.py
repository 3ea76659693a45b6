"""Item 15: production settings pass `check --deploy`, redirect to https (probes exempt),
send HSTS, and every HTML page carries a Content-Security-Policy its markup satisfies."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from tests.factories import MerchantFactory, PaymentFactory

ROOT = Path(__file__).resolve().parents[2]


def production_env() -> dict[str, str]:
    keep = {
        k: os.environ[k] for k in ("PATH", "HOME", "DATABASE_URL", "REDIS_URL") if k in os.environ
    }
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "apaygate.settings",
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(60),
        "ALLOWED_HOSTS": "gate.example",
        "PUBLIC_BASE_URL": "https://gate.example",
    }


def test_check_deploy_is_clean_in_the_production_configuration():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT, env=production_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


PROBE = textwrap.dedent(
    """
    import django, json
    django.setup()
    from django.test import Client
    c = Client(SERVER_NAME="gate.example")
    out = {}
    for path, proto in [("/docs/", None), ("/docs/", "https"), ("/healthz", None)]:
        extra = {"HTTP_X_FORWARDED_PROTO": proto} if proto else {}
        r = c.get(path, **extra)
        out[f"{path} {proto}"] = [r.status_code, r.get("Location", ""),
                                  r.get("Strict-Transport-Security", "")]
    print(json.dumps(out))
    """
)


def test_production_redirects_to_https_sends_hsts_and_exempts_the_probes():
    import json

    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=ROOT, env=production_env(),
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = json.loads(result.stdout.strip().splitlines()[-1])

    assert out["/docs/ None"][:2] == [301, "https://gate.example/docs/"]
    status, _location, hsts = out["/docs/ https"]
    assert status == 200
    assert hsts.startswith("max-age=31536000")
    assert "includeSubDomains" in hsts
    assert out["/healthz None"][0] != 301


# --- Content-Security-Policy ------------------------------------------------------------

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)([^>]*)>", re.I)
HANDLER = re.compile(r"""\son[a-z]+=(["'])(.*?)\1""", re.I | re.S)


def assert_page_satisfies_its_csp(response):
    policy = response["Content-Security-Policy"]
    directives = dict(
        ([*part.strip().split(" ", 1), ""])[:2] for part in policy.split(";") if part.strip()
    )
    script_src = directives["script-src"]
    assert "'unsafe-inline'" not in script_src
    assert "'unsafe-eval'" not in script_src
    html = response.content.decode()
    nonce = re.search(r"'nonce-([^']+)'", script_src)
    for attributes in INLINE_SCRIPT.findall(html):
        assert nonce and f'nonce="{nonce.group(1)}"' in attributes, attributes
    for _quote, code in HANDLER.findall(html):
        digest = base64.b64encode(hashlib.sha256(code.encode()).digest()).decode()
        assert f"'sha256-{digest}'" in script_src, code
    assert "frame-ancestors 'none'" in policy


@pytest.fixture
def staff(client, db):
    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    return client


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/docs/", "/api/docs/", "/api/redoc/", "/portal/login/", "/admin/login/"]
)
def test_public_html_pages_carry_a_csp_they_satisfy(client, path):
    response = client.get(path)

    assert response.status_code == 200
    assert_page_satisfies_its_csp(response)


@pytest.mark.django_db
def test_the_swagger_init_script_is_a_same_origin_file(client):
    response = client.get("/api/docs/?script=")

    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]


@pytest.mark.django_db
def test_shopper_and_sandbox_pages_satisfy_the_csp(client):
    payment = PaymentFactory(
        merchant=MerchantFactory(provider="sandbox"), provider="sandbox", is_test=True
    )

    for path in [
        f"/sandbox/pay/{payment.provider_reference}",
        f"/integration/status?id={payment.public_id}",
    ]:
        response = client.get(path)
        assert response.status_code == 200, path
        assert_page_satisfies_its_csp(response)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path", ["/admin/", "/admin/payments/payment/", "/admin/payments/postbackdelivery/", "/portal/"]
)
def test_admin_and_portal_pages_satisfy_the_csp(staff, path):
    response = staff.get(path, follow=True)

    assert response.status_code == 200
    assert_page_satisfies_its_csp(response)
