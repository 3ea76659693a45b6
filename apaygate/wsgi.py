"""WSGI entry point (gunicorn apaygate.wsgi)."""

from __future__ import annotations

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "apaygate.settings")

from apaygate.machine_routes import routed_wsgi_application

# Django's WSGI handler, with the machine routes' shorter middleware stack.
application = routed_wsgi_application()
