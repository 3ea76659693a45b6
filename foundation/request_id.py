"""One id per request, carried through logs, Celery tasks and outbound calls.

The id comes from the caller's `X-Request-ID` when it is well-formed (safe characters, at
most 128), else a fresh uuid4 hex. It lives in a contextvar, so threads, asyncio tasks and
Celery tasks each see their own; `foundation.logging_config.RequestIdFilter` puts it on every
log record, `outbound_headers()` hands it to the next hop, and the Celery signal handlers
below carry it from the web process into the task that the request queued.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from django.http import HttpRequest

from foundation.middleware import SyncAndAsyncMiddleware

HEADER = "X-Request-ID"
# The Celery message header the id travels in.
TASK_HEADER = "apaygate_request_id"
_WELL_FORMED = re.compile(r"[A-Za-z0-9._:+=/-]{1,128}")

_request_id: ContextVar[str | None] = ContextVar("apaygate_request_id", default=None)


def new_request_id() -> str:
    """Return a fresh id."""
    return uuid.uuid4().hex


def clean_request_id(value: str | None) -> str:
    """Return `value` if it is a well-formed id, else a fresh one."""
    if value and _WELL_FORMED.fullmatch(value):
        return value
    return new_request_id()


def get_request_id() -> str | None:
    """Return the current request's (or task's) id, None outside of one."""
    return _request_id.get()


@contextmanager
def request_id_scope(value: str | None) -> Iterator[str]:
    """Run a block under `value` (cleaned), restoring the previous id afterwards."""
    request_id = clean_request_id(value)
    token = _request_id.set(request_id)
    try:
        yield request_id
    finally:
        _request_id.reset(token)


def outbound_headers() -> dict[str, str]:
    """Return the headers that pass the current id on to an outbound call ({} outside one)."""
    request_id = get_request_id()
    return {HEADER: request_id} if request_id else {}


class RequestIdMiddleware(SyncAndAsyncMiddleware):
    """Give each request its id (`request.request_id`) and echo it in the response.

    Put it first in MIDDLEWARE, so everything after it, and its logs, run under the id.
    """

    def handle(self, request: HttpRequest):
        with request_id_scope(request.headers.get(HEADER)) as request_id:
            request.request_id = request_id
            response = self.get_response(request)
        response[HEADER] = request_id
        return response

    async def ahandle(self, request: HttpRequest):
        with request_id_scope(request.headers.get(HEADER)) as request_id:
            request.request_id = request_id
            response = await self.get_response(request)
        response[HEADER] = request_id
        return response


# --- Celery ---------------------------------------------------------------------------------

_task_tokens: dict[str, object] = {}


def _on_before_task_publish(headers: dict | None = None, **_: object) -> None:
    request_id = get_request_id()
    if request_id and headers is not None:
        headers.setdefault(TASK_HEADER, request_id)


def _task_request_id(task: object) -> str | None:
    request = getattr(task, "request", None)
    if request is None:
        return None
    # Protocol 2 copies custom message headers onto the task's request; older paths keep
    # them under `headers`.
    value = getattr(request, TASK_HEADER, None)
    if value is None:
        value = (getattr(request, "headers", None) or {}).get(TASK_HEADER)
    return value


def _on_task_prerun(task_id: str | None = None, task: object = None, **_: object) -> None:
    # A task queued outside any request still gets an id of its own, so its log lines
    # can be told apart from another run's.
    token = _request_id.set(clean_request_id(_task_request_id(task)))
    if task_id:
        _task_tokens[task_id] = token


def _on_task_postrun(task_id: str | None = None, **_: object) -> None:
    token = _task_tokens.pop(task_id, None) if task_id else None
    if token is not None:
        try:
            _request_id.reset(token)
        except ValueError:
            # Set in another context (a pool that runs prerun and postrun apart): clear.
            _request_id.set(None)


def connect_celery_signals() -> None:
    """Carry the request id into tasks: call once from apaygate/celery.py."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    before_task_publish.connect(_on_before_task_publish, dispatch_uid="apaygate-request-id")
    task_prerun.connect(_on_task_prerun, dispatch_uid="apaygate-request-id")
    task_postrun.connect(_on_task_postrun, dispatch_uid="apaygate-request-id")
