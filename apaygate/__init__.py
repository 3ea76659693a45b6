"""APayGate: a payment proxy gateway (Django project package)."""

from __future__ import annotations

from apaygate.celery import app as celery_app

__all__ = ["celery_app"]
