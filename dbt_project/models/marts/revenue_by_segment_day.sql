-- Completed-order revenue per customer segment and day.
-- Orders of customers that no longer exist (deleted) drop out with the inner join.
select
    c.segment,
    o.order_date,
    count(*) as orders,
    count(distinct o.customer_id) as customers,
    cast(sum(o.amount) as decimal(18, 2)) as revenue
from {{ source('silver', 'orders') }} as o
join {{ source('silver', 'customers') }} as c
    on o.customer_id = c.customer_id
where o.status = 'completed'
group by c.segment, o.order_date
