-- Moderator decision quality: agreement with QA re-review, by moderator and policy.
-- QA samples ~5% of decisions at random, stratified by policy area.
-- Minimum 100 decisions per moderator x policy to be reported.
select
  d.moderator_id,
  d.policy_area,
  count(*) as decisions,
  countif(q.review_id is not null) as qa_sampled,
  countif(q.qa_decision = d.decision) as qa_agreed,
  round(safe_divide(countif(q.qa_decision = d.decision), countif(q.review_id is not null)), 3) as agreement_rate,
  countif(d.decision = 'remove' and q.qa_decision = 'keep') as false_removals,
  countif(d.decision = 'keep' and q.qa_decision = 'remove') as missed_violations,
  approx_quantiles(d.handle_time_s, 100)[offset(50)] as median_handle_s,
  avg(d.handle_time_s) as avg_handle_s
from `trust-safety-prod.moderation.decisions` as d
left join `trust-safety-prod.moderation.qa_reviews` as q
  on q.decision_id = d.decision_id
where d.decided_at >= timestamp_sub(current_timestamp(), interval 30 day)
group by 1, 2
having decisions >= 100
order by agreement_rate
