"""The serving copy: published tables as Parquet files readers query without the warehouse.

DuckDB lets one process write the warehouse file, and a reader holding it open blocks
writers (and the other way round). So every publish and rollback also exports the
published version to ``$DATAOPS_HOME/serving/<schema>/<table>.parquet``: written to a hidden
temporary file in the same folder, flushed to disk, then moved over the old file with
``os.replace`` (an atomic rename). A reader that opens the file gets the old or the new
version, whole; one that has it open keeps reading the version it opened. The version
number is stored in the file's key-value metadata (``dataops_version``).

``serving/views.sql`` holds one ``create or replace view <schema>.<table>`` per file, so
any DuckDB (CLI, notebook, BI tool) can query the published data by its usual name:
``duckdb -c ".read $DATAOPS_HOME/serving/views.sql" -c "select ..."``.
"""

from __future__ import annotations

import os
from pathlib import Path

import duckdb
import pandas as pd

from dataops_platform.storage import publish
from dataops_platform.storage.sql import literal, quote_ident

VERSION_KEY = "dataops_version"


def serving_file(root: Path, schema: str, name: str) -> Path:
    return root / schema / f"{name}.parquet"


def served_version(conn: duckdb.DuckDBPyConnection, path: Path) -> int | None:
    if not path.exists():
        return None
    rows = conn.execute("select value from parquet_kv_metadata(?) where key = ?",
                        [str(path), VERSION_KEY]).fetchall()
    return int(rows[0][0]) if rows else None


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def export(conn: duckdb.DuckDBPyConnection, root: Path, schema: str, name: str,
           version: int, relation: str | None = None, keep: int = publish.KEEP_VERSIONS) -> Path:
    """Write the published ``<schema>.<name>`` (or ``relation``) to its serving file,
    atomically."""
    target = serving_file(root, schema, name)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{name}.parquet.tmp-*"):  # left by a killed process
        stale.unlink(missing_ok=True)
    temp = target.parent / f".{name}.parquet.tmp-{os.getpid()}"
    source = relation or f"{quote_ident(schema)}.{quote_ident(name)}"
    conn.execute(f"copy (select * from {source}) to "
                 f"{literal(str(temp))} (format parquet, kv_metadata {{{VERSION_KEY}: "
                 f"{literal(str(version))}}})")
    _fsync(temp)
    if relation is None:  # crash-safety tests stop a publish's export here, not the scorecard's
        publish.fault_point("serving")
    # DuckDB opens a Parquet file more than once per query (bind, then scan): a file
    # replaced in between is read with the old footer. So views.sql points at a file per
    # version, never rewritten; <table>.parquet is the same file under a stable name (a
    # hard link, swapped by rename) for readers that open a file once.
    versioned = target.parent / f"{name}.v{version}.parquet"
    if served_version(conn, versioned) == version:  # e.g. a rollback: the file is there, whole
        temp.unlink()
    else:
        os.replace(temp, versioned)
    link = target.parent / f".{name}.parquet.tmp-link-{os.getpid()}"
    link.unlink(missing_ok=True)
    os.link(versioned, link)
    os.replace(link, target)
    write_views(root)
    prune(conn, root, schema, name, keep)
    return target


def export_frame(conn: duckdb.DuckDBPyConnection, root: Path, schema: str, name: str,
                 frame: pd.DataFrame, keep: int = publish.KEEP_VERSIONS) -> Path | None:
    """Serve a table that is not published through write-audit-publish (the scorecard):
    the same atomic, versioned files, numbered on from the newest file served."""
    if not len(frame.columns):
        return None
    folder = serving_file(root, schema, name).parent
    numbers = [n for p in folder.glob(f"{name}.v*.parquet") if (n := _file_version(p, name))]
    conn.register("_dataops_serving_frame", frame)
    try:
        return export(conn, root, schema, name, max(numbers, default=0) + 1,
                      relation="_dataops_serving_frame", keep=keep)
    finally:
        conn.unregister("_dataops_serving_frame")


def _file_version(path: Path, name: str) -> int | None:
    number = path.name[len(name) + 2:-len(".parquet")]
    return int(number) if number.isdigit() else None


def prune(conn: duckdb.DuckDBPyConnection, root: Path, schema: str, name: str,
          keep: int = publish.KEEP_VERSIONS) -> list[Path]:
    """Delete the versioned files of versions the warehouse no longer retains: a reader
    holding an older views.sql finds its file as long as that version is retained
    (``keep`` published versions per table). A table outside write-audit-publish keeps
    its newest ``keep`` files."""
    files = {n: p for p in serving_file(root, schema, name).parent.glob(f"{name}.v*.parquet")
             if (n := _file_version(p, name)) is not None}
    retained = {v.version for v in publish.retained(conn, schema, name)} \
        or set(sorted(files)[-max(keep, 1):])
    removed = []
    for number, path in files.items():
        if number not in retained:
            path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def sync(conn: duckdb.DuckDBPyConnection, root: Path) -> list[Path]:
    """Export every published table whose serving file is missing or holds another version
    (e.g. after a process was killed between publishing and exporting)."""
    written = []
    for v in publish.published_tables(conn):
        schema, _, name = v.table_name.partition(".")
        if served_version(conn, serving_file(root, schema, name)) != v.version:
            written.append(export(conn, root, schema, name, v.version))
    return written


def views_sql(root: Path) -> str:
    lines = ["-- Published tables of the dataops warehouse, served as Parquet (read-only).",
             "-- Load with: duckdb -c \".read " + str(root / "views.sql") + "\"  (never blocks a run)"]
    for path in sorted(root.glob("*/*.parquet")):
        schema, name = path.parent.name, path.stem
        if ".v" in name:
            continue
        path = path.resolve()
        versioned = [p for p in path.parent.glob(f"{name}.v*.parquet") if p.samefile(path)]
        path = versioned[0] if versioned else path
        create = f"create schema if not exists {quote_ident(schema)};"
        if create not in lines:
            lines.append(create)
        lines.append(f"create or replace view {quote_ident(schema)}.{quote_ident(name)} as "
                     f"select * from read_parquet({literal(str(path))});")
    return "\n".join(lines) + "\n"


def write_views(root: Path) -> Path:
    target = root / "views.sql"
    temp = root / f".views.sql.tmp-{os.getpid()}"
    temp.write_text(views_sql(root))
    os.replace(temp, target)
    return target
