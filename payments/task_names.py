"""The payment's Celery task names: the hand-off between who sends a task and who runs it.

Each name is written here once and imported by both sides: the task's decorator
(`@shared_task(name=...)`), the sender (`send_task`, the outbox after commit) and beat's
schedule in `apaygate/settings.py`. This module imports nothing, so settings can read it
before Django starts. Names are short and stable, not module paths: moving code never
strands a message already in the broker, and renaming one strands every queued message.

| name | runs in | sent by |
|---|---|---|
| DELIVER_POSTBACK | `payments/delivery/tasks.py` | `delivery/outbox.py`, after commit |
| DELIVER_POSTBACKS | `payments/delivery/tasks.py` | `delivery/outbox.py`, the dispatcher |
| DISPATCH_DUE_POSTBACKS | `payments/delivery/tasks.py` | beat, `POSTBACK_DISPATCH_INTERVAL` |
| DRAIN_SHOPPER_EVENTS | `payments/shopper/tasks.py` | beat, `SHOPPER_EVENTS_DRAIN_INTERVAL` |
| EXPIRE_STALE_PAYMENTS | `payments/tasks.py` | beat, `EXPIRY_INTERVAL` |
| SANDBOX_POSTBACK_LATE | `payments/shopper/sandbox_outcomes.py` | the sandbox's test outcomes |
| SANDBOX_POSTBACK_REPEAT | `payments/shopper/sandbox_outcomes.py` | the sandbox's test outcomes |
| RECONCILE_CREATED_PAYMENTS | `payments/tasks.py` | beat, `INIT_RECONCILE_INTERVAL` |
"""

from __future__ import annotations

from typing import Final

DELIVER_POSTBACK: Final = "delivery.deliver_postback"
DELIVER_POSTBACKS: Final = "delivery.deliver_postbacks"
DISPATCH_DUE_POSTBACKS: Final = "delivery.dispatch_due"
DRAIN_SHOPPER_EVENTS: Final = "shopper.drain_events"
EXPIRE_STALE_PAYMENTS: Final = "payments.expire_stale"
RECONCILE_CREATED_PAYMENTS: Final = "payments.reconcile_created"
SANDBOX_POSTBACK_LATE: Final = "sandbox.postback_late"
SANDBOX_POSTBACK_REPEAT: Final = "sandbox.postback_repeat"
