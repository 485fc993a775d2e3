"""`dataops rollback`: swap a published table back to its previous version."""

from __future__ import annotations

import getpass

import dagster as dg

from dataops_platform.settings import Settings
from dataops_platform.storage import publish, serving
from dataops_platform.storage.backends import open_warehouse, warehouse_exists


def parse_table(text: str) -> tuple[str, str]:
    """'curated.x', 'curated/x' or 'x' (curated by default) -> (schema, name)."""
    parts = text.replace("/", ".").split(".")
    if len(parts) == 1:
        return "curated", parts[0]
    if len(parts) == 2 and all(parts):
        return parts[0], parts[1]
    raise ValueError(f"'{text}' is not a table name: use <schema>.<table>, e.g. curated.daily_revenue.")


def run_rollback(settings: Settings, text: str) -> str:
    from dataops_platform.automation.one_pass import prepare_instance

    schema, name = parse_table(text)
    if not warehouse_exists(settings.warehouse):
        raise ValueError("Nothing to roll back: no warehouse in this home (`dataops run` builds it).")
    by = f"dataops rollback ({getpass.getuser()})"
    conn = open_warehouse(settings.warehouse)
    try:
        known = sorted({v.table_name for v in publish.published_tables(conn)})
        if f"{schema}.{name}" not in known:
            raise ValueError(f"{schema}.{name} is not a published table. Published tables: "
                             + (", ".join(known) or "none yet"))
        try:
            swap = publish.rollback(conn, schema, name, by=by)
        except publish.PublishError as exc:
            raise ValueError(str(exc)) from exc
        serving.sync(conn, settings.serving_dir)
    finally:
        conn.close()
    assert swap.replaced is not None
    instance = prepare_instance(settings)
    try:  # the UI's history shows the rollback as the table's latest materialization
        instance.report_runless_asset_event(dg.AssetMaterialization(
            asset_key=[schema, name], description=f"rolled back by {by}",
            metadata={"version": swap.version.version, "replaced_version": swap.replaced.version,
                      "action": "rollback", "dagster/row_count": swap.version.row_count}))
    finally:
        instance.dispose()
    return (f"rolled back {schema}.{name}: version {swap.replaced.version} -> version "
            f"{swap.version.version} ({swap.version.row_count} rows); serving copy updated. "
            f"`dataops rollback {schema}.{name}` again restores version {swap.replaced.version}.")


def render_versions(settings: Settings, text: str) -> str:
    """The versions of a published table: status, rows, audit verdicts (failed ones named)."""
    schema, name = parse_table(text)
    if not warehouse_exists(settings.warehouse):
        raise ValueError("No warehouse in this home yet (`dataops run` builds it).")
    conn = open_warehouse(settings.warehouse)
    try:
        found = publish.versions(conn, schema, name)
        if not found:
            raise ValueError(f"{schema}.{name} has no versions: it is not published through "
                             "write-audit-publish (or has not been built yet).")
        lines = [f"{schema}.{name}: live version = view {schema}.{name}; latest candidate = view "
                 f"{publish.AUDIT_SCHEMA}.{name}"]
        for v in reversed(found):
            verdicts = publish.audit_verdicts(conn, v)
            failed = sorted(c for c, ok in verdicts.items() if not ok)
            audit = (f"audit FAILED: {', '.join(failed)}" if failed
                     else f"audit passed ({len(verdicts)} check(s))" if verdicts else "not audited")
            lines.append(f"  v{v.version:<4} {v.status:9} {v.row_count:>10} rows  {audit}")
    finally:
        conn.close()
    return "\n".join(lines)
