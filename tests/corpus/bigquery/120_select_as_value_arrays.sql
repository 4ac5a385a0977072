-- Build per-user arrays of scalar values with SELECT AS VALUE and ARRAY subqueries.
SELECT
  u.user_id,
  ARRAY(
    SELECT AS VALUE s.skill_name
    FROM UNNEST(u.skills) AS s
    WHERE s.level >= 3
    ORDER BY s.level DESC, s.skill_name
  ) AS strong_skills,
  ARRAY(
    SELECT AS VALUE FORMAT_DATE('%Y-%m', DATE(c.completed_at))
    FROM `people-analytics.learning.course_completions` AS c
    WHERE c.user_id = u.user_id
    GROUP BY 1
    ORDER BY 1
  ) AS active_learning_months,
  (SELECT AS VALUE MAX(level) FROM UNNEST(u.skills)) AS max_skill_level,
  ARRAY(SELECT DISTINCT team FROM UNNEST(u.team_history) AS team) AS teams
FROM `people-analytics.hris.user_profiles` AS u
WHERE u.is_active
