-- Blended CAC by acquisition channel: marketing spend from all ad platforms, joined with
-- first-session acquisition from GA4 and first orders from the commerce database.
-- Monthly grain; spend for unattributable channels (brand, offline) is spread by session share.
-- Caveats: GA4 channel grouping is session-scoped; customers whose first session predates
-- July 2023 fall back to 'Direct'. Agency fees are not included in spend.

WITH spend AS (
  SELECT DATE_TRUNC(segments_date, MONTH) AS month, 'Paid Search' AS channel, SUM(metrics_cost_micros) / 1e6 AS spend_usd
  FROM `acme-ads.google_ads.p_ads_CampaignBasicStats_4817263519`
  WHERE segments_date >= DATE '2023-07-01'
  GROUP BY 1, 2

  UNION ALL

  SELECT DATE_TRUNC(date_start, MONTH), 'Paid Social', SUM(spend)
  FROM `acme-ads.facebook_ads.ads_insights`
  WHERE date_start >= DATE '2023-07-01'
  GROUP BY 1, 2

  UNION ALL

  SELECT DATE_TRUNC(stat_date, MONTH), 'Paid Social', SUM(cost_in_usd)
  FROM `acme-ads.linkedin_ads.ad_analytics_by_campaign`
  WHERE stat_date >= DATE '2023-07-01'
  GROUP BY 1, 2

  UNION ALL

  SELECT DATE_TRUNC(stat_time_day, MONTH), 'Paid Social', SUM(spend)
  FROM `acme-ads.tiktok_ads.campaign_report_daily`
  WHERE stat_time_day >= DATE '2023-07-01'
  GROUP BY 1, 2

  UNION ALL

  SELECT DATE_TRUNC(invoice_date, MONTH), 'Affiliates', SUM(commission_usd)
  FROM `acme-ads.affiliates.commissions`
  WHERE invoice_date >= DATE '2023-07-01'
    AND status = 'approved'
  GROUP BY 1, 2

  UNION ALL

  SELECT DATE_TRUNC(spend_date, MONTH), 'Unattributed', SUM(amount_usd)
  FROM `acme-ads.marketing_finance.offline_and_brand_spend`
  WHERE spend_date >= DATE '2023-07-01'
  GROUP BY 1, 2
),

spend_by_channel AS (
  -- several platforms map to the same channel; collapse them
  -- (channel names follow the GA4 default channel grouping)
  SELECT month, channel, SUM(spend_usd) AS spend_usd
  FROM spend
  GROUP BY month, channel
),

first_sessions AS (
  SELECT
    user_pseudo_id,
    user_id,
    DATE_TRUNC(session_date, MONTH) AS month,
    session_default_channel_group AS channel
  FROM `acme-web-prod.marts.ga4_sessions`
  WHERE session_date >= DATE '2023-07-01'
    AND is_new_user_session
  QUALIFY ROW_NUMBER() OVER (PARTITION BY user_pseudo_id ORDER BY session_start_ts) = 1
),

new_customers AS (
  SELECT
    buyer_id AS customer_id,
    DATE_TRUNC(order_date, MONTH) AS month,
    nmv_usd AS first_order_value
  FROM `mkt-data-prod.marts.fct_marketplace_orders`
  WHERE is_first_order
    AND order_status != 'cancelled'
    AND order_date >= DATE '2023-07-01'
),

customer_channel AS (
  -- channel of the customer's first-ever session (via user_id stitching), else Direct
  SELECT
    nc.month,
    nc.customer_id,
    nc.first_order_value,
    IFNULL(
      (SELECT fs.channel FROM first_sessions AS fs WHERE fs.user_id = nc.customer_id ORDER BY fs.month LIMIT 1),
      'Direct'
    ) AS channel
  FROM new_customers AS nc
),

new_customer_counts AS (
  SELECT
    month,
    channel,
    COUNT(*) AS new_customers,
    SUM(first_order_value) AS first_order_revenue
  FROM customer_channel
  GROUP BY month, channel
),

session_share AS (
  SELECT
    month,
    channel,
    COUNT(*) AS new_user_sessions,
    SAFE_DIVIDE(COUNT(*), SUM(COUNT(*)) OVER (PARTITION BY month)) AS share
  FROM first_sessions
  GROUP BY month, channel
),

allocated AS (
  -- distribute unattributed spend proportionally to new-user session share
  SELECT
    ss.month,
    ss.channel,
    IFNULL(sc.spend_usd, 0) AS direct_spend,
    IFNULL(u.spend_usd, 0) * ss.share AS allocated_spend
  FROM session_share AS ss
  LEFT JOIN spend_by_channel AS sc
    ON sc.month = ss.month AND sc.channel = ss.channel
  LEFT JOIN spend_by_channel AS u
    ON u.month = ss.month AND u.channel = 'Unattributed'
)

SELECT
  a.month,
  a.channel,
  ROUND(a.direct_spend, 2) AS direct_spend,
  ROUND(a.allocated_spend, 2) AS allocated_spend,
  ROUND(a.direct_spend + a.allocated_spend, 2) AS total_spend,
  IFNULL(n.new_customers, 0) AS new_customers,
  ROUND(IFNULL(n.first_order_revenue, 0), 2) AS first_order_revenue,
  ROUND(SAFE_DIVIDE(a.direct_spend, n.new_customers), 2) AS paid_cac,
  ROUND(SAFE_DIVIDE(a.direct_spend + a.allocated_spend, n.new_customers), 2) AS blended_cac,
  ROUND(SAFE_DIVIDE(n.first_order_revenue, a.direct_spend + a.allocated_spend), 3) AS first_order_roas,
  ROUND(SAFE_DIVIDE(
    SUM(a.direct_spend + a.allocated_spend) OVER (PARTITION BY a.month),
    SUM(IFNULL(n.new_customers, 0)) OVER (PARTITION BY a.month)
  ), 2) AS total_blended_cac_month,
  -- month-over-month movement of blended CAC per channel
  ROUND(SAFE_DIVIDE(a.direct_spend + a.allocated_spend, n.new_customers)
        - LAG(SAFE_DIVIDE(a.direct_spend + a.allocated_spend, n.new_customers))
            OVER (PARTITION BY a.channel ORDER BY a.month), 2) AS blended_cac_mom_delta,
  a.channel IN ('Direct', 'Organic Search', 'Organic Social', 'Referral', 'Email') AS is_unpaid_channel,
  SAFE_DIVIDE(IFNULL(n.new_customers, 0), SUM(IFNULL(n.new_customers, 0)) OVER (PARTITION BY a.month)) AS new_customer_share
FROM allocated AS a
LEFT JOIN new_customer_counts AS n USING (month, channel)
ORDER BY a.month DESC, total_spend DESC
