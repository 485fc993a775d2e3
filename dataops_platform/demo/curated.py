"""Curated demo marts: hand-written DuckDB SQL over cleaned tables.

Copy this file to write your own. The pattern: an ``@dg.asset`` under the ``curated``
prefix that depends on cleaned assets, runs SQL through the ``warehouse`` resource into a
staging table and returns ``StagedTables`` (the IO manager publishes it atomically, by
column name). Small results may be returned as a pandas DataFrame instead, as
``customer_lifetime_value`` does, validated by a static pandera ``DataFrameModel``.

Cleaned tables hold one partition per landed file, so a customer may appear in several
snapshots and an order in several deliveries: the marts keep the latest version of each.
"""


import dagster as dg
import pandas as pd
import pandera.pandas as pa
from pandera.typing import Series

from dataops_platform.storage.io_manager import StagedTables
from dataops_platform.storage.metadata import column_schema, count, preview, staging_name
from dataops_platform.storage.warehouse import POOL, Warehouse

CLEANED = {name: dg.AssetKey(["cleaned", name]) for name in ("orders", "customers", "products")}

# Run as soon as anything upstream changed once every upstream table has some data, even
# if some file's partition failed (a malformed file must not hold every later delivery
# back from the marts, as eager()'s "no dependency partition missing" rule would) — but
# never while a file upstream has a failed *blocking* check (rows lost, totals altered, a
# contract-declared error): that data must not reach the marts until it is fixed.
CURATED_AUTOMATION = dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
) & dg.AutomationCondition.all_deps_match(~dg.AutomationCondition.missing()) & ~(
    dg.AutomationCondition.any_deps_match(dg.AutomationCondition.any_checks_match(
        dg.AutomationCondition.check_failed(), blocking_only=True))
).with_label("no_upstream_blocking_check_failed")

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


def _sql_mart(name: str, deps: list[str], description: str, sql: str) -> dg.AssetsDefinition:
    @dg.asset(
        key=["curated", name],
        deps=[CLEANED[d] for d in deps],
        group_name="shop",
        kinds={"duckdb", "sql"},
        pool=POOL,
        tags={"layer": "curated"},
        automation_condition=CURATED_AUTOMATION,
        description=description,
    )
    def mart(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.Output[StagedTables]:
        staged = staging_name("curated", name)
        with warehouse.get_connection() as conn:
            conn.execute(f"create or replace table {staged} as {sql}")
            metadata = {
                "dagster/row_count": count(conn, staged),
                "dagster/column_schema": column_schema(conn, staged),
                "preview": preview(conn, staged),
            }
        return dg.Output(StagedTables(main=staged), metadata=metadata)

    return mart


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


@dg.asset(
    key=["curated", "customer_lifetime_value"],
    deps=[CLEANED["orders"], CLEANED["customers"]],
    group_name="shop",
    kinds={"duckdb", "pandas", "pandera"},
    pool=POOL,
    tags={"layer": "curated"},
    automation_condition=CURATED_AUTOMATION,
    description="Per known customer: completed orders, first and last order time and "
                "lifetime value (sum of amounts; the demo ignores currency conversion).",
)
def customer_lifetime_value(warehouse: Warehouse) -> dg.Output[pd.DataFrame]:
    with warehouse.get_connection() as conn:
        frame = conn.execute(f"""
            with o as ({LATEST_ORDERS}), c as ({LATEST_CUSTOMERS})
            select c.customer_id, c.first_name, c.last_name, c.country,
                   count(*) as orders, cast(sum(o.amount) as double) as lifetime_value,
                   min(o.ordered_at) as first_order_at, max(o.ordered_at) as last_order_at
            from o join c using (customer_id)
            where coalesce(o.status, 'placed') not in ('cancelled', 'returned')
            group by all order by lifetime_value desc
        """).fetchdf()
    frame = CustomerLifetimeValue.validate(frame)
    return dg.Output(frame, metadata={
        "dagster/row_count": len(frame),
        "dagster/column_schema": dg.TableSchema(columns=[
            dg.TableColumn(str(n), str(t)) for n, t in frame.dtypes.items()]),
        "preview": dg.MetadataValue.md(frame.head().astype(str).to_markdown(index=False)),
    })


def curated_assets() -> list[dg.AssetsDefinition]:
    return [enriched_orders, daily_revenue, customer_lifetime_value]


@dg.asset_check(asset=enriched_orders, blocking=False, pool=POOL,
                description="Share of orders whose customer is unknown to the CRM.")
def known_customers(warehouse: Warehouse) -> dg.AssetCheckResult:
    with warehouse.get_connection() as conn:
        total, unknown = conn.execute(
            "select count(*), count_if(unknown_customer) from curated.enriched_orders"
        ).fetchone()
    rate = unknown / total if total else 0.0
    return dg.AssetCheckResult(passed=rate <= 0.05, severity=dg.AssetCheckSeverity.WARN,
                               metadata={"orders": total, "unknown_customer": unknown,
                                         "rate": round(rate, 4)})


def curated_checks() -> list[dg.AssetChecksDefinition]:
    return [known_customers]
