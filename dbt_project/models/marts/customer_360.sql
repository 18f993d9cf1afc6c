-- One row per current customer: profile, lifetime completed orders, model features and label.
with lifetime as (
    select
        customer_id,
        count(*) as lifetime_orders,
        cast(sum(amount) as decimal(18, 2)) as lifetime_revenue,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date
    from {{ source('silver', 'orders') }}
    where status = 'completed'
    group by customer_id
)
select
    c.customer_id,
    c.name,
    c.email,
    c.country,
    c.segment,
    coalesce(l.lifetime_orders, 0) as lifetime_orders,
    coalesce(l.lifetime_revenue, cast(0 as decimal(18, 2))) as lifetime_revenue,
    l.first_order_date,
    l.last_order_date,
    f.recency_days,
    f.sessions,
    f.page_views,
    f.churned
from {{ source('silver', 'customers') }} as c
left join lifetime as l on c.customer_id = l.customer_id
left join {{ source('gold', 'customer_features') }} as f on c.customer_id = f.customer_id
