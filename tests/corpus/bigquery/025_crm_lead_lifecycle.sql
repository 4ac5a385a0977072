-- Lead lifecycle model: MQL -> SQL -> Opportunity -> Closed Won, with stage durations
-- and attribution to the first marketing touch. Grain: lead.
WITH leads AS (
    SELECT
        Id AS lead_id,
        Email AS email,
        LOWER(SPLIT(Email, '@')[SAFE_OFFSET(1)]) AS email_domain,
        Company AS company,
        LeadSource AS lead_source,
        Status AS lead_status,
        CreatedDate AS created_at,
        ConvertedDate AS converted_date,
        ConvertedContactId AS contact_id,
        ConvertedAccountId AS account_id,
        ConvertedOpportunityId AS opportunity_id,
        OwnerId AS owner_id,
        IsDeleted AS is_deleted
    FROM `revops-prod.salesforce.Lead`
    WHERE NOT IsDeleted
),

lead_history AS (
    SELECT
        LeadId AS lead_id,
        CreatedDate AS changed_at,
        OldValue AS old_status,
        NewValue AS new_status
    FROM `revops-prod.salesforce.LeadHistory`
    WHERE Field = 'Status'
),

stage_times AS (
    SELECT
        lead_id,
        MIN(IF(new_status = 'Marketing Qualified', changed_at, NULL)) AS mql_at,
        MIN(IF(new_status = 'Sales Accepted', changed_at, NULL)) AS sal_at,
        MIN(IF(new_status = 'Sales Qualified', changed_at, NULL)) AS sql_at,
        MIN(IF(new_status IN ('Disqualified', 'Unqualified'), changed_at, NULL)) AS disqualified_at,
        COUNT(*) AS status_changes
    FROM lead_history
    GROUP BY lead_id
),

touches AS (
    SELECT
        t.lead_id,
        t.touch_at,
        t.channel,
        t.utm_source,
        t.utm_campaign,
        t.asset_name
    FROM `revops-prod.marketing.marketing_touches` AS t
    WHERE t.touch_at >= TIMESTAMP '2022-01-01'
),

first_last_touch AS (
    SELECT
        lead_id,
        ARRAY_AGG(STRUCT(touch_at, channel, utm_source, utm_campaign) ORDER BY touch_at ASC LIMIT 1)[OFFSET(0)] AS first_touch,
        ARRAY_AGG(STRUCT(touch_at, channel, utm_source, utm_campaign) ORDER BY touch_at DESC LIMIT 1)[OFFSET(0)] AS last_touch,
        COUNT(*) AS total_touches,
        COUNT(DISTINCT channel) AS distinct_channels,
        STRING_AGG(DISTINCT asset_name, ' | ' LIMIT 5) AS sample_assets
    FROM touches
    GROUP BY lead_id
),

opps AS (
    SELECT
        Id AS opportunity_id,
        StageName AS stage_name,
        Amount AS amount,
        CloseDate AS close_date,
        IsWon AS is_won,
        IsClosed AS is_closed,
        CreatedDate AS opp_created_at,
        Type AS opp_type,
        ForecastCategoryName AS forecast_category
    FROM `revops-prod.salesforce.Opportunity`
    WHERE NOT IsDeleted
),

accounts AS (
    SELECT
        Id AS account_id,
        Name AS account_name,
        Industry AS industry,
        NumberOfEmployees AS employees,
        BillingCountry AS billing_country,
        CASE
            WHEN NumberOfEmployees >= 5000 THEN 'Enterprise'
            WHEN NumberOfEmployees >= 500 THEN 'Mid-Market'
            WHEN NumberOfEmployees >= 50 THEN 'SMB'
            ELSE 'Very Small'
        END AS segment
    FROM `revops-prod.salesforce.Account`
),

owners AS (
    SELECT Id AS owner_id, Name AS owner_name, UserRole.Name AS owner_role
    FROM `revops-prod.salesforce.User`
)

SELECT
    l.lead_id,
    l.email_domain,
    l.company,
    l.lead_source,
    l.lead_status,
    l.created_at,
    DATE_TRUNC(DATE(l.created_at), MONTH) AS created_month,
    o.owner_name,
    o.owner_role,
    a.account_name,
    a.industry,
    a.segment,
    a.billing_country,
    st.mql_at,
    st.sal_at,
    st.sql_at,
    st.disqualified_at,
    op.opp_created_at,
    op.close_date,
    op.stage_name,
    op.opp_type,
    op.forecast_category,
    op.amount,
    IFNULL(op.is_won, FALSE) AS is_won,
    -- stage flags
    st.mql_at IS NOT NULL AS reached_mql,
    st.sql_at IS NOT NULL AS reached_sql,
    l.opportunity_id IS NOT NULL AS reached_opportunity,
    IFNULL(op.is_won, FALSE) AS reached_closed_won,
    -- durations in days
    TIMESTAMP_DIFF(st.mql_at, l.created_at, HOUR) / 24 AS days_created_to_mql,
    TIMESTAMP_DIFF(st.sql_at, st.mql_at, HOUR) / 24 AS days_mql_to_sql,
    TIMESTAMP_DIFF(op.opp_created_at, st.sql_at, HOUR) / 24 AS days_sql_to_opp,
    DATE_DIFF(op.close_date, DATE(op.opp_created_at), DAY) AS days_opp_to_close,
    -- attribution
    flt.first_touch.channel AS first_touch_channel,
    flt.first_touch.utm_source AS first_touch_source,
    flt.first_touch.utm_campaign AS first_touch_campaign,
    flt.last_touch.channel AS last_touch_channel,
    flt.last_touch.utm_campaign AS last_touch_campaign,
    IFNULL(flt.total_touches, 0) AS total_touches,
    flt.distinct_channels,
    flt.sample_assets,
    -- free-mail detection for lead scoring exclusions
    l.email_domain IN UNNEST(['gmail.com', 'yahoo.com', 'hotmail.com', 'outlook.com', 'icloud.com', 'proton.me']) AS is_freemail,
    st.status_changes
FROM leads AS l
LEFT JOIN stage_times AS st USING (lead_id)
LEFT JOIN first_last_touch AS flt USING (lead_id)
LEFT JOIN opps AS op USING (opportunity_id)
LEFT JOIN accounts AS a USING (account_id)
LEFT JOIN owners AS o USING (owner_id)
WHERE l.created_at >= TIMESTAMP '2022-01-01'
