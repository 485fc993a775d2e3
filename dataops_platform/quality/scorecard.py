"""``curated/quality_scorecard``: one row per dataset a team can put on a dashboard.

Share of rows passing (cleaned / delivered), share of checks passing (the latest recorded
evaluation of every file check, from the Dagster instance), and freshness (time since
the last delivery against the contract's ``freshness``). It is rebuilt whenever any
cleaned table changes, and built from whatever datasets have data. It is served like the
marts (``serving/curated/quality_scorecard.parquet`` and ``views.sql``) so a dashboard can
read it without opening the warehouse; not being published through write-audit-publish
(it must show failures, not be held back by them), its files are numbered on per build.
"""

from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from dataops_platform.contracts.model import Contract, parse_duration
from dataops_platform.quality.check_history import evaluation_of, latest_records
from dataops_platform.quality.checks import file_check_keys, ledger_totals
from dataops_platform.storage import serving
from dataops_platform.storage.sql import fetch_one, table, table_exists
from dataops_platform.storage.warehouse import POOL, Warehouse
from dataops_platform.transform.wap import ServingArea

SCORECARD_KEY = dg.AssetKey(["curated", "quality_scorecard"])
ANY_UPSTREAM_TAG = "dataops/upstream"  # "any": runs once some upstream has data, not all


def freshness_status(contract: Contract, hours_since: float | None) -> str:
    """'fresh' / 'late' (past warn_after) / 'stale' (past fail_after) / 'no policy' / 'no data'."""
    if hours_since is None:
        return "no data"
    policy = contract.freshness
    if policy is None:
        return "no policy"
    if hours_since * 3600 > parse_duration(policy.fail_after).total_seconds():
        return "stale"
    if policy.warn_after and hours_since * 3600 > parse_duration(policy.warn_after).total_seconds():
        return "late"
    return "fresh"


def check_tally(instance: dg.DagsterInstance, contract: Contract,
                partitions: list[str]) -> dict[str, int]:
    """Latest evaluation of each file check of each current file: run / passed / failed."""
    keys = file_check_keys(contract)
    tally = {"checks_run": 0, "checks_passed": 0, "error_failures": 0, "warn_failures": 0}
    for partition in partitions:
        for record in latest_records(instance, keys, partition).values():
            evaluation = evaluation_of(record)
            if evaluation is None:
                continue
            tally["checks_run"] += 1
            if evaluation.passed:
                tally["checks_passed"] += 1
            elif evaluation.severity is dg.AssetCheckSeverity.ERROR:
                tally["error_failures"] += 1
            else:
                tally["warn_failures"] += 1
    return tally


def _last_delivery(conn: duckdb.DuckDBPyConnection, contract: Contract) -> datetime | None:
    if not table_exists(conn, "raw", contract.name):
        return None
    value = fetch_one(conn, f"select max(_ingested_at) from {table('raw', contract.name)}")[0]
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def scorecard_rows(conn: duckdb.DuckDBPyConnection, instance: dg.DagsterInstance,
                   contracts: list[Contract], now: datetime) -> pd.DataFrame:
    rows = []
    for contract in contracts:
        totals = ledger_totals(conn, contract)
        partitions = [r[0] for r in conn.execute(
            f"select distinct _partition from {table('raw', contract.name)} order by 1").fetchall()
        ] if table_exists(conn, "raw", contract.name) else []
        tally = check_tally(instance, contract, partitions)
        last = _last_delivery(conn, contract)
        hours = round((now - last).total_seconds() / 3600, 2) if last else None
        rows.append({
            "dataset": contract.name,
            "owner": contract.owner,
            "files": totals["files"],
            "rows_in": totals["raw"],
            "rows_cleaned": totals["cleaned"],
            "rows_quarantined": totals["quarantined"],
            "rows_duplicates": totals["duplicates"],
            "row_pass_rate": round(totals["cleaned"] / totals["raw"], 4) if totals["raw"] else None,
            **tally,
            "check_pass_rate": round(tally["checks_passed"] / tally["checks_run"], 4)
            if tally["checks_run"] else None,
            "last_delivery": last.replace(tzinfo=None) if last else None,
            "hours_since_delivery": hours,
            "freshness": freshness_status(contract, hours),
        })
    return pd.DataFrame(rows)


def build_scorecard(contracts: list[Contract], deps: list[dg.AssetKey]) -> dg.AssetsDefinition:
    @dg.asset(
        key=SCORECARD_KEY,
        deps=deps,
        group_name="quality",
        kinds={"duckdb", "pandas"},
        pool=POOL,
        tags={"layer": "curated", ANY_UPSTREAM_TAG: "any"},
        automation_condition=dg.AutomationCondition.eager().without(
            ~dg.AutomationCondition.any_deps_missing()),
        description="Per dataset: share of rows passing (cleaned / delivered), share of the "
                    "files' checks passing (latest evaluations), failures by severity, and "
                    "freshness of the last delivery against the contract.",
    )
    def quality_scorecard(context: dg.AssetExecutionContext,
                          warehouse: Warehouse, serving_area: ServingArea) -> dg.Output[pd.DataFrame]:
        with warehouse.get_connection() as conn:
            frame = scorecard_rows(conn, context.instance, contracts, datetime.now(UTC))
            served = serving.export_frame(conn, Path(serving_area.root), SCORECARD_KEY.path[0],
                                          SCORECARD_KEY.path[1], frame,
                                          keep=serving_area.keep_versions)
        metadata: dict = {
            "dagster/row_count": len(frame),
            "serving_file": str(served) if served else None,
            "scorecard": dg.MetadataValue.md(frame.astype(str).to_markdown(index=False)),
        }
        for row in frame.itertuples():  # plottable per dataset over time
            if row.row_pass_rate is not None:
                metadata[f"{row.dataset}/row_pass_rate"] = float(row.row_pass_rate)
            if row.check_pass_rate is not None:
                metadata[f"{row.dataset}/check_pass_rate"] = float(row.check_pass_rate)
        return dg.Output(frame, metadata=metadata)

    return quality_scorecard
