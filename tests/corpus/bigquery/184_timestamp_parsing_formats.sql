-- Normalise heterogeneous partner timestamps into UTC and flag parse failures.
-- Partners send timestamps in at least five formats; try each in order.
-- Formats without an offset are interpreted in the partner's contractual timezone.
-- Anything still NULL in event_ts_utc goes to the manual review queue.
SELECT
  partner_id,
  raw_ts,
  -- some partner files start with a UTF-8 byte-order mark that sticks to the first value
  STARTS_WITH(raw_ts, SAFE_CONVERT_BYTES_TO_STRING(b'\xef\xbb\xbf')) AS has_bom,
  COALESCE(
    SAFE.PARSE_TIMESTAMP('%Y-%m-%dT%H:%M:%E*S%Ez', raw_ts),
    SAFE.PARSE_TIMESTAMP('%Y-%m-%d %H:%M:%S', raw_ts, 'America/Chicago'),
    SAFE.PARSE_TIMESTAMP('%d/%m/%Y %H:%M', raw_ts, 'Europe/Paris'),
    SAFE.PARSE_TIMESTAMP('%s', raw_ts),
    TIMESTAMP_MILLIS(SAFE_CAST(raw_ts AS INT64))
  ) AS event_ts_utc,
  FORMAT_TIMESTAMP('%Y-%m-%d %H:%M:%S %Z', SAFE.PARSE_TIMESTAMP('%Y-%m-%dT%H:%M:%E*S%Ez', raw_ts), 'Asia/Tokyo') AS tokyo_display,
  SAFE.PARSE_DATETIME('%Y%m%d%H%M%S', raw_ts) AS compact_datetime,
  TIMESTAMP_TRUNC(SAFE.PARSE_TIMESTAMP('%Y-%m-%dT%H:%M:%E*S%Ez', raw_ts), DAY, 'America/Los_Angeles') AS la_day_start,
  UNIX_MILLIS(SAFE.PARSE_TIMESTAMP('%Y-%m-%dT%H:%M:%E*S%Ez', raw_ts)) AS epoch_ms
FROM `partner-ingest.landing.partner_events_raw`
WHERE ingest_date = CURRENT_DATE()
