-- Video streaming: title-level engagement for the content team.
-- Completion, rewatch, binge sessions, and audience overlap with the top titles.
-- A viewer is 'qualified' when they watched more than two minutes of an episode.
-- Trailers are excluded. Window: last 28 days.

with plays as (
  select
    p.play_id,
    p.account_id,
    p.profile_id,
    p.title_id,
    p.episode_id,
    p.device_type,
    p.country,
    p.started_at,
    p.ended_at,
    p.position_start_s,
    p.position_end_s,
    p.runtime_s,
    greatest(0, p.position_end_s - p.position_start_s) as watched_s
  from playback.play_sessions p
  where p.started_at >= timestamp_sub(current_timestamp(), interval 28 day)
    and p.runtime_s > 0
    and not p.is_trailer
)

, episode_progress as (
  select
    profile_id,
    title_id,
    episode_id,
    any_value(runtime_s) as runtime_s,
    sum(watched_s) as watched_s,
    max(position_end_s) as furthest_position_s,
    count(*) as plays,
    min(started_at) as first_play_at
  from plays
  group by 1, 2, 3
)

, episode_flags as (
  select
    *,
    furthest_position_s >= 0.9 * runtime_s as completed,
    watched_s >= 1.5 * runtime_s as rewatched,
    watched_s < 120 as sampled_only
  from episode_progress
)

, binge as (
  -- binge session: 3+ episodes of the same title within a 6-hour window
  select
    profile_id,
    title_id,
    max(episodes_in_window) as max_episodes_6h
  from (
    select
      profile_id,
      title_id,
      -- rows are already one per episode, so count(*) counts distinct episodes
      count(*) over (
        partition by profile_id, title_id
        order by unix_seconds(first_play_at)
        range between 21600 preceding and current row
      ) as episodes_in_window
    from episode_flags
  )
  group by 1, 2
)

, title_stats as (
  select
    e.title_id,
    count(distinct e.profile_id) as viewers,
    count(distinct if(not e.sampled_only, e.profile_id, null)) as qualified_viewers,
    sum(e.watched_s) / 3600 as hours_watched,
    countif(e.completed) as episodes_completed,
    count(*) as episodes_started,
    countif(e.rewatched) as episodes_rewatched,
    count(distinct if(b.max_episodes_6h >= 3, e.profile_id, null)) as binge_viewers
  from episode_flags e
  left join binge b using (profile_id, title_id)
  group by 1
)

, series_completion as (
  -- share of viewers who completed the final episode of the latest season
  select
    e.title_id,
    count(distinct if(e.completed and ep.is_season_finale, e.profile_id, null)) as finale_completers
  from episode_flags e
  join catalog.episodes ep using (episode_id)
  group by 1
)

, top_titles as (
  select title_id
  from title_stats
  order by hours_watched desc
  limit 20
)

, overlap as (
  select
    a.title_id,
    array_agg(struct(b.title_id as other_title_id, shared_viewers) order by shared_viewers desc limit 5) as top_overlaps
  from (
    select x.title_id, y.title_id as other_title_id, count(distinct x.profile_id) as shared_viewers
    from (select distinct profile_id, title_id from episode_flags where not sampled_only) x
    join (select distinct profile_id, title_id from episode_flags where not sampled_only) y
      on x.profile_id = y.profile_id
     and x.title_id != y.title_id
    where y.title_id in (select title_id from top_titles)
    group by 1, 2
  ) a
  join top_titles b on b.title_id = a.other_title_id
  group by a.title_id
)

select
  s.title_id,
  c.title_name,
  c.content_type,
  c.genres[safe_offset(0)] as primary_genre,
  c.release_date,
  date_diff(current_date(), c.release_date, day) as days_since_release,
  s.viewers,
  s.qualified_viewers,
  round(s.hours_watched, 1) as hours_watched,
  round(safe_divide(s.hours_watched, s.qualified_viewers), 2) as hours_per_viewer,
  round(safe_divide(s.episodes_completed, s.episodes_started), 4) as episode_completion_rate,
  round(safe_divide(s.episodes_rewatched, s.episodes_started), 4) as rewatch_rate,
  round(safe_divide(s.binge_viewers, s.qualified_viewers), 4) as binge_rate,
  round(safe_divide(sc.finale_completers, s.qualified_viewers), 4) as finale_completion_rate,
  rank() over (order by s.hours_watched desc) as hours_rank,
  rank() over (partition by c.content_type order by s.hours_watched desc) as hours_rank_in_type,
  o.top_overlaps
  , s.episodes_started
  , s.episodes_completed
  , round(safe_divide(s.hours_watched, date_diff(current_date(), greatest(c.release_date, date_sub(current_date(), interval 28 day)), day)), 1) as hours_per_day_available
  , case
      when safe_divide(s.binge_viewers, s.qualified_viewers) >= 0.3 then 'binge_magnet'
      when safe_divide(s.episodes_completed, s.episodes_started) < 0.4 then 'drop_off_risk'
      else 'steady'
    end as engagement_profile
from title_stats s
join catalog.titles c on c.title_id = s.title_id
left join series_completion sc on sc.title_id = s.title_id
left join overlap o on o.title_id = s.title_id
where s.viewers >= 100
order by hours_watched desc
