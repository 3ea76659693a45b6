"""E-mails to a merchant's portal users about its postback endpoints (Convoy and Stripe do this).

Three kinds, from the endpoints' health (payments/delivery/health.py):
- **failing**: first after `POSTBACK_ALERT_FAILURES` failures in a row, then at most one
  digest per `POSTBACK_ALERT_DIGEST_HOURS` while the endpoint keeps failing;
- **disabled**: once, when an endpoint is disabled (it answered 410 Gone, or failed for
  `POSTBACK_ENDPOINT_DISABLE_HOURS`), saying its postbacks are held until re-enabled.
One e-mail per merchant and kind lists every endpoint concerned. Sent by a beat task
(`portal.endpoint_alerts`), outside any transaction; an endpoint is marked told only
after its mail went out, so an SMTP failure means the next run tries again. Mail goes
through Django's e-mail framework (`EMAIL_URL`: the console under `make run`, SMTP in
production). Logs name merchants, never addresses or URLs.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.conf import settings
from django.core.mail import send_mass_mail
from django.urls import reverse

from payments.delivery.health import endpoints_mark_alerted, endpoints_to_alert
from payments.models import Merchant, PostbackEndpoint
from reporting.models import PortalMembership

logger = logging.getLogger(__name__)

SUBJECTS = {
    "failing": "[APayGate] Postbacks to {name} are failing",
    "disabled": "[APayGate] A postback endpoint of {name} was disabled",
}


def _recipients(merchant: Merchant) -> list[str]:
    return list(
        PortalMembership.objects.filter(merchant=merchant, user__is_active=True)
        .exclude(user__email="")
        .values_list("user__email", flat=True)
    )


def _body(kind: str, merchant: Merchant, endpoints: list[PostbackEndpoint]) -> str:
    developers = f"{settings.PUBLIC_BASE_URL}{reverse('portal:developers')}#endpoints"
    lines = [f"Hello,\n\nPostbacks from APayGate to {merchant.name} are not getting through.\n"]
    for e in endpoints:
        answer = e.last_status_code or e.last_error or "no answer"
        since = e.failing_since.strftime("%Y-%m-%d %H:%M UTC") if e.failing_since else "-"
        lines.append(f"- {e.url}\n  failing since {since}, {e.consecutive_failures} "
                     f"failed attempts in a row, last answer: {answer}")  # fmt: skip
        if kind == "disabled":
            lines.append(f"  DISABLED ({e.disabled_reason}): its postbacks are kept, not sent.")
    if kind == "disabled":
        lines.append(
            "\nFix the endpoint, then re-enable it on the portal's Developers page; every "
            "held postback is then sent once (same webhook-id)."
        )
    else:
        hours = settings.POSTBACK_ENDPOINT_DISABLE_HOURS
        lines.append(
            f"\nWe keep retrying. An endpoint failing for {hours:g} hours is disabled (its "
            "postbacks are then held until you re-enable it). This e-mail comes at most once "
            "a day while the endpoint keeps failing."
        )
    lines.append(f"\nDevelopers page: {developers}\n")
    return "\n".join(lines)


def endpoint_alerts_send() -> int:
    """Send the e-mails owed (see the module docstring); return how many went out."""
    owed = endpoints_to_alert()
    sent = 0
    for kind in ("disabled", "failing"):
        by_merchant: dict[int, list[PostbackEndpoint]] = defaultdict(list)
        for endpoint in owed[kind]:
            by_merchant[endpoint.merchant_id].append(endpoint)
        for endpoints in by_merchant.values():
            merchant = endpoints[0].merchant
            recipients = _recipients(merchant)
            if recipients:
                subject = SUBJECTS[kind].format(name=merchant.name)
                body = _body(kind, merchant, endpoints)
                # One message per user: no portal user sees another's address.
                sent += send_mass_mail([(subject, body, None, [r]) for r in recipients])
            endpoints_mark_alerted(kind=kind, ids=[e.pk for e in endpoints])
            logger.info("endpoint alert (%s) for %s: %s recipient(s)",
                        kind, merchant.slug, len(recipients))  # fmt: skip
    return sent
