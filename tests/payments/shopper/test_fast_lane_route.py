"""The fast lane answers the very route that payments/shopper/urls.py names `integration-pay`."""

from __future__ import annotations

from django.urls import resolve, reverse

from payments.shopper import fast_lane, redirects


def test_the_fast_lane_path_is_the_pay_route_django_falls_back_to():
    assert reverse("integration-pay") == fast_lane.PATH
    assert resolve(fast_lane.PATH).func is redirects.pay
