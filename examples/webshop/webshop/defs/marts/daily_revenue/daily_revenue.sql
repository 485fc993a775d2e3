with o as (
    select * from cleaned.orders
         qualify row_number() over (partition by order_id
                                    order by _ingested_at desc, _row_number desc) = 1
)
select cast(ordered_at as date) as order_date, currency,
       count(*) as orders, sum(quantity) as items, sum(amount) as revenue
from o where coalesce(status, 'placed') not in ('cancelled', 'returned')
group by all order by order_date, currency
