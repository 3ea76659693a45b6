"""A base for middleware that Django calls on either path, sync or async, without a hop.

Django adapts a sync-only middleware under ASGI by running it in a thread (and an
async-only one under WSGI on an event loop): per request, that hop costs more than the
middleware's own work. A middleware that is both says so and picks its path once, here;
subclasses write `handle` (sync) and `ahandle` (async) with the same logic.
"""

from __future__ import annotations

from collections.abc import Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest


class SyncAndAsyncMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest):
        if self.is_async:
            return self.ahandle(request)
        return self.handle(request)

    def handle(self, request: HttpRequest):
        raise NotImplementedError

    async def ahandle(self, request: HttpRequest):
        raise NotImplementedError
