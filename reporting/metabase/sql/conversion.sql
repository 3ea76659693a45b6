-- Conversion: succeeded / created. The status filter is deliberately not applied here.
WITH created AS (
  SELECT payment_id, MIN(occurred_at) AS created_at
  FROM `__DATASET__.payment_events`
  WHERE merchant_id = {{merchant_id}} AND is_test = ({{mode}} = 'test') AND type = 'payment.created'
  GROUP BY payment_id
)
SELECT
  COUNT(*) AS created,
  COUNTIF(p.status = 'succeeded') AS succeeded,
  SAFE_DIVIDE(COUNTIF(p.status = 'succeeded'), COUNT(*)) AS conversion
FROM `__DATASET__.payments_latest` AS p
JOIN created AS c USING (payment_id)
WHERE p.merchant_id = {{merchant_id}}
  AND p.is_test = ({{mode}} = 'test')
  [[AND DATE(c.created_at) >= {{date_from}}]]
  [[AND DATE(c.created_at) <= {{date_to}}]]
  [[AND p.currency = {{currency}}]]
