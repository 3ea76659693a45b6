"""The Developers page's rules, through Django's test client (the browser test drives the UI)."""

from __future__ import annotations

import pytest

from payments.admin import merchants as admin_merchants
from payments.models import ApiToken, AuditEntry
from reporting.portal import developers
from tests.factories import make_token
from tests.reporting.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def test_the_portal_calls_the_same_key_and_secret_services_as_the_admin():
    for name in ("api_token_issue", "merchant_rotate_postback_secret"):
        assert getattr(developers, name) is getattr(admin_merchants, name)


def test_the_page_is_never_cached(client_a):
    response = client_a.get("/portal/developers/")

    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]


def test_a_new_key_is_shown_in_the_answer_only_and_audited(client_a, merchant_a, user_a):
    merchant_a.provider = "bansky"  # live keys are for merchants on a real provider
    merchant_a.save()
    response = client_a.post("/portal/developers/keys/", {"mode": "live", "label": "server"})

    key = response.context["new_key"]
    token = ApiToken.objects.get(merchant=merchant_a, label="server")
    assert key.startswith("apg_live_") and key in response.content.decode()
    assert token.mode == "live" and token.digest != key
    assert key not in client_a.get("/portal/developers/").content.decode()
    entry = AuditEntry.objects.get(action="token.issue")
    assert entry.actor == f"portal:user-{user_a.pk}"
    assert key not in str(entry.changes)


def test_a_key_of_an_unknown_mode_is_refused(client_a, merchant_a):
    response = client_a.post("/portal/developers/keys/", {"mode": "admin", "label": ""})

    assert response.status_code == 400
    assert not ApiToken.objects.filter(merchant=merchant_a).exists()


def test_another_merchants_key_cannot_be_revoked(client_a, merchant_b):
    token, _key = make_token(merchant=merchant_b)

    response = client_a.post(f"/portal/developers/keys/{token.pk}/revoke/")

    assert response.status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None
    assert not AuditEntry.objects.filter(action="token.revoke").exists()


def test_revoking_a_key_is_audited(client_a, merchant_a, user_a):
    token, _key = make_token(merchant=merchant_a)

    response = client_a.post(f"/portal/developers/keys/{token.pk}/revoke/")

    assert response.status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    entry = AuditEntry.objects.get(action="token.revoke")
    assert entry.actor == f"portal:user-{user_a.pk}"


def test_the_secret_needs_the_password_again(client_a, merchant_a):
    wrong = client_a.post("/portal/developers/secret/reveal/", {"reveal-password": "guess"})
    right = client_a.post("/portal/developers/secret/reveal/", {"reveal-password": PASSWORD})

    assert wrong.status_code == 403
    assert merchant_a.postback_secret not in wrong.content.decode()
    assert right.status_code == 200
    assert merchant_a.postback_secret in right.content.decode()
    assert list(AuditEntry.objects.values_list("action", flat=True)) == ["secret.reveal"]


def test_a_wrong_password_does_not_rotate_the_secret(client_a, merchant_a):
    old = merchant_a.postback_secret

    response = client_a.post("/portal/developers/secret/rotate/", {"rotate-password": "guess"})

    assert response.status_code == 403
    merchant_a.refresh_from_db()
    assert merchant_a.postback_secret == old
    assert not AuditEntry.objects.exists()


def test_rotation_keeps_the_old_secret_for_the_overlap(client_a, merchant_a):
    old = merchant_a.postback_secret

    response = client_a.post("/portal/developers/secret/rotate/", {"rotate-password": PASSWORD})

    merchant_a.refresh_from_db()
    assert response.status_code == 200
    assert merchant_a.postback_secret != old
    assert merchant_a.previous_postback_secret == old
    assert AuditEntry.objects.get().changes == {"overlap_hours": developers.ROTATION_OVERLAP_HOURS}


def test_a_test_postback_to_a_loopback_address_is_refused(client_a, settings, receiver):
    settings.DEBUG = True
    settings.POSTBACK_ALLOW_PRIVATE = False

    response = client_a.post("/portal/developers/postback-test/", {"url": receiver.url})

    assert response.status_code == 400
    assert "loopback" in response.content.decode()
    assert receiver.requests == []
    assert not AuditEntry.objects.exists()


def test_a_test_postback_shows_the_answer_and_is_audited(client_a, merchant_a, settings, receiver):
    settings.DEBUG = True
    settings.POSTBACK_ALLOW_PRIVATE = True
    receiver.secrets = [merchant_a.postback_secret]
    receiver.script = [(418, {}, b"not today")]

    response = client_a.post("/portal/developers/postback-test/", {"url": receiver.url})

    assert response.status_code == 200
    assert response.context["test_result"].status_code == 418
    assert "not today" in response.content.decode()
    assert receiver.requests[0].verified_with == [merchant_a.postback_secret]
    assert AuditEntry.objects.get().changes["status_code"] == 418
