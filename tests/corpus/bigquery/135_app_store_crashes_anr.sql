-- Play Console: ANR and crash rates by device model for the latest two app versions.
WITH latest_versions AS (
  SELECT App_Version_Code
  FROM `ext-prod.app_store.p_Crashes_app_version_v1`
  WHERE Package_Name = 'com.example.fitnesstracker'
  GROUP BY App_Version_Code
  ORDER BY App_Version_Code DESC
  LIMIT 2
)
SELECT
  c.App_Version_Code AS version_code,
  c.Device AS device_model,
  SUM(c.Daily_Crashes) AS crashes,
  SUM(c.Daily_ANRs) AS anrs,
  SUM(i.Daily_Device_Installs) AS installs,
  ROUND(SAFE_DIVIDE(SUM(c.Daily_Crashes), SUM(i.Active_Device_Installs)) * 1000, 3) AS crashes_per_1k_active,
  ROUND(SAFE_DIVIDE(SUM(c.Daily_ANRs), SUM(i.Active_Device_Installs)) * 1000, 3) AS anrs_per_1k_active
FROM `ext-prod.app_store.p_Crashes_device_v1` AS c
LEFT JOIN `ext-prod.app_store.p_Installs_device_v1` AS i
  ON i.Date = c.Date
 AND i.Device = c.Device
 AND i.Package_Name = c.Package_Name
WHERE c.Package_Name = 'com.example.fitnesstracker'
  AND c.App_Version_Code IN (SELECT App_Version_Code FROM latest_versions)
  AND c.Date >= DATE_SUB(CURRENT_DATE(), INTERVAL 14 DAY)
GROUP BY version_code, device_model
HAVING installs > 500
ORDER BY crashes_per_1k_active DESC
LIMIT 50
