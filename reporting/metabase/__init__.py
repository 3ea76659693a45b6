"""Metabase: signed (static) embeds for the portal, and the dashboard provisioned from code.

`embed.py` signs the iframe URL; `provision.py` creates the cards and the dashboard through
Metabase's REST API from the SQL files under `sql/`.
"""

from __future__ import annotations

from reporting.metabase.embed import (
    EMBED_TTL,
    metabase_embed_token,
    metabase_embed_url,
    metabase_is_configured,
)

__all__ = ["EMBED_TTL", "metabase_embed_token", "metabase_embed_url", "metabase_is_configured"]
