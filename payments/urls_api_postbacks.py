"""Merchant API routes for postbacks (resend, test postback); filled in as they land."""

from __future__ import annotations

urlpatterns: list = []
