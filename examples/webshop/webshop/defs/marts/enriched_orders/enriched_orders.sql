-- cleaned.<dataset> holds one partition per landed file, so an order may appear in several
-- deliveries: keep the latest version of each order, customer and product.
with o as (
    select * from cleaned.orders
         qualify row_number() over (partition by order_id
                                    order by _ingested_at desc, _row_number desc) = 1
), c as (
    select * from cleaned.customers
         qualify row_number() over (partition by customer_id
                                    order by _ingested_at desc, _row_number desc) = 1
), p as (
    select * from cleaned.products
         qualify row_number() over (partition by sku order by _ingested_at desc, _row_number desc) = 1
)
select o.order_id, o.ordered_at, cast(o.ordered_at as date) as order_date, o.status,
       o.customer_id, c.first_name, c.last_name, c.country, c.segment,
       o.product_sku, p.name as product_name, p.category,
       o.quantity, o.amount, o.currency,
       c.customer_id is null as unknown_customer, p.sku is null as unknown_product,
       o._source_file, o._row_number, o._partition, o._run_id   -- lineage: `dataops trace`
from o left join c using (customer_id) left join p on p.sku = o.product_sku
order by o.ordered_at, o.order_id
