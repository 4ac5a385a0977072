# Crawl log analysis: status codes by site section for Googlebot vs other bots.
SELECT
  IFNULL(REGEXP_EXTRACT(request_path, r'^/([^/?#]+)'), '(root)') AS section,
  CASE
    WHEN REGEXP_CONTAINS(user_agent, r'Googlebot') THEN 'googlebot'
    WHEN REGEXP_CONTAINS(user_agent, r'bingbot') THEN 'bingbot'
    WHEN REGEXP_CONTAINS(LOWER(user_agent),
                         r'bot|crawler|spider|'
                         r'headless|python-requests|curl/') THEN 'other_bot'
    ELSE 'human'
  END AS agent_class,
  COUNT(*) AS hits,
  COUNTIF(status_code = 200) AS ok,
  COUNTIF(status_code IN (301, 302, 307, 308)) AS redirects,
  COUNTIF(status_code = 404) AS not_found,
  COUNTIF(status_code >= 500) AS server_errors,
  COUNT(DISTINCT request_path) AS distinct_urls,
  ROUND(AVG(response_bytes) / 1024, 1) AS avg_kb
FROM `seo-data.logs.cdn_access_logs`
WHERE log_date BETWEEN DATE_SUB(CURRENT_DATE(), INTERVAL 7 DAY) AND DATE_SUB(CURRENT_DATE(), INTERVAL 1 DAY)
  AND NOT STARTS_WITH(request_path, '/static/')
GROUP BY section, agent_class
HAVING hits > 50
ORDER BY section, agent_class
