"""The BigQuery side of the export: the `payment_events` table and the `payments_latest` view.

Column names are a contract with the dashboards (reporting/metabase/sql/): add columns,
never rename or retype one (BigQuery only allows adding NULLABLE columns in place).
"""

from __future__ import annotations

from google.cloud import bigquery

EVENTS_TABLE = "payment_events"
LATEST_VIEW = "payments_latest"

EVENTS_SCHEMA = [
    bigquery.SchemaField("event_id", "STRING", mode="REQUIRED", description="PaymentEvent id"),
    bigquery.SchemaField("type", "STRING", mode="REQUIRED", description="e.g. payment.created"),
    bigquery.SchemaField("occurred_at", "TIMESTAMP", mode="REQUIRED"),
    bigquery.SchemaField("payment_id", "STRING", description="Public payment id"),
    bigquery.SchemaField("merchant_id", "INT64"),
    bigquery.SchemaField("merchant_slug", "STRING"),
    bigquery.SchemaField("merchant_reference", "STRING", description="Merchant's own id"),
    bigquery.SchemaField("provider", "STRING"),
    bigquery.SchemaField("status", "STRING", description="Payment status after the event"),
    bigquery.SchemaField("is_test", "BOOL"),
    bigquery.SchemaField("payment_type", "STRING", description="fiat or crypto"),
    bigquery.SchemaField("amount", "NUMERIC"),
    bigquery.SchemaField("currency", "STRING"),
    bigquery.SchemaField("provider_amount", "NUMERIC"),
    bigquery.SchemaField("provider_currency", "STRING"),
    # NUMERIC keeps 9 decimal places; the rate is rounded to them on export.
    bigquery.SchemaField("exchange_rate", "NUMERIC"),
    bigquery.SchemaField(
        "customer_email_sha256", "STRING", description="SHA-256 of the lower-cased e-mail"
    ),
    bigquery.SchemaField(
        "customer_email", "STRING", description="Only with BIGQUERY_EXPORT_RAW_EMAIL"
    ),
    bigquery.SchemaField(
        "customer_name", "STRING", description="Only with BIGQUERY_EXPORT_CUSTOMER_NAME"
    ),
    bigquery.SchemaField("payload", "JSON"),
    bigquery.SchemaField("exported_at", "TIMESTAMP", description="When the row was sent"),
]

# Latest state per payment. Ordered by event id after time so that two events in the same
# microsecond still give one deterministic row; rows sent twice (BigQuery's insertId
# de-duplication is best effort) collapse here as well.
LATEST_VIEW_SQL = """
SELECT * EXCEPT (rn)
FROM (
  SELECT
    payment_id,
    merchant_id,
    merchant_slug,
    merchant_reference,
    provider,
    status,
    is_test,
    payment_type,
    amount,
    currency,
    provider_amount,
    provider_currency,
    exchange_rate,
    customer_email_sha256,
    MIN(occurred_at) OVER (PARTITION BY payment_id) AS created_at,
    occurred_at AS updated_at,
    type AS last_event_type,
    event_id AS last_event_id,
    ROW_NUMBER() OVER (
      PARTITION BY payment_id ORDER BY occurred_at DESC, event_id DESC
    ) AS rn
  FROM `{table}`
  WHERE payment_id IS NOT NULL AND status != ''
)
WHERE rn = 1
"""
