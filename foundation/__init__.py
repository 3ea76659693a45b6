"""The platform: leaf libraries every app uses, below all of them (imports none of them).

Outbound HTTP (`http`, its refused address ranges in `addresses`), metric objects
(`instruments`), the request id (`request_id`), logging (`logging_config`), the database
connection pool's use (`db_pool`) and the worker's liveness file (`liveness`). The
project's wiring (settings, urls, ASGI, Celery, gunicorn) stays in `apaygate/`.
"""
