"""With DEBUG on, an exception under /api/ is answered as in production: JSON, not a page.

With DEBUG on (`make run`) Django answers an uncaught exception with its HTML debug page
and never asks the 500 handler (`apaygate/pages.py`), so an SDK would show a merchant a
chunk of HTML. Django still announces the exception first (`got_request_exception`, sent
while it is being handled) and logs it with its traceback afterwards; the receiver here
keeps the exception on the request, and the middleware, second in MIDDLEWARE so that it
sees what every later middleware and view raised, swaps the debug page for the production
answer: a JSON 500 naming the request id, or the 503 of a database out of reach. Outside
/api/ the debug page stays (it is what a developer wants there), and with DEBUG off the
500 handler already answers this way.
"""

from __future__ import annotations

import sys

from django.conf import settings
from django.core.signals import got_request_exception
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse

from apaygate.pages import api_server_error
from foundation.middleware import SyncAndAsyncMiddleware

_ATTRIBUTE = "_apaygate_uncaught_exception"


@receiver(got_request_exception, dispatch_uid="apaygate.api_debug_errors")
def _remember_exception(sender, request: HttpRequest | None = None, **kwargs) -> None:
    if request is not None:
        setattr(request, _ATTRIBUTE, sys.exc_info()[1])


def _production_answer(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    exc = request.__dict__.pop(_ATTRIBUTE, None)
    if exc is None or not settings.DEBUG or not request.path.startswith("/api/"):
        return response
    return api_server_error(exc)


class ApiDebugErrorMiddleware(SyncAndAsyncMiddleware):
    """Answer an exception under /api/ with the API's JSON error, with DEBUG on too."""

    def handle(self, request: HttpRequest):
        return _production_answer(request, self.get_response(request))

    async def ahandle(self, request: HttpRequest):
        return _production_answer(request, await self.get_response(request))
