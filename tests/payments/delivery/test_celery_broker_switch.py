"""`celery_broker` (tests/support/gateway.py) leaves this process able to publish afterwards.

The fault tests point the publisher at a private Redis for a while; every later test in the
same process (one pytest-xdist worker runs many) publishes to the suite's broker again.
"""

from __future__ import annotations

from django.conf import settings

from tests.support.gateway import celery_broker, free_port


def test_the_suites_broker_takes_publishes_again_after_a_switch():
    from apaygate.celery import app

    with app.producer_or_acquire() as producer:  # the suite's pools, opened before the switch
        producer.connection.ensure_connection(max_retries=1)

    with celery_broker(f"redis://127.0.0.1:{free_port()}/0"):
        pass

    assert app.conf.broker_url == settings.CELERY_BROKER_URL
    with app.producer_or_acquire() as producer:  # was: RuntimeError("Acquire on closed pool")
        producer.connection.ensure_connection(max_retries=1)
        assert producer.connection.as_uri().endswith(settings.CELERY_BROKER_URL.rsplit(":", 1)[1])
