"""One postback attempt in the calling thread: claim, send, record, with a batch of one.

The steps live in their own modules, in the order a postback meets them:
`claim.py` (who may send a due row now, and record its answer), `send.py` (the signed
POST), `record.py` (the attempt log and the row moved on). The worker's relay
(payments/delivery/poller.py) runs the same three steps on batches, on threads of their
own; this is the path of a worker without a relay (a prefork pool) and of tests.
"""

from __future__ import annotations

from payments.delivery.claim import deliveries_claim_attempts
from payments.delivery.record import attempts_record
from payments.delivery.send import delivery_post
from payments.models import PostbackDelivery


def delivery_attempt(*, delivery_id: int) -> PostbackDelivery | None:
    """Make one try of a due delivery; return it, or None when it was not due or not ours."""
    claimed = deliveries_claim_attempts(ids=[delivery_id], limit=1)
    if not claimed:
        return None
    (delivery,) = claimed
    result = delivery_post(delivery)
    recorded = attempts_record(results=[(delivery.pk, delivery.claim_token, result)])
    return recorded[0] if recorded else None
