"""customer_lifetime_value: validated by a static pandera model, the pattern for checking
hand-written outputs."""

import duckdb
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series


class CustomerLifetimeValue(pa.DataFrameModel):
    customer_id: Series[int] = pa.Field(ge=1, unique=True)
    orders: Series[int] = pa.Field(ge=1)
    lifetime_value: Series[float] = pa.Field(ge=0)
    first_order_at: Series[pd.Timestamp]
    last_order_at: Series[pd.Timestamp]

    class Config:
        strict = False
        coerce = True


def customer_lifetime_value(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = conn.execute("""
        with o as (
            select * from cleaned.orders
         qualify row_number() over (partition by order_id
                                    order by _ingested_at desc, _row_number desc) = 1
        ), c as (
            select * from cleaned.customers
         qualify row_number() over (partition by customer_id
                                    order by _ingested_at desc, _row_number desc) = 1
        )
        select c.customer_id, c.first_name, c.last_name, c.country,
               count(*) as orders, cast(sum(o.amount) as double) as lifetime_value,
               min(o.ordered_at) as first_order_at, max(o.ordered_at) as last_order_at
        from o join c using (customer_id)
        where coalesce(o.status, 'placed') not in ('cancelled', 'returned')
        group by all order by lifetime_value desc
    """).fetchdf()
    return CustomerLifetimeValue.validate(frame)
