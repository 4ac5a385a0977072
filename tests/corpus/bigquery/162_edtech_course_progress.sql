-- Online learning platform: course progress, completion and certificate funnel per cohort.
-- Cohort = week of enrolment. Tracks lesson completion, quiz pass rates, time-to-complete and
-- drop-off lesson for learners who stalled.
-- A learner is 'stalled' after 21 days without lesson activity.
-- Staff accounts are excluded; only published courses are considered.

with enrolments as (
    select
        e.enrolment_id,
        e.learner_id,
        e.course_id,
        e.enrolled_at,
        date_trunc(date(e.enrolled_at), week(monday)) as cohort_week,
        e.is_paid,
        e.source
    from core.enrolments e
    where e.enrolled_at >= timestamp '2024-01-01'
      and not e.is_staff
),

course_structure as (
    select
        c.course_id,
        c.title as course_title,
        c.category,
        l.lesson_id,
        l.module_index,
        l.lesson_index,
        l.is_required,
        row_number() over (partition by c.course_id order by l.module_index, l.lesson_index) as lesson_seq,
        count(*) over (partition by c.course_id) as lessons_total,
        countif(l.is_required) over (partition by c.course_id) as required_total
    from catalog.courses c
    join catalog.lessons l using (course_id)
    where c.status = 'published'
),

progress as (
    select
        p.enrolment_id,
        p.lesson_id,
        min(p.started_at) as started_at,
        min(p.completed_at) as completed_at,
        sum(p.watch_seconds) as watch_seconds
    from core.lesson_progress p
    group by 1, 2
),

quiz as (
    -- quizzes can be retried; a quiz counts as passed if any attempt reached the pass mark
    -- (pass marks differ per quiz and are stored on each attempt)
    -- max attempts is used to spot learners who get stuck
    select
        q.enrolment_id,
        count(distinct q.quiz_id) as quizzes_attempted,
        count(distinct if(q.score_pct >= q.pass_mark_pct, q.quiz_id, null)) as quizzes_passed,
        avg(q.score_pct) as avg_quiz_score,
        max(q.attempt_number) as max_attempts_on_a_quiz
    from core.quiz_attempts q
    group by 1
),

certificates as (
    select enrolment_id, min(issued_at) as certificate_issued_at
    from core.certificates
    group by 1
),

per_enrolment as (
    select
        e.enrolment_id,
        e.learner_id,
        e.course_id,
        e.cohort_week,
        e.is_paid,
        e.source,
        e.enrolled_at,
        any_value(cs.course_title) as course_title,
        any_value(cs.category) as category,
        any_value(cs.lessons_total) as lessons_total,
        any_value(cs.required_total) as required_total,
        countif(p.started_at is not null) as lessons_started,
        countif(p.completed_at is not null) as lessons_completed,
        countif(p.completed_at is not null and cs.is_required) as required_completed,
        sum(ifnull(p.watch_seconds, 0)) / 3600 as hours_watched,
        max(if(p.completed_at is not null, cs.lesson_seq, 0)) as furthest_lesson_seq,
        min(if(p.completed_at is null, cs.lesson_seq, null)) as first_incomplete_seq,
        max(p.completed_at) as last_completion_at,
        max(coalesce(p.completed_at, p.started_at)) as last_activity_at
    from enrolments e
    join course_structure cs using (course_id)
    left join progress p
      on p.enrolment_id = e.enrolment_id
     and p.lesson_id = cs.lesson_id
    group by 1, 2, 3, 4, 5, 6, 7
),

classified as (
    select
        pe.*,
        q.quizzes_attempted,
        q.quizzes_passed,
        q.avg_quiz_score,
        q.max_attempts_on_a_quiz,
        c.certificate_issued_at,
        pe.required_completed = pe.required_total as completed_course,
        timestamp_diff(c.certificate_issued_at, pe.enrolled_at, day) as days_to_certificate,
        case
            when pe.required_completed = pe.required_total then 'completed'
            when pe.lessons_started = 0 then 'never_started'
            when timestamp_diff(current_timestamp(), pe.last_activity_at, day) > 21 then 'stalled'
            else 'in_progress'
        end as status
    from per_enrolment pe
    left join quiz q using (enrolment_id)
    left join certificates c using (enrolment_id)
)

select
    cohort_week,
    course_id,
    any_value(course_title) as course_title,
    any_value(category) as category,
    is_paid,
    count(*) as enrolments,
    countif(status = 'never_started') as never_started,
    countif(status = 'in_progress') as in_progress,
    countif(status = 'stalled') as stalled,
    countif(status = 'completed') as completed,
    round(safe_divide(countif(status = 'completed'), count(*)), 4) as completion_rate,
    round(safe_divide(countif(certificate_issued_at is not null), countif(status = 'completed')), 4) as certificate_rate,
    round(avg(safe_divide(lessons_completed, lessons_total)), 4) as avg_progress,
    round(avg(hours_watched), 2) as avg_hours_watched,
    approx_quantiles(days_to_certificate, 100 ignore nulls)[offset(50)] as p50_days_to_certificate,
    round(avg(avg_quiz_score), 1) as avg_quiz_score,
    round(safe_divide(sum(quizzes_passed), sum(quizzes_attempted)), 4) as quiz_pass_rate,
    -- where do stalled learners stop?
    approx_top_count(if(status = 'stalled', first_incomplete_seq, null), 3) as top_stall_lessons,
    approx_top_count(source, 3) as top_sources,
    -- paid vs free learners behave very differently; expose a few extra splits
    countif(status = 'completed' and days_to_certificate <= 14) as completed_within_2w,
    round(avg(if(status = 'stalled', safe_divide(lessons_completed, lessons_total), null)), 4) as avg_progress_when_stalled,
    round(avg(if(status = 'stalled', timestamp_diff(current_timestamp(), last_activity_at, day), null)), 1) as avg_days_inactive_when_stalled,
    countif(quizzes_attempted > 0 and quizzes_passed = 0) as failed_all_quizzes,
    countif(max_attempts_on_a_quiz >= 3) as learners_retrying_quizzes,
    round(avg(furthest_lesson_seq), 1) as avg_furthest_lesson
from classified
group by cohort_week, course_id, is_paid
having enrolments >= 20
order by cohort_week desc, enrolments desc
