"""Every argument of every project management command explains itself in `manage.py help`."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import get_commands, load_command_class

# Django adds these to every command, with its own help text.
DJANGO_DEFAULT_DESTS = {
    "help",
    "version",
    "verbosity",
    "settings",
    "pythonpath",
    "traceback",
    "no_color",
    "force_color",
    "skip_checks",
}


def _project_commands() -> list[tuple[str, str]]:
    """Return (app, command) for the commands defined in this repository's own apps."""
    root = Path(settings.BASE_DIR).resolve()
    found = []
    for name, app in get_commands().items():
        if not isinstance(app, str) or app.startswith("django."):
            continue
        module = __import__(f"{app}.management.commands.{name}", fromlist=["Command"])
        if root in Path(module.__file__).resolve().parents and ".venv" not in module.__file__:
            found.append((app, name))
    return sorted(found)


PROJECT_COMMANDS = _project_commands()


def test_the_project_commands_are_found():
    names = {name for _app, name in PROJECT_COMMANDS}
    assert {"create_merchant", "issue_token", "demo_setup", "bigquery_backfill"} <= names


@pytest.mark.parametrize(("app", "name"), PROJECT_COMMANDS, ids=lambda v: v)
def test_every_argument_of_the_command_has_help(app, name):
    command = load_command_class(app, name)
    parser = command.create_parser("manage.py", name)

    undocumented = [
        "/".join(action.option_strings) or action.dest
        for action in parser._actions
        if action.dest not in DJANGO_DEFAULT_DESTS
        and (not action.help or not action.help.strip() or action.help == argparse.SUPPRESS)
    ]

    assert command.help.strip(), f"{name} has no description"
    assert undocumented == [], f"{name}: arguments without help: {undocumented}"
