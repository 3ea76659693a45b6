"""Admin registrations for this sub-topic (filled in as it lands)."""

from __future__ import annotations
