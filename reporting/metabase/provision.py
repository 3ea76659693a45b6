"""Create or update the portal's Metabase dashboard from the SQL files, over the REST API.

Idempotent: cards and the dashboard are found by name and updated in place, so running
`manage.py metabase_provision` again after editing a `.sql` file updates the questions
without changing the dashboard id the portal is configured with.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from foundation.http import provider_session
from reporting.metabase.config import MetabaseConfig

SQL_DIR = Path(__file__).resolve().parent / "sql"
DASHBOARD_NAME = "APayGate: merchant payments"
CARD_PREFIX = "APayGate: "
TAG_NAMESPACE = uuid.UUID("6f6d3f2e-6a1b-4d1e-9a52-5a0d8c1b7e10")
TAG_RE = re.compile(r"{{\s*(\w+)\s*}}")
GRID_WIDTH = 24


@dataclass(frozen=True)
class Parameter:
    slug: str
    name: str
    type: str  # Metabase dashboard parameter type
    section: str
    tag_type: str  # native query template-tag type
    embedding: str  # "locked" (set in the signed token) or "enabled" (editable)


PARAMETERS = (
    Parameter("merchant_id", "Merchant", "number/=", "number", "number", "locked"),
    # "live" or "test": the portal's mode, locked like the merchant (test and live never mix).
    Parameter("mode", "Mode", "string/=", "string", "text", "locked"),
    Parameter("date_from", "From", "date/single", "date", "date", "enabled"),
    Parameter("date_to", "To", "date/single", "date", "date", "enabled"),
    Parameter("status", "Status", "string/=", "string", "text", "enabled"),
    Parameter("currency", "Currency", "string/=", "string", "text", "enabled"),
)
PARAMETERS_BY_SLUG = {p.slug: p for p in PARAMETERS}
LOCKED_SLUGS = tuple(p.slug for p in PARAMETERS if p.embedding == "locked")


@dataclass(frozen=True)
class CardSpec:
    file: str
    name: str
    display: str
    visualization_settings: dict
    size_x: int
    size_y: int


CARDS = (
    CardSpec(
        "volume_per_day.sql",
        "Payments per day",
        "bar",
        {"graph.dimensions": ["day"], "graph.metrics": ["payments", "succeeded"]},
        24,
        6,
    ),
    CardSpec(
        "payments_by_status.sql",
        "Payments by status",
        "pie",
        {"pie.dimension": "status", "pie.metric": "payments"},
        8,
        6,
    ),
    CardSpec("conversion.sql", "Conversion (succeeded / created)", "scalar", {}, 8, 6),
    CardSpec(
        "delivery_success_rate.sql",
        "Postback delivery success rate",
        "line",
        {"graph.dimensions": ["day"], "graph.metrics": ["success_rate"]},
        8,
        6,
    ),
    CardSpec("by_currency.sql", "Payments by currency", "table", {}, 24, 6),
)


class MetabaseError(RuntimeError):
    """Metabase refused a provisioning call; the message names the call and the answer."""


def card_sql(*, spec: CardSpec, dataset: str) -> str:
    """Return a card's SQL with the export dataset filled in."""
    if not re.fullmatch(r"[A-Za-z0-9_.\-]+", dataset):
        raise MetabaseError(f"unsafe BigQuery dataset name {dataset!r}")
    return (SQL_DIR / spec.file).read_text().replace("__DATASET__", dataset)


def card_template_tags(*, sql: str, card_name: str) -> dict[str, dict]:
    """Declare every `{{tag}}` of the SQL with a stable id (so updates keep mappings)."""
    tags: dict[str, dict] = {}
    for name in dict.fromkeys(TAG_RE.findall(sql)):
        param = PARAMETERS_BY_SLUG.get(name)
        if param is None:
            raise MetabaseError(f"{card_name}: unknown template tag {{{{{name}}}}}")
        tags[name] = {
            "id": str(uuid.uuid5(TAG_NAMESPACE, f"{card_name}:{name}")),
            "name": name,
            "display-name": param.name,
            "type": param.tag_type,
            "required": param.embedding == "locked",
        }
    for locked in LOCKED_SLUGS:
        if locked not in tags:
            raise MetabaseError(f"{card_name}: every question must filter on {{{{{locked}}}}}")
    return tags


def card_payload(*, spec: CardSpec, database_id: int, dataset: str) -> dict[str, Any]:
    """Build the JSON Metabase expects for a native (SQL) question."""
    name = CARD_PREFIX + spec.name
    sql = card_sql(spec=spec, dataset=dataset)
    return {
        "name": name,
        "description": f"Provisioned by APayGate from reporting/metabase/sql/{spec.file}.",
        "display": spec.display,
        "visualization_settings": spec.visualization_settings,
        "dataset_query": {
            "type": "native",
            "database": database_id,
            "native": {"query": sql, "template-tags": card_template_tags(sql=sql, card_name=name)},
        },
    }


def dashboard_parameters() -> list[dict[str, Any]]:
    return [
        {"id": p.slug, "name": p.name, "slug": p.slug, "type": p.type, "sectionId": p.section}
        for p in PARAMETERS
    ]


def dashboard_embedding_params() -> dict[str, str]:
    return {p.slug: p.embedding for p in PARAMETERS}


class MetabaseClient:
    """A thin session-authenticated client for the few endpoints provisioning needs."""

    def __init__(self, *, site_url: str, session: requests.Session | None = None) -> None:
        self.site_url = site_url.rstrip("/")
        self.http = session or provider_session()

    def call(self, method: str, path: str, json: Any = None, ok: tuple = (200, 202, 204)) -> Any:
        response = self.http.request(method, f"{self.site_url}{path}", json=json)
        if response.status_code not in ok:
            raise MetabaseError(
                f"{method} {path} answered {response.status_code}: {response.text[:300]}"
            )
        return response.json() if response.content else None

    def login(self, *, username: str, password: str) -> None:
        data = self.call("POST", "/api/session", {"username": username, "password": password})
        self.http.headers["X-Metabase-Session"] = data["id"]


def _items(data: Any) -> list[dict]:
    """Metabase lists are bare arrays in some versions and `{"data": [...]}` in others."""
    return data.get("data", []) if isinstance(data, dict) else list(data or [])


def _database_id(client: MetabaseClient, cfg: MetabaseConfig) -> int:
    if cfg.database_id:
        return cfg.database_id
    for db in _items(client.call("GET", "/api/database")):
        if str(db.get("engine", "")).startswith("bigquery"):
            return int(db["id"])
    raise MetabaseError("no BigQuery database in Metabase: add one, or set METABASE_DATABASE_ID")


def _enable_embedding(client: MetabaseClient, cfg: MetabaseConfig) -> None:
    """Turn static embedding on and share our signing secret with Metabase."""
    try:
        client.call("PUT", "/api/setting/enable-embedding-static", {"value": True})
    except MetabaseError:
        # Metabase before 0.52 has one switch for every kind of embedding.
        client.call("PUT", "/api/setting/enable-embedding", {"value": True})
    if cfg.secret_key:
        client.call("PUT", "/api/setting/embedding-secret-key", {"value": cfg.secret_key})


def metabase_provision(*, cfg: MetabaseConfig, session: requests.Session | None = None) -> int:
    """Create or update the cards and the dashboard; return the dashboard id.

    The dashboard's `merchant_id` parameter is "locked" for embedding: Metabase then only
    accepts its value from the signed token the portal makes (reporting/metabase/embed.py).
    """
    if not (cfg.site_url and cfg.username and cfg.password):
        raise MetabaseError("set METABASE_SITE_URL, METABASE_USERNAME and METABASE_PASSWORD")
    client = MetabaseClient(site_url=cfg.site_url, session=session)
    client.login(username=cfg.username, password=cfg.password)
    database_id = _database_id(client, cfg)
    _enable_embedding(client, cfg)

    existing_cards = {c["name"]: c["id"] for c in _items(client.call("GET", "/api/card?f=all"))}
    card_ids: list[tuple[CardSpec, int, set[str]]] = []
    for spec in CARDS:
        body = card_payload(spec=spec, database_id=database_id, dataset=cfg.dataset)
        card_id = existing_cards.get(body["name"])
        if card_id:
            client.call("PUT", f"/api/card/{card_id}", body)
        else:
            card_id = client.call("POST", "/api/card", body)["id"]
        tags = set(body["dataset_query"]["native"]["template-tags"])
        card_ids.append((spec, int(card_id), tags))

    dashboards = {d["name"]: d["id"] for d in _items(client.call("GET", "/api/dashboard"))}
    dashboard_id = dashboards.get(DASHBOARD_NAME)
    if dashboard_id is None:
        dashboard_id = client.call(
            "POST",
            "/api/dashboard",
            {
                "name": DASHBOARD_NAME,
                "description": "Provisioned by APayGate (manage.py metabase_provision).",
                "parameters": dashboard_parameters(),
            },
        )["id"]
        current: list[dict] = []
    else:
        current = client.call("GET", f"/api/dashboard/{dashboard_id}").get("dashcards", [])
    dashcard_ids = {dc.get("card_id"): dc["id"] for dc in current}

    dashcards, row, col, row_height = [], 0, 0, 0
    for index, (spec, card_id, tags) in enumerate(card_ids):
        if col + spec.size_x > GRID_WIDTH:
            row, col, row_height = row + row_height, 0, 0
        dashcards.append(
            {
                "id": dashcard_ids.get(card_id, -(index + 1)),
                "card_id": card_id,
                "row": row,
                "col": col,
                "size_x": spec.size_x,
                "size_y": spec.size_y,
                "parameter_mappings": [
                    {
                        "parameter_id": p.slug,
                        "card_id": card_id,
                        "target": ["variable", ["template-tag", p.slug]],
                    }
                    for p in PARAMETERS
                    if p.slug in tags
                ],
                "visualization_settings": {},
            }
        )
        col += spec.size_x
        row_height = max(row_height, spec.size_y)
    client.call(
        "PUT",
        f"/api/dashboard/{dashboard_id}",
        {
            "parameters": dashboard_parameters(),
            "dashcards": dashcards,
            "enable_embedding": True,
            "embedding_params": dashboard_embedding_params(),
        },
    )
    return int(dashboard_id)
