"""Django's WSGI handler with a shorter middleware stack for the routes machines call.

The merchant API and the providers' postbacks (`MACHINE_PATH_PREFIXES`) are answered by
a second handler of the same project built from `MACHINE_MIDDLEWARE`: the full stack
without what serves browsers (sessions, CSRF, login, messages, the login throttle, static
files, CSP; settings.py says why each may go). Every other path runs the full stack.
Profiled in one process, the dropped middleware was about 0.2 ms of CPU per request, a
tenth of a postback's (docs/decisions.md).

The choice is by the path's prefix, which is what Django's resolver matches too: anything
under these prefixes resolves to the API's or the intake's views, or to the API's JSON 404.
"""

from __future__ import annotations

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler


def machine_path(path: str) -> bool:
    return path.startswith(settings.MACHINE_PATH_PREFIXES)


def _handler_with(middleware: list[str]) -> WSGIHandler:
    """A WSGI handler whose chain is `middleware` (Django builds one from MIDDLEWARE only).

    Called while the process starts, before any request thread runs; the setting is back
    to the full stack when it returns.
    """
    full = settings.MIDDLEWARE
    settings.MIDDLEWARE = middleware
    try:
        return WSGIHandler()
    finally:
        settings.MIDDLEWARE = full


class RoutedWSGIHandler:
    """The project's WSGI application: the machine routes' handler or the full one."""

    def __init__(self) -> None:
        self.full = WSGIHandler()
        self.machine = _handler_with(list(settings.MACHINE_MIDDLEWARE))

    def __call__(self, environ: dict, start_response):
        handler = self.machine if machine_path(environ.get("PATH_INFO", "")) else self.full
        return handler(environ, start_response)


def routed_wsgi_application() -> RoutedWSGIHandler:
    """As `django.core.wsgi.get_wsgi_application`, with the machine routes' stack."""
    import django

    django.setup(set_prefix=False)
    return RoutedWSGIHandler()
