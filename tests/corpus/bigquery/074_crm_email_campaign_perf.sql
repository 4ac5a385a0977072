select
  c.campaign_id,
  c.campaign_name,
  c.sent_at,
  count(distinct s.recipient_id) as recipients,
  count(distinct if(e.event_type = 'delivered', e.recipient_id, null)) as delivered,
  count(distinct if(e.event_type = 'open' and not e.is_machine_open, e.recipient_id, null)) as unique_opens,
  count(distinct if(e.event_type = 'click', e.recipient_id, null)) as unique_clicks,
  count(distinct if(e.event_type = 'unsubscribe', e.recipient_id, null)) as unsubscribes,
  count(distinct if(e.event_type in ('bounce_hard', 'bounce_soft'), e.recipient_id, null)) as bounces,
  round(safe_divide(
    count(distinct if(e.event_type = 'click', e.recipient_id, null)),
    count(distinct if(e.event_type = 'open' and not e.is_machine_open, e.recipient_id, null))
  ), 4) as click_to_open_rate,
  approx_top_count(if(e.event_type = 'click', net.host(e.url), null), 5) as top_click_hosts
from `revops-prod.esp.campaigns` c
join `revops-prod.esp.sends` s using (campaign_id)
left join `revops-prod.esp.email_events` e
  on e.send_id = s.send_id
 and e.event_ts between c.sent_at and timestamp_add(c.sent_at, interval 7 day)
where c.sent_at >= timestamp '2024-01-01'
  and c.campaign_type = 'newsletter'
group by 1, 2, 3
order by c.sent_at desc
