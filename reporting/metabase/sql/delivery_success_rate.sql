-- Merchant postbacks: delivered / settled (delivered or failed for good), per day.
SELECT
  DATE(occurred_at) AS day,
  COUNTIF(type = 'delivery.succeeded') AS delivered,
  COUNTIF(type = 'delivery.failed') AS failed,
  SAFE_DIVIDE(COUNTIF(type = 'delivery.succeeded'), COUNT(*)) AS success_rate
FROM `__DATASET__.payment_events`
WHERE merchant_id = {{merchant_id}}
  AND is_test = ({{mode}} = 'test')
  AND type IN ('delivery.succeeded', 'delivery.failed')
  [[AND DATE(occurred_at) >= {{date_from}}]]
  [[AND DATE(occurred_at) <= {{date_to}}]]
  [[AND currency = {{currency}}]]
GROUP BY day
ORDER BY day
