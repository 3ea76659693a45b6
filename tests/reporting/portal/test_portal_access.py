"""Who can open which portal: logins, isolation between merchants, and staff switching."""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.management import call_command
from django.test import Client

from reporting.models import PortalMembership
from reporting.portal.users import portal_invite_url
from tests.reporting.conftest import PASSWORD, make_payment

pytestmark = pytest.mark.django_db


def test_anonymous_visitor_is_sent_to_the_portal_login():
    response = Client().get("/portal/payments/")

    assert response.status_code == 302
    assert response["Location"].startswith("/portal/login/?next=/portal/payments/")


def test_merchant_user_logs_in_with_email_and_lands_on_dashboard(user_a):
    client = Client()

    response = client.post(
        "/portal/login/", {"username": "ops@alpha.example", "password": PASSWORD}
    )

    assert response.status_code == 302
    assert response["Location"] == "/portal/"
    page = client.get("/portal/")
    assert page.status_code == 200
    assert "Alpha Shop" in page.content.decode()


def test_login_with_a_wrong_password_is_refused(user_a):
    response = Client().post("/portal/login/", {"username": "ops@alpha.example", "password": "x"})

    assert response.status_code == 200
    assert "did not match" in response.content.decode()


def test_logout_ends_the_session(client_a):
    response = client_a.post("/portal/logout/")

    assert response.status_code == 302
    assert client_a.get("/portal/").status_code == 302


def test_merchant_user_gets_404_on_another_merchants_payment(client_a, merchant_a, merchant_b):
    own = make_payment(merchant=merchant_a)
    other = make_payment(merchant=merchant_b)

    assert client_a.get(f"/portal/payments/{own.public_id}/").status_code == 200
    assert client_a.get(f"/portal/payments/{other.public_id}/").status_code == 404


def test_merchant_user_cannot_resend_another_merchants_postback(client_a, merchant_b):
    from payments.models import PostbackDelivery

    other = make_payment(merchant=merchant_b)
    delivery = PostbackDelivery.objects.create(
        payment=other,
        webhook_id="msg_other",
        event="payment.succeeded",
        url=other.postback_url,
        payload={},
    )

    response = client_a.post(f"/portal/payments/{other.public_id}/postbacks/{delivery.pk}/resend/")

    assert response.status_code == 404


def test_csv_of_merchant_a_holds_only_merchant_a_rows(client_a, merchant_a, merchant_b):
    mine = {make_payment(merchant=merchant_a).public_id for _ in range(3)}
    make_payment(merchant=merchant_b, customer_email="ops@alpha.example")

    response = client_a.get("/portal/payments/export.csv")

    body = b"".join(response.streaming_content).decode("utf-8-sig")
    ids = {line.split(",")[0] for line in body.splitlines()[1:]}
    assert ids == mine


def test_merchant_user_cannot_pick_another_merchant_through_the_switcher(client_a, merchant_b):
    response = client_a.post("/portal/merchants/", {"merchant": merchant_b.slug})

    assert response.status_code == 403
    assert "Bravo" not in client_a.get("/portal/").content.decode()


def test_merchant_user_session_cannot_be_pointed_at_another_merchant(client_a, merchant_b):
    other = make_payment(merchant=merchant_b)
    session = client_a.session
    session["portal_merchant_id"] = merchant_b.pk
    session.save()

    assert client_a.get(f"/portal/payments/{other.public_id}/").status_code == 404


def test_a_login_without_membership_is_forbidden(db):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="nobody", password=PASSWORD)
    client = Client()
    client.force_login(user)

    assert client.get("/portal/").status_code == 403


def test_gateway_staff_pick_a_merchant_then_see_its_payments(staff_client, merchant_a, merchant_b):
    b_payment = make_payment(merchant=merchant_b)

    assert staff_client.get("/portal/")["Location"] == "/portal/merchants/"
    staff_client.post("/portal/merchants/", {"merchant": merchant_b.slug})

    page = staff_client.get("/portal/payments/").content.decode()
    assert b_payment.public_id in page
    assert 'value="alpha"' in page  # the switcher lists every merchant


def test_staff_without_payment_permission_cannot_open_portals(merchant_a):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user(username="s", password=PASSWORD, is_staff=True)
    client = Client()
    client.force_login(user)

    assert client.post("/portal/merchants/", {"merchant": merchant_a.slug}).status_code == 403


def test_password_change_keeps_the_user_logged_in(client_a, user_a):
    new = "another-Secret-8812"

    response = client_a.post(
        "/portal/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )

    assert response["Location"] == "/portal/password/done/"
    user_a.refresh_from_db()
    assert user_a.check_password(new)
    assert client_a.get("/portal/").status_code == 200


def test_create_portal_user_command_with_password_allows_login(merchant_a, capsys):
    call_command("create_portal_user", "alpha", "Finance@Alpha.example", "--password", PASSWORD)

    membership = PortalMembership.objects.get(user__email="finance@alpha.example")
    assert membership.merchant == merchant_a
    client = Client()
    assert client.login(username="finance@alpha.example", password=PASSWORD)


def test_create_portal_user_without_password_prints_an_invite_that_sets_it(merchant_a, capsys):
    call_command("create_portal_user", "alpha", "new@alpha.example", "--send-invite")

    link = capsys.readouterr().out.strip().splitlines()[-1]
    assert link.startswith("https://gate.example/portal/invite/")
    assert link in mail.outbox[0].body
    path = link.removeprefix("https://gate.example")
    client = Client()
    form_page = client.get(path, follow=True)  # Django swaps the token for a session marker
    new = "chosen-Password-5531"
    response = client.post(
        form_page.redirect_chain[-1][0], {"new_password1": new, "new_password2": new}
    )
    assert response["Location"] == "/portal/"
    assert client.get("/portal/").status_code == 200
    assert Client().login(username="new@alpha.example", password=new)


def test_invite_link_works_once(merchant_a):
    call_command("create_portal_user", "alpha", "once@alpha.example")
    user = PortalMembership.objects.get(user__email="once@alpha.example").user
    path = portal_invite_url(user=user).removeprefix("https://gate.example")
    client = Client()
    step = client.get(path, follow=True).redirect_chain[-1][0]
    client.post(step, {"new_password1": "First-pass-99x", "new_password2": "First-pass-99x"})

    again = Client().get(path, follow=True)

    assert "This link has expired" in again.content.decode()


def test_create_portal_user_refuses_unknown_merchant_and_weak_password(merchant_a):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no merchant"):
        call_command("create_portal_user", "nope", "a@b.example")
    with pytest.raises(CommandError, match=r"too common|too short"):
        call_command("create_portal_user", "alpha", "a@b.example", "--password", "password")
    assert not PortalMembership.objects.exists()
