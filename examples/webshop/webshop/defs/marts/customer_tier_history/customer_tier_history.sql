with o as (
    select * from cleaned.orders
         qualify row_number() over (partition by order_id
                                    order by _ingested_at desc, _row_number desc) = 1
), c as (
    select * from cleaned.customers
         qualify row_number() over (partition by customer_id
                                    order by _ingested_at desc, _row_number desc) = 1
)
select c.customer_id,
       case when sum(o.amount) >= 2500 then 'gold' when sum(o.amount) >= 1000 then 'silver'
            else 'bronze' end as value_tier,
       (select max(_ingested_at) from (select _ingested_at from cleaned.orders union all
                                       select _ingested_at from cleaned.customers)) as as_of
from o join c using (customer_id)
where coalesce(o.status, 'placed') not in ('cancelled', 'returned')
group by c.customer_id
