"""Portal fixtures: two merchants, a portal login for each, and gateway staff."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.test import Client
from django.utils import timezone

from payments.models import Payment
from reporting.portal.users import portal_user_create
from tests.factories import MerchantFactory, PaymentFactory

PASSWORD = "portal-pass-Kx93!z"


@pytest.fixture
def merchant_a(db):
    return MerchantFactory(slug="alpha", name="Alpha Shop")


@pytest.fixture
def merchant_b(db):
    return MerchantFactory(slug="bravo", name="Bravo Casino")


@pytest.fixture
def user_a(merchant_a):
    return portal_user_create(
        merchant=merchant_a, email="ops@alpha.example", password=PASSWORD
    ).user


@pytest.fixture
def user_b(merchant_b):
    return portal_user_create(
        merchant=merchant_b, email="ops@bravo.example", password=PASSWORD
    ).user


@pytest.fixture
def client_a(user_a) -> Client:
    client = Client()
    client.force_login(user_a)
    return client


@pytest.fixture
def staff_user(db):
    user = get_user_model().objects.create_user(
        username="staff@gate.example", email="staff@gate.example", password=PASSWORD, is_staff=True
    )
    user.user_permissions.add(Permission.objects.get(codename="view_payment"))
    return user


@pytest.fixture
def staff_client(staff_user) -> Client:
    client = Client()
    client.force_login(staff_user)
    return client


def make_payment(*, created_days_ago: float = 0, **fields) -> Payment:
    """Create a payment and backdate it (created_at is auto_now_add)."""
    payment = PaymentFactory(**fields)
    created = timezone.now() - dt.timedelta(days=created_days_ago)
    Payment.objects.filter(pk=payment.pk).update(created_at=created)
    payment.created_at = created
    return payment
