"""Which data the portal shows (live or test), and what an empty dashboard says."""

from __future__ import annotations

import pytest

from tests.reporting.conftest import make_payment

pytestmark = pytest.mark.django_db

BANNER = 'data-testid="test-mode-banner"'


def test_a_merchant_with_only_test_payments_lands_on_test_data(client_a, merchant_a):
    make_payment(merchant=merchant_a, is_test=True)

    response = client_a.get("/portal/")

    assert response.context["mode"] == "test"
    assert BANNER in response.content.decode()
    assert response.context["stats"].created_all == 1


def test_a_merchant_with_a_live_payment_lands_on_live_data(client_a, merchant_a):
    make_payment(merchant=merchant_a, is_test=True)
    make_payment(merchant=merchant_a, is_test=False)

    response = client_a.get("/portal/")

    assert response.context["mode"] == "live"
    assert BANNER not in response.content.decode()


def test_the_chosen_mode_holds_on_the_next_pages(client_a, merchant_a):
    make_payment(merchant=merchant_a, is_test=True)

    client_a.get("/portal/?mode=live")
    payments = client_a.get("/portal/payments/")
    developers = client_a.get("/portal/developers/")

    assert payments.context["mode"] == developers.context["mode"] == "live"
    assert payments.context["page"].paginator.count == 0
    assert client_a.get("/portal/?mode=test").context["mode"] == "test"


def test_an_unknown_mode_is_ignored(client_a, merchant_a):
    response = client_a.get("/portal/?mode=admin")

    assert response.context["mode"] == "test"


def test_no_live_payments_at_all_shows_the_first_steps_and_no_charts(client_a, merchant_a):
    make_payment(merchant=merchant_a, is_test=True)

    body = client_a.get("/portal/?mode=live").content.decode()

    assert "No live payments yet" in body
    assert "Create a live key" in body
    assert 'class="chart' not in body and "data-kpi" not in body


def test_an_empty_range_asks_for_another_range(client_a, merchant_a):
    make_payment(merchant=merchant_a, is_test=True, created_days_ago=90)

    body = client_a.get("/portal/?mode=test").content.decode()

    assert "No test payments between" in body
    assert "Show the last 30 days" in body
    assert "No test payments yet" not in body


def test_a_page_with_payments_shows_the_charts_and_no_empty_state(client_a, merchant_a):
    make_payment(merchant=merchant_a, is_test=True)

    body = client_a.get("/portal/").content.decode()

    assert 'data-testid="empty-state"' not in body
    assert body.count('class="chart ') == 5


def test_a_payments_page_follows_the_payment_and_switches_to_the_list(client_a, merchant_a):
    test_payment = make_payment(merchant=merchant_a, is_test=True)
    client_a.get("/portal/?mode=live")

    response = client_a.get(f"/portal/payments/{test_payment.public_id}/")

    body = response.content.decode()
    assert response.context["mode"] == "test"
    assert BANNER in body and "This is a sandbox payment" in body
    assert 'href="/portal/payments/?mode=live" data-mode="live"' in body
    assert client_a.get("/portal/payments/").context["mode"] == "live"  # the choice is kept


def test_the_switch_keeps_the_lists_filters(client_a, merchant_a):
    body = client_a.get("/portal/payments/?status=failed&page=2").content.decode()

    assert 'href="?status=failed&amp;mode=live" data-mode="live"' in body
