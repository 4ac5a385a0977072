-- Daily installs and uninstalls by app version, from the Play Console transfer.
SELECT
  Date AS report_date,
  Package_Name AS package_name,
  App_Version_Code AS app_version_code,
  SUM(Daily_Device_Installs) AS device_installs,
  SUM(Daily_Device_Uninstalls) AS device_uninstalls,
  SUM(Daily_User_Installs) AS user_installs,
  SUM(Daily_User_Uninstalls) AS user_uninstalls,
  SUM(Install_events) AS install_events,
  SUM(Update_events) AS update_events,
  SAFE_DIVIDE(SUM(Daily_Device_Uninstalls), SUM(Daily_Device_Installs)) AS uninstall_ratio,
  SUM(SUM(Daily_Device_Installs)) OVER (
    PARTITION BY Package_Name, App_Version_Code
    ORDER BY Date
    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
  ) AS cumulative_installs
FROM `ext-prod.app_store.p_Installs_app_version_v1`
WHERE Date >= DATE_SUB(CURRENT_DATE(), INTERVAL 90 DAY)
  AND Package_Name = 'com.example.fitnesstracker'
GROUP BY report_date, package_name, app_version_code
ORDER BY report_date DESC, device_installs DESC
