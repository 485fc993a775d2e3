"""Curated demo marts: hand-written DuckDB SQL over cleaned tables.

Copy this file to write your own. Each mart is one ``published_table`` call
(``transform/wap.py``): a name, its upstream assets, and either a SQL ``select`` or a
function returning a pandas DataFrame (as ``customer_lifetime_value`` does, validated by a
static pandera ``DataFrameModel``), plus its audit checks. The factory makes it a
write-audit-publish pair: ``audit/<mart>`` writes a candidate version, the checks audit it
(blocking), and ``curated/<mart>`` publishes it by an atomic swap — ``curated.<mart>`` is
what users query, and ``dataops rollback curated.<mart>`` restores the previous version.

``customer_tier_history`` is incremental (``write=Write(mode="history", ...)``): its
select is a batch applied to the published version, see the comment above it.

Cleaned tables hold one partition per landed file, so a customer may appear in several
snapshots and an order in several deliveries: the marts keep the latest version of each.
"""


import dagster as dg
import duckdb
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from dataops_platform.contracts.model import Write
from dataops_platform.storage.sql import fetch_one
from dataops_platform.transform.wap import (  # noqa: F401  (CURATED_AUTOMATION: re-exported)
    CURATED_AUTOMATION,
    AuditCheck,
    PublishedTable,
    published_table,
    unique_key,
)

CLEANED = {name: dg.AssetKey(["cleaned", name]) for name in ("orders", "customers", "products")}

LATEST_ORDERS = """
    select * from cleaned.orders
    qualify row_number() over (partition by order_id
                               order by _ingested_at desc, _row_number desc) = 1
"""
LATEST_CUSTOMERS = """
    select * from cleaned.customers
    qualify row_number() over (partition by customer_id
                               order by _ingested_at desc, _row_number desc) = 1
"""
LATEST_PRODUCTS = """
    select * from cleaned.products
    qualify row_number() over (partition by sku order by _ingested_at desc, _row_number desc) = 1
"""


def _known_customers(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
    total, unknown = fetch_one(conn, f"select count(*), count_if(unknown_customer) from {relation}")
    rate = unknown / total if total else 0.0
    return rate <= 0.05, {"orders": total, "unknown_customer": unknown, "rate": round(rate, 4)}


known_customers = AuditCheck("known_customers", "at most 5% of orders have a customer unknown "
                             "to the CRM.", _known_customers)


def _sql_mart(name: str, deps: list[str], description: str, sql: str,
              checks: list[AuditCheck], write: Write | None = None) -> PublishedTable:
    return published_table(name, deps=[CLEANED[d] for d in deps], description=description,
                           sql=sql, checks=checks, write=write)


enriched_orders = _sql_mart(
    "enriched_orders", ["orders", "customers", "products"],
    "Orders with their customer and product; unknown customers/products kept and flagged.",
    f"""
    with o as ({LATEST_ORDERS}), c as ({LATEST_CUSTOMERS}), p as ({LATEST_PRODUCTS})
    select o.order_id, o.ordered_at, cast(o.ordered_at as date) as order_date, o.status,
           o.customer_id, c.first_name, c.last_name, c.country, c.segment,
           o.product_sku, p.name as product_name, p.category,
           o.quantity, o.amount, o.currency,
           c.customer_id is null as unknown_customer, p.sku is null as unknown_product,
           o._source_file, o._row_number, o._partition, o._run_id   -- lineage: `dataops trace`
    from o left join c using (customer_id) left join p on p.sku = o.product_sku
    order by o.ordered_at, o.order_id
    """,
    [unique_key("order_id"), known_customers],
)

daily_revenue = _sql_mart(
    "daily_revenue", ["orders"],
    "Revenue per day and currency from orders that were not cancelled or returned.",
    f"""
    with o as ({LATEST_ORDERS})
    select cast(ordered_at as date) as order_date, currency,
           count(*) as orders, sum(quantity) as items, sum(amount) as revenue
    from o where coalesce(status, 'placed') not in ('cancelled', 'returned')
    group by all order by order_date, currency
    """,
    [unique_key("order_date", "currency")],
    # partition mode: each build replaces the days it computed and keeps the others, so a
    # day whose order files retention pruned keeps its revenue
    write=Write(mode="partition", partition_by=["order_date"]),
)


class CustomerLifetimeValue(pa.DataFrameModel):
    """Static contract of the CLV mart: the pattern for validating hand-written outputs."""

    customer_id: Series[int] = pa.Field(ge=1, unique=True)
    orders: Series[int] = pa.Field(ge=1)
    lifetime_value: Series[float] = pa.Field(ge=0)
    first_order_at: Series[pd.Timestamp]
    last_order_at: Series[pd.Timestamp]

    class Config:
        strict = False
        coerce = True


def _customer_lifetime_value(conn: duckdb.DuckDBPyConnection) -> pd.DataFrame:
    frame = conn.execute(f"""
        with o as ({LATEST_ORDERS}), c as ({LATEST_CUSTOMERS})
        select c.customer_id, c.first_name, c.last_name, c.country,
               count(*) as orders, cast(sum(o.amount) as double) as lifetime_value,
               min(o.ordered_at) as first_order_at, max(o.ordered_at) as last_order_at
        from o join c using (customer_id)
        where coalesce(o.status, 'placed') not in ('cancelled', 'returned')
        group by all order by lifetime_value desc
    """).fetchdf()
    return CustomerLifetimeValue.validate(frame)


customer_lifetime_value = published_table(
    "customer_lifetime_value", deps=[CLEANED["orders"], CLEANED["customers"]],
    kinds=frozenset({"duckdb", "pandas", "pandera"}), frame=_customer_lifetime_value,
    checks=[unique_key("customer_id")],
    description="Per known customer: completed orders, first and last order time and "
                "lifetime value (sum of amounts; the demo ignores currency conversion).")



def _one_current_version(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
    keys, current, broken = fetch_one(conn, f"""
        select count(*), coalesce(sum(n), 0), coalesce(count_if(n <> 1), 0) from
        (select customer_id, count_if(is_current) as n from {relation} group by 1)""")
    return broken == 0, {"customers": keys, "current_versions": int(current),
                         "customers_without_exactly_one": broken}


one_current_version = AuditCheck(
    "one_current_version", "every customer has exactly one current version (is_current).",
    _one_current_version)

# An incremental mart (write mode history). A customer's value tier is *derived*: no source
# keeps its past (cleaned orders and customers only hold what was delivered, and retention
# prunes old files), so a full recomputation could only ever say what the tier is now. In
# history mode each publish applies today's tiers as a batch to the published version: a
# customer whose tier changed gets a new version valid from ``as_of`` (the newest delivery
# the tiers were computed from, so re-running the same inputs changes nothing, and a rebuild
# from the lake gives the same dates); the old version is closed (valid_to, is_current).
customer_tier_history = published_table(
    "customer_tier_history", deps=[CLEANED["orders"], CLEANED["customers"]],
    write=Write(mode="history", key=["customer_id"], order_by="as_of"),
    checks=[unique_key("customer_id", "valid_from"), one_current_version],
    description="Each known customer's value tier (bronze / silver >= 1,000 / gold >= 2,500 "
                "in completed orders) over time, SCD type 2: one row per change, with "
                "valid_from, valid_to and is_current.",
    sql=f"""
    with o as ({LATEST_ORDERS}), c as ({LATEST_CUSTOMERS})
    select c.customer_id,
           case when sum(o.amount) >= 2500 then 'gold' when sum(o.amount) >= 1000 then 'silver'
                else 'bronze' end as value_tier,
           (select max(_ingested_at) from (select _ingested_at from cleaned.orders union all
                                           select _ingested_at from cleaned.customers)) as as_of
    from o join c using (customer_id)
    where coalesce(o.status, 'placed') not in ('cancelled', 'returned')
    group by c.customer_id
    """)

MARTS = [enriched_orders, daily_revenue, customer_lifetime_value, customer_tier_history]


def curated_assets() -> list[dg.AssetsDefinition]:
    return [a for mart in MARTS for a in mart.assets]


def curated_checks() -> list[dg.AssetChecksDefinition]:
    return [c for mart in MARTS for c in mart.checks]
