-- Monthly rating trend per country for the fitness app (Play Console ratings transfer).
-- Daily_Average_Rating is weighted by the cumulative rating to damp days with few ratings.
select
    date_trunc(Date, month) as month,
    Country as country,
    round(sum(Daily_Average_Rating * Total_Average_Rating) / nullif(sum(Total_Average_Rating), 0), 3) as weighted_daily_rating,
    max_by(Total_Average_Rating, Date) as total_rating_eom,
    min(Daily_Average_Rating) as worst_day_rating,
    max(Daily_Average_Rating) as best_day_rating,
    countif(Daily_Average_Rating < 3) as days_below_3_stars,
    count(*) as days_reported
from app_store.p_Ratings_country_v1
where Package_Name = 'com.example.fitnesstracker'
  and Date between '2024-01-01' and '2024-12-31'
  and Daily_Average_Rating is not null
  -- countries with very low volume produce noisy ratings
  and Country not in ('VA', 'AQ')
group by 1, 2
having days_reported >= 10
order by month, weighted_daily_rating desc
