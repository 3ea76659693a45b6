"""Celery task names are written once (payments/task_names.py, reporting/task_names.py) and
imported by the task, its senders and beat's schedule, so a rename cannot miss one side."""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from apaygate.celery import app
from payments import task_names
from reporting import task_names as reporting_task_names

ROOT = Path(__file__).resolve().parents[2]
NAMES = {
    value
    for module in (task_names, reporting_task_names)
    for key, value in vars(module).items()
    if key.isupper()
}
SOURCES = (
    "apaygate",
    "foundation",
    "payments",
    "providers",
    "reporting",
    "demo",
    "docsite",
    "bench",
)


def test_every_name_is_a_registered_task_and_beat_sends_only_those():
    app.loader.import_default_modules()

    assert set(app.tasks) >= NAMES
    scheduled = {entry["task"] for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert scheduled <= NAMES


def test_no_task_name_is_typed_outside_the_names_modules():
    pattern = re.compile("|".join(re.escape(f'"{name}"') for name in NAMES))
    homes = {ROOT / "payments/task_names.py", ROOT / "reporting/task_names.py"}
    typed = [
        f"{path.relative_to(ROOT)}: {match.group()}"
        for folder in SOURCES
        for path in (ROOT / folder).rglob("*.py")
        if path not in homes
        for match in pattern.finditer(path.read_text())
    ]

    assert typed == []
