-- Payments and succeeded amount per currency (amounts in different currencies never add up).
WITH created AS (
  SELECT payment_id, MIN(occurred_at) AS created_at
  FROM `__DATASET__.payment_events`
  WHERE merchant_id = {{merchant_id}} AND is_test = ({{mode}} = 'test') AND type = 'payment.created'
  GROUP BY payment_id
)
SELECT
  p.currency,
  COUNT(*) AS payments,
  COUNTIF(p.status = 'succeeded') AS succeeded,
  SUM(IF(p.status = 'succeeded', p.amount, 0)) AS succeeded_amount
FROM `__DATASET__.payments_latest` AS p
JOIN created AS c USING (payment_id)
WHERE p.merchant_id = {{merchant_id}}
  AND p.is_test = ({{mode}} = 'test')
  [[AND DATE(c.created_at) >= {{date_from}}]]
  [[AND DATE(c.created_at) <= {{date_to}}]]
  [[AND p.status = {{status}}]]
  [[AND p.currency = {{currency}}]]
GROUP BY p.currency
ORDER BY payments DESC
