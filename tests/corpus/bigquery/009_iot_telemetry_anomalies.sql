-- IoT telemetry: rolling z-score anomaly detection on sensor readings, per device & metric.
-- readings arrive as JSON payloads; firmware < 2.4 sends temperature in Fahrenheit.
with raw as (
    select
        device_id
        , gateway_id
        , received_at
        , safe.parse_timestamp('%Y-%m-%dT%H:%M:%E*SZ', json_value(payload, '$.ts')) as reading_ts
        , json_value(payload, '$.fw') as firmware
        , safe_cast(json_value(payload, '$.temp') as float64) as temp_raw
        , safe_cast(json_value(payload, '$.hum') as float64) as humidity
        , safe_cast(json_value(payload, '$.vib.rms') as float64) as vibration_rms
        , safe_cast(json_value(payload, '$.batt') as float64) as battery_v
        , json_query(payload, '$.flags') as flags_json
    from `iot-platform-prod.ingest.device_messages`
    where date(received_at) between date_sub(current_date(), interval 14 day) and current_date()
      and json_value(payload, '$.type') = 'reading'
)
, normalised as (
    select
        device_id
        , gateway_id
        , coalesce(reading_ts, received_at) as reading_ts
        , timestamp_diff(received_at, reading_ts, second) as ingest_lag_s
        , firmware
        , case
            when safe_cast(split(firmware, '.')[safe_offset(0)] as int64) < 2
              or (safe_cast(split(firmware, '.')[safe_offset(0)] as int64) = 2
                  and safe_cast(split(firmware, '.')[safe_offset(1)] as int64) < 4)
            then (temp_raw - 32) * 5 / 9
            else temp_raw
          end as temperature_c
        , humidity
        , vibration_rms
        , battery_v
        , array_length(json_extract_array(flags_json, '$')) as flag_count
    from raw
)
, deduped as (
    select *
    from normalised
    qualify row_number() over (partition by device_id, reading_ts order by ingest_lag_s) = 1
)
, long_format as (
    select device_id, gateway_id, reading_ts, metric, value
    from deduped
    unpivot (value for metric in (temperature_c, humidity, vibration_rms, battery_v))
)
, rolling as (
    select
        device_id
        , gateway_id
        , reading_ts
        , metric
        , value
        , avg(value) over w_6h as mean_6h
        , stddev_samp(value) over w_6h as sd_6h
        , count(*) over w_6h as n_6h
        , lag(value) over (partition by device_id, metric order by reading_ts) as prev_value
        , lag(reading_ts) over (partition by device_id, metric order by reading_ts) as prev_ts
    from long_format
    window w_6h as (
        partition by device_id, metric
        order by unix_seconds(reading_ts)
        range between 21600 preceding and 1 preceding
    )
)
, scored as (
    select
        *
        , safe_divide(value - mean_6h, sd_6h) as z_score
        , timestamp_diff(reading_ts, prev_ts, second) as gap_s
        , safe_divide(value - prev_value, timestamp_diff(reading_ts, prev_ts, second)) as rate_per_s
    from rolling
)
, thresholds as (
    select * from unnest([
        struct('temperature_c' as metric, 4.0 as z_limit, -40.0 as min_ok, 85.0 as max_ok),
        struct('humidity', 4.0, 0.0, 100.0),
        struct('vibration_rms', 5.0, 0.0, 50.0),
        struct('battery_v', 3.5, 2.9, 4.3)
    ])
)
select
    s.device_id
    , s.gateway_id
    , s.metric
    , s.reading_ts
    , round(s.value, 3) as value
    , round(s.mean_6h, 3) as mean_6h
    , round(s.z_score, 2) as z_score
    , s.gap_s
    , case
        when s.value < t.min_ok or s.value > t.max_ok then 'out_of_range'
        when abs(s.z_score) >= t.z_limit and s.n_6h >= 30 then 'statistical_outlier'
        when s.gap_s > 3600 then 'data_gap'
        when s.metric = 'battery_v' and s.rate_per_s < -0.0005 then 'fast_discharge'
      end as anomaly_type
    , d.site_id
    , d.model
from scored as s
join thresholds as t using (metric)
left join `iot-platform-prod.registry.devices` as d
    on d.device_id = s.device_id
where (s.value < t.min_ok or s.value > t.max_ok)
   or (abs(s.z_score) >= t.z_limit and s.n_6h >= 30)
   or s.gap_s > 3600
   or (s.metric = 'battery_v' and s.rate_per_s < -0.0005)
order by s.reading_ts desc
limit 5000
