"""`python manage.py metabase_provision`: create or update the portal's Metabase dashboard."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from reporting.metabase.config import metabase_config
from reporting.metabase.provision import MetabaseError, metabase_provision


class Command(BaseCommand):
    help = (
        "Create or update the Metabase cards and dashboard from reporting/metabase/sql/, "
        "enable signed embedding with merchant_id locked, and print the dashboard id "
        "(set it as METABASE_DASHBOARD_ID)."
    )

    def handle(self, *args, **options) -> None:
        try:
            dashboard_id = metabase_provision(cfg=metabase_config())
        except MetabaseError as exc:
            raise CommandError(str(exc)) from None
        self.stderr.write("Dashboard ready; set METABASE_DASHBOARD_ID to the id below.")
        self.stdout.write(str(dashboard_id))
