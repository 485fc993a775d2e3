"""Published tables through write-audit-publish: the factory a mart author calls.

``published_table(name, sql=... | frame=..., checks=[...])`` compiles one table into
- ``audit/<name>``: the *candidate* asset. It writes a new version of the table
  (``publish."<schema>__<name>__v<N>"``, shown as the view ``audit.<name>``) and records
  the version in its materialization (metadata ``version`` and the Dagster data version
  ``v<N>``);
- the table's audit checks as **blocking** ERROR checks on the candidate: each evaluates
  ``audit.<name>``, records its verdict for that version in ``publish.audits`` and carries
  the ``version`` it audited in its metadata (Dagster links the evaluation to the
  candidate materialization it followed);
- ``<schema>/<name>`` (default ``curated/<name>``): the *publish* asset, downstream of the
  candidate. Dagster skips it when a blocking check fails in the same run (and the
  automation condition holds it while the latest audit has failed); when it runs it
  verifies that every audit check passed on that very version, swaps it in atomically
  (``storage/publish.py``) and exports the serving copy (``storage/serving.py``).

Users keep querying ``curated.<name>``; ``dataops rollback curated.<name>`` restores the
previous version instantly. With ``write=Write(mode=...)`` the candidate is the published
version with the select applied as a batch by that write mode (``incremental.py``).
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import duckdb
import pandas as pd

from dataops_platform.contracts.model import Write
from dataops_platform.storage import publish, serving
from dataops_platform.storage.metadata import code_reference, column_schema, preview, table_name
from dataops_platform.storage.sql import fetch_one, quote_ident
from dataops_platform.storage.warehouse import POOL, Warehouse
from dataops_platform.transform import incremental

PUBLISHES_TAG = "dataops/publishes"  # on a candidate asset: "<schema>.<table>" it is a candidate for
# On a run (the `dataops check` gate's job): audit checks evaluate the *published* version
# (what users query) instead of the latest candidate, and record no verdict.
AUDIT_TARGET_TAG = "dataops/audit_target"
AUDIT_PUBLISHED = "published"


def published_key(tag_value: str) -> dg.AssetKey:
    return dg.AssetKey(tag_value.split("."))

# Run as soon as anything upstream changed once every upstream table has some data, even
# if some file's partition failed (a malformed file must not hold every later delivery
# back from the marts, as eager()'s "no dependency partition missing" rule would) — but
# never while a file upstream has a failed *blocking* check (rows lost, totals altered, a
# contract-declared error): that data must not reach the marts until it is fixed.
NO_BLOCKING_FAILURE_UPSTREAM = ~(
    dg.AutomationCondition.any_deps_match(dg.AutomationCondition.any_checks_match(
        dg.AutomationCondition.check_failed(), blocking_only=True))
).with_label("no_upstream_blocking_check_failed")
# A candidate is rebuilt when its inputs change or its declaration does (the code version of a
# declared mart is a hash of its YAML and SQL), once every input has data.
CURATED_AUTOMATION = (dg.AutomationCondition.eager().without(
    ~dg.AutomationCondition.any_deps_missing()
) | dg.AutomationCondition.code_version_changed()) \
    & dg.AutomationCondition.all_deps_match(~dg.AutomationCondition.missing()) \
    & NO_BLOCKING_FAILURE_UPSTREAM
# The publish step follows its candidate (in the same run), never after a failed audit.
PUBLISH_AUTOMATION = dg.AutomationCondition.eager() & NO_BLOCKING_FAILURE_UPSTREAM


class ServingArea(dg.ConfigurableResource):
    """Where published tables are exported as Parquet for readers ($DATAOPS_HOME/serving),
    and how many published versions each table keeps (tables and serving files): a reader
    holding an older views.sql can read its version through ``keep_versions - 1`` publishes."""

    root: str
    keep_versions: int = publish.KEEP_VERSIONS


@dataclass(frozen=True)
class AuditCheck:
    """A check a candidate version must pass before it is published.

    ``evaluate(conn, relation)`` gets a connection and the candidate's relation name
    (``audit.<table>``) and returns (passed, metadata).
    """

    name: str
    description: str
    evaluate: Callable[[duckdb.DuckDBPyConnection, str], tuple[bool, dict]]


def unique_key(*columns: str) -> AuditCheck:
    """Audit: the columns identify a row — no two rows share a key (null counts as a value;
    rows with a null in the key are counted in the metadata)."""
    cols = ", ".join(quote_ident(c) for c in columns)
    nulls = " or ".join(f"{quote_ident(c)} is null" for c in columns)

    def evaluate(conn: duckdb.DuckDBPyConnection, relation: str) -> tuple[bool, dict]:
        repeated = int(fetch_one(conn, f"select count(*) from (select {cols} from {relation} "
                                       "group by all having count(*) > 1)")[0])
        null_keys = int(fetch_one(conn, f"select count(*) from {relation} where {nulls}")[0])
        return repeated == 0, {"key": ", ".join(columns),
                                                   "repeated_keys": repeated, "null_keys": null_keys}

    return AuditCheck("unique_key", f"({', '.join(columns)}) identifies a row: no repeated key.",
                      evaluate)


@dataclass(frozen=True)
class PublishedTable:
    schema: str
    name: str
    candidate: dg.AssetsDefinition
    published: dg.AssetsDefinition
    checks: list[dg.AssetChecksDefinition]

    @property
    def assets(self) -> list[dg.AssetsDefinition]:
        return [self.candidate, self.published]


def _audit(candidate_key: dg.AssetKey, schema: str, name: str,
           check: AuditCheck) -> dg.AssetChecksDefinition:
    @dg.asset_check(asset=candidate_key, name=check.name, blocking=True, pool=POOL,
                    description=f"Audit before publishing {schema}.{name}: {check.description}")
    def audit(context: dg.AssetCheckExecutionContext, warehouse: Warehouse) -> dg.AssetCheckResult:
        if context.run.tags.get(AUDIT_TARGET_TAG) == AUDIT_PUBLISHED:
            with warehouse.get_connection() as conn:
                return _audit_published(conn, schema, name, check)
        with warehouse.get_connection() as conn:
            version = publish.latest_candidate(conn, schema, name)
            if version is None:
                raise dg.Failure(f"No candidate version of {schema}.{name} to audit.")
            passed, metadata = check.evaluate(conn, f"{publish.AUDIT_SCHEMA}.{quote_ident(name)}")
            publish.record_audit(conn, version, check.name, passed, context.run.run_id)
        return dg.AssetCheckResult(
            passed=passed, severity=dg.AssetCheckSeverity.ERROR,
            description=None if passed else f"version {version.version} of {schema}.{name} is "
            f"not published; inspect it as {publish.AUDIT_SCHEMA}.{name}",
            metadata={**metadata, "version": version.version, "audited_table": version.stored_as,
                      "audited": "candidate"})

    return audit


def _audit_published(conn: duckdb.DuckDBPyConnection, schema: str, name: str,
                     check: AuditCheck) -> dg.AssetCheckResult:
    """The check on the version users query (``<schema>.<name>``), e.g. in ``dataops check``:
    a failed candidate that was never published does not fail the gate, a published version
    that no longer passes does. Not recorded in ``publish.audits`` (those gate publishing)."""
    version = publish.published(conn, schema, name)
    if version is None:
        return dg.AssetCheckResult(
            passed=False, severity=dg.AssetCheckSeverity.ERROR,
            description=f"{schema}.{name} has no published version: there is nothing to query.",
            metadata={"audited": AUDIT_PUBLISHED, "audited_table": f"{schema}.{name}"})
    passed, metadata = check.evaluate(conn, f"{quote_ident(schema)}.{quote_ident(name)}")
    return dg.AssetCheckResult(
        passed=passed, severity=dg.AssetCheckSeverity.ERROR,
        description=None if passed else f"the published version {version.version} of "
        f"{schema}.{name} fails {check.name}",
        metadata={**metadata, "version": version.version, "audited_table": f"{schema}.{name}",
                  "audited": AUDIT_PUBLISHED})


def published_table(
    name: str,
    *,
    deps: Sequence[dg.AssetKey],
    description: str,
    sql: str | None = None,
    frame: Callable[[duckdb.DuckDBPyConnection], pd.DataFrame] | None = None,
    checks: Sequence[AuditCheck] = (),
    schema: str = "curated",
    kinds: frozenset[str] = frozenset({"duckdb", "sql"}),
    automation_condition: dg.AutomationCondition = CURATED_AUTOMATION,
    write: Write | None = None,
    owners: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
    declared_in: Path | None = None,
    code_version: str | None = None,
) -> PublishedTable:
    """One table published through write-audit-publish: give ``sql`` (a select over the
    warehouse) or ``frame`` (a function of a connection returning a DataFrame).

    Without ``write`` each candidate is the select's full result; with it (e.g.
    ``Write(mode="merge", key=["id"], order_by="updated_at")``) the select is a batch
    applied to the published version by that write mode (``incremental.py``).
    """
    if (sql is None) == (frame is None):
        raise ValueError(f"published_table('{name}'): give exactly one of sql= or frame=.")
    if write is not None:
        incremental.validate(name, write)
    candidate_key = dg.AssetKey([publish.AUDIT_SCHEMA, name])
    check_names = [c.name for c in checks]
    duplicated = sorted({n for n in check_names if check_names.count(n) > 1})
    if duplicated:
        raise ValueError(f"published_table('{name}'): two audit checks are named {duplicated}")
    extra_tags = dict(tags or {})
    metadata = code_reference(declared_in)

    @dg.asset(key=candidate_key, deps=list(deps), group_name=publish.AUDIT_SCHEMA, kinds=set(kinds),
              pool=POOL, tags={**extra_tags, "layer": publish.AUDIT_SCHEMA,
                               PUBLISHES_TAG: f"{schema}.{name}"},
              owners=list(owners), metadata={**metadata, **table_name(publish.AUDIT_SCHEMA, name)},
              automation_condition=automation_condition, code_version=code_version,
              description=f"Candidate version of {schema}.{name}, audited before it is "
                          f"published: {description}")
    def candidate(context: dg.AssetExecutionContext, warehouse: Warehouse) -> dg.MaterializeResult:
        with warehouse.get_connection() as conn:
            if frame is not None:
                conn.register("_dataops_candidate", frame(conn))
            source = sql or "_dataops_candidate"
            write_mode: dict = {}
            if write is None:
                version = publish.write_candidate(conn, schema, name, source, context.run.run_id)
            else:
                try:
                    version, base = incremental.write_candidate(conn, schema, name, write, source,
                                                                context.run.run_id)
                except ValueError as exc:
                    raise dg.Failure(str(exc)) from exc
                write_mode = {"write_mode": write.mode.value,
                              "built_on_version": base.version if base else None}
            metadata = {
                "version": version.version,
                **write_mode,
                "stored_as": version.stored_as,
                "dagster/row_count": version.row_count,
                "dagster/column_schema": column_schema(conn, version.stored_as),
                "preview": preview(conn, version.stored_as),
            }
        return dg.MaterializeResult(metadata=metadata,
                                    data_version=dg.DataVersion(f"v{version.version}"))

    @dg.asset(key=[schema, name], deps=[candidate_key], group_name=schema, kinds=set(kinds),
              pool=POOL, tags={**extra_tags, "layer": schema}, owners=list(owners),
              metadata={**metadata, **table_name(schema, name)},
              automation_condition=PUBLISH_AUTOMATION, description=description)
    def published(context: dg.AssetExecutionContext, warehouse: Warehouse,
                  serving_area: ServingArea) -> dg.MaterializeResult:
        with warehouse.get_connection() as conn:
            try:
                swap = publish.publish_candidate(conn, schema, name, check_names, context.run.run_id,
                                                 keep=serving_area.keep_versions)
            except publish.PublishError as exc:
                raise dg.Failure(str(exc)) from exc
            serving.sync(conn, Path(serving_area.root))
            v = swap.version
            metadata = {
                "version": v.version,
                "replaced_version": swap.replaced.version if swap.replaced else None,
                "stored_as": v.stored_as,
                "dagster/row_count": v.row_count,
                "dagster/column_schema": column_schema(conn, v.stored_as),
                "serving_file": str(serving.serving_file(Path(serving_area.root), schema, name)),
            }
        if not swap.changed:
            context.log.info(f"version {v.version} of {schema}.{name} was published already")
        return dg.MaterializeResult(metadata=metadata, data_version=dg.DataVersion(f"v{v.version}"))

    return PublishedTable(schema, name, candidate, published,
                          [_audit(candidate_key, schema, name, c) for c in checks])
