-- Territory assignment check: accounts whose owner doesn't match the territory rules.
WITH rules AS (
  SELECT *
  FROM UNNEST([
    STRUCT('NA' AS region, 'Enterprise' AS segment, 'na-ent' AS territory),
    ('NA', 'Mid-Market', 'na-mm'),
    ('NA', 'SMB', 'na-smb'),
    ('EMEA', 'Enterprise', 'emea-ent'),
    ('EMEA', 'Mid-Market', 'emea-mm'),
    ('EMEA', 'SMB', 'emea-smb'),
    ('APAC', 'Enterprise', 'apac-all'),
    ('APAC', 'Mid-Market', 'apac-all'),
    ('APAC', 'SMB', 'apac-all')
  ])
)
SELECT
  a.Id AS account_id,
  a.Name AS account_name,
  a.BillingCountry AS billing_country,
  a.Region__c AS region,
  a.Segment__c AS segment,
  r.territory AS expected_territory,
  u.Territory__c AS owner_territory,
  u.Name AS owner_name
FROM salesforce.Account AS a
JOIN salesforce.User AS u ON u.Id = a.OwnerId
LEFT JOIN rules AS r
  ON r.region = a.Region__c
 AND r.segment = a.Segment__c
WHERE a.Type = 'Customer'
  AND (r.territory IS NULL OR r.territory != u.Territory__c)
ORDER BY a.Region__c, a.Segment__c, a.Name
