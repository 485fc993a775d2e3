"""Write-audit-publish on the warehouse: versioned tables, an atomic swap, instant rollback.

A published table ``<schema>.<name>`` (e.g. ``curated.daily_revenue``) is a *view* over
one immutable version table ``publish."<schema>__<name>__v<N>"``. Each write creates a new
version (the *candidate*, also visible as the view ``audit.<name>``), the audit checks
record their verdict per version in ``publish.audits``, and publishing re-points the view
— one small DuckDB transaction, no data copied, so readers of the warehouse see the old
version or the new one, never a mix. The version published before stays as ``previous``:
``rollback`` re-points the view to it (and keeps the rolled-back version as ``previous``,
so a second rollback undoes the first). Every step is one transaction: a process killed
at any point leaves the published view exactly as it was, and an uncommitted version table
never becomes visible (DuckDB discards it on the next open).

Bookkeeping tables (schema ``publish``):
- ``versions``: one row per version and table — status ``candidate`` / ``failed`` (an audit
  check failed; kept and inspectable as ``audit.<name>``) / ``published`` (current) /
  ``previous`` (kept for rollback) / ``kept`` (published before that, kept with its serving
  file so a reader holding an older ``views.sql`` can still read it) / ``retired`` (its
  table dropped), row count, run id. ``keep`` published versions are retained per table
  (published + previous + kept; default ``KEEP_VERSIONS``, ``DATAOPS_KEEP_VERSIONS``);
- ``audits``: each audit check's verdict per version;
- ``history``: every publish and rollback (which version replaced which, when, by whom).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dataops_platform.storage.backends import retry_conflicts
from dataops_platform.storage.sql import fetch_one, literal, quote_ident, table_exists

SCHEMA = "publish"
AUDIT_SCHEMA = "audit"
FAULT_POINT_ENV = "DATAOPS_FAULT_POINT"  # tests: pause at a named point so it can be killed
FAULT_MARKER_ENV = "DATAOPS_FAULT_MARKER"
KEEP_VERSIONS = 5  # published versions retained per table (at least 2: published + previous)
RETAINED = ("published", "previous", "kept")

_DDL = f"""
create schema if not exists {SCHEMA};
create schema if not exists {AUDIT_SCHEMA};
create table if not exists {SCHEMA}.versions (
    table_name varchar, version integer, status varchar, row_count bigint,
    created_at timestamp, published_at timestamp, run_id varchar, stored_as varchar);
create table if not exists {SCHEMA}.audits (
    table_name varchar, version integer, check_name varchar, passed boolean,
    checked_at timestamp, run_id varchar);
create table if not exists {SCHEMA}.history (
    table_name varchar, action varchar, version integer, replaced_version integer,
    happened_at timestamp, run_id varchar);
"""


class PublishError(Exception):
    """A publish or rollback that must not happen, explained in one sentence."""


@dataclass(frozen=True)
class Version:
    table_name: str  # "<schema>.<name>"
    version: int
    status: str
    row_count: int
    stored_as: str  # publish."<schema>__<name>__v<N>"


@dataclass(frozen=True)
class Swap:
    """What a publish or rollback did."""

    table_name: str
    version: Version
    replaced: Version | None
    changed: bool = True  # False: the candidate had been published already (idempotent re-run)


def fault_point(name: str) -> None:
    """Crash-safety tests only: with DATAOPS_FAULT_POINT=<name>, touch the marker file and
    wait here so the test can SIGKILL the process at exactly this point."""
    if os.environ.get(FAULT_POINT_ENV) != name:
        return
    marker = os.environ.get(FAULT_MARKER_ENV)
    if marker:
        Path(marker).write_text(str(os.getpid()))
    time.sleep(600)


def ensure(conn: duckdb.DuckDBPyConnection) -> None:
    if table_exists(conn, SCHEMA, "history"):  # created last: no DDL commit to conflict on
        return
    retry_conflicts(conn, lambda: conn.execute(_DDL))


def qualified(schema: str, name: str) -> str:
    return f"{schema}.{name}"


def _version_table(schema: str, name: str, version: int) -> str:
    return f"{SCHEMA}.{quote_ident(f'{schema}__{name}__v{version}')}"


def _versions(conn: duckdb.DuckDBPyConnection, table_name: str,
              where: str = "true") -> list[Version]:
    rows = conn.execute(
        f"select table_name, version, status, row_count, stored_as from {SCHEMA}.versions "
        f"where table_name = ? and ({where}) order by version", [table_name]).fetchall()
    return [Version(*r) for r in rows]


def _one(conn: duckdb.DuckDBPyConnection, table_name: str, status: str) -> Version | None:
    found = _versions(conn, table_name, f"status = {literal(status)}")
    return found[-1] if found else None


def versions(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[Version]:
    ensure(conn)
    return _versions(conn, qualified(schema, name))


def latest_candidate(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> Version | None:
    found = versions(conn, schema, name)
    return found[-1] if found else None


def published(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> Version | None:
    ensure(conn)
    return _one(conn, qualified(schema, name), "published")


def _set_status(conn: duckdb.DuckDBPyConnection, v: Version, status: str) -> None:
    conn.execute(f"update {SCHEMA}.versions set status = ? where table_name = ? and version = ?",
                 [status, v.table_name, v.version])


def _retire(conn: duckdb.DuckDBPyConnection, v: Version) -> None:
    conn.execute(f"drop table if exists {v.stored_as}")
    _set_status(conn, v, "retired")


def _point(conn: duckdb.DuckDBPyConnection, schema: str, name: str, v: Version) -> None:
    conn.execute(f"create schema if not exists {quote_ident(schema)}")
    conn.execute(f"create or replace view {quote_ident(schema)}.{quote_ident(name)} "
                 f"as select * from {v.stored_as}")


def _adopt_legacy_table(conn: duckdb.DuckDBPyConnection, schema: str, name: str,
                        run_id: str | None) -> None:
    """A warehouse from before write-audit-publish holds the table itself: keep it as the
    first published version, so it becomes the previous one (rollback target)."""
    kind = fetch_one(conn, "select table_type from information_schema.tables "
                           "where table_schema = ? and table_name = ?", [schema, name])
    if not kind or kind[0] != "BASE TABLE" or _versions(conn, qualified(schema, name)):
        return
    stored = _version_table(schema, name, 0)
    conn.execute(f"create table {stored} as select * from {quote_ident(schema)}.{quote_ident(name)}")
    rows = int(fetch_one(conn, f"select count(*) from {stored}")[0])
    conn.execute(f"drop table {quote_ident(schema)}.{quote_ident(name)}")
    conn.execute(f"insert into {SCHEMA}.versions values (?, 0, 'published', ?, now(), now(), ?, ?)",
                 [qualified(schema, name), rows, run_id, stored])


def as_select(source: str) -> str:
    """A ``select ...`` as is; a relation name (e.g. a registered DataFrame) selected from."""
    return source if source.lstrip().lower().startswith(("select", "with", "(")) \
        else f"select * from {source}"


def write_candidate(conn: duckdb.DuckDBPyConnection, schema: str, name: str, source: str,
                    run_id: str | None = None) -> Version:
    """Store ``source`` (a ``select ...`` or a registered relation name) as a new version
    and point ``audit.<name>`` at it, in one transaction. Older unpublished versions are
    dropped; the published and the previous version are kept."""
    ensure(conn)
    table_name = qualified(schema, name)
    def write() -> Version:
        _adopt_legacy_table(conn, schema, name, run_id)
        for old in _versions(conn, table_name, "status in ('candidate', 'failed')"):
            _retire(conn, old)
        number = int(fetch_one(conn, f"select coalesce(max(version), 0) + 1 from {SCHEMA}.versions "
                                     "where table_name = ?", [table_name])[0])
        stored = _version_table(schema, name, number)
        conn.execute(f"create table {stored} as {as_select(source)}")
        rows = int(fetch_one(conn, f"select count(*) from {stored}")[0])
        conn.execute(f"insert into {SCHEMA}.versions values (?, ?, 'candidate', ?, now(), null, ?, ?)",
                     [table_name, number, rows, run_id, stored])
        _point(conn, AUDIT_SCHEMA, name, Version(table_name, number, "candidate", rows, stored))
        fault_point("candidate")
        return Version(table_name, number, "candidate", rows, stored)

    # one transaction (re-run if a concurrent DuckLake writer won the commit); writers of
    # the version records take turns there
    return retry_conflicts(conn, write, lock=[f"{SCHEMA}.versions"])


def record_audit(conn: duckdb.DuckDBPyConnection, v: Version, check: str, passed: bool,
                 run_id: str | None = None) -> None:
    """One audit check's verdict on version ``v``; a failure marks the version failed."""
    def write() -> None:
        conn.execute(f"delete from {SCHEMA}.audits where table_name = ? and version = ? "
                     "and check_name = ?", [v.table_name, v.version, check])
        conn.execute(f"insert into {SCHEMA}.audits values (?, ?, ?, ?, now(), ?)",
                     [v.table_name, v.version, check, passed, run_id])
        if not passed and v.status == "candidate":
            _set_status(conn, v, "failed")

    retry_conflicts(conn, write, lock=[f"{SCHEMA}.versions"])


def audit_verdicts(conn: duckdb.DuckDBPyConnection, v: Version) -> dict[str, bool]:
    return dict(conn.execute(f"select check_name, passed from {SCHEMA}.audits "
                             "where table_name = ? and version = ?",
                             [v.table_name, v.version]).fetchall())


def retained(conn: duckdb.DuckDBPyConnection, schema: str, name: str) -> list[Version]:
    """The published versions still stored (published, previous, kept), oldest first."""
    ensure(conn)
    return _versions(conn, qualified(schema, name),
                     "status in (" + ", ".join(literal(s) for s in RETAINED) + ")")


def publish_candidate(conn: duckdb.DuckDBPyConnection, schema: str, name: str,
                      required_checks: list[str], run_id: str | None = None,
                      keep: int = KEEP_VERSIONS) -> Swap:
    """Swap the latest candidate in, if every required audit check passed on it.

    One transaction: the version published so far becomes ``previous`` (the previous one
    becomes ``kept``), the candidate becomes ``published`` and ``<schema>.<name>`` points at
    it; beyond ``keep`` retained versions the oldest kept ones are dropped (``retired``).
    """
    ensure(conn)
    table_name = qualified(schema, name)
    candidate = latest_candidate(conn, schema, name)
    if candidate is None:
        raise PublishError(f"{table_name} has no candidate version to publish; build audit/{name} first.")
    current = _one(conn, table_name, "published")
    if candidate.status in ("published", "previous", "retired"):  # published once already
        return Swap(table_name, current or candidate, None, changed=False)
    verdicts = audit_verdicts(conn, candidate)
    failed = [c for c in required_checks if not verdicts.get(c, False)]
    if failed:
        missing = [c for c in failed if c not in verdicts]
        raise PublishError(
            f"{table_name} version {candidate.version} was not published: audit check(s) "
            + ", ".join(f"{c} ({'not run' if c in missing else 'failed'})" for c in failed)
            + f". The published table is unchanged; inspect the candidate as {AUDIT_SCHEMA}.{name}.")
    def swap() -> None:
        previous = _one(conn, table_name, "previous")
        if previous is not None:
            _set_status(conn, previous, "kept")
        if current is not None:
            _set_status(conn, current, "previous")
        conn.execute(f"update {SCHEMA}.versions set status = 'published', published_at = now() "
                     "where table_name = ? and version = ?", [table_name, candidate.version])
        _point(conn, schema, name, candidate)
        kept = _versions(conn, table_name, "status = 'kept'")
        for old in kept[:max(0, len(kept) - (max(keep, 2) - 2))]:  # oldest first
            _retire(conn, old)
        conn.execute(f"insert into {SCHEMA}.history values (?, 'publish', ?, ?, now(), ?)",
                     [table_name, candidate.version, current.version if current else None, run_id])
        fault_point("swap")

    retry_conflicts(conn, swap, lock=[f"{SCHEMA}.versions"])
    return Swap(table_name, Version(table_name, candidate.version, "published", candidate.row_count,
                                    candidate.stored_as), current)


def rollback(conn: duckdb.DuckDBPyConnection, schema: str, name: str,
             by: str | None = None) -> Swap:
    """Point ``<schema>.<name>`` back at the previous version, instantly (no recomputation).

    The version rolled back from becomes ``previous``: a second rollback restores it.
    """
    ensure(conn)
    table_name = qualified(schema, name)
    current = _one(conn, table_name, "published")
    previous = _one(conn, table_name, "previous")
    if current is None:
        raise PublishError(f"{table_name} has never been published through write-audit-publish: "
                           "nothing to roll back.")
    if previous is None:
        raise PublishError(f"{table_name} has no previous version to roll back to (version "
                           f"{current.version} is the only one published); nothing was changed.")
    def back() -> None:
        _set_status(conn, current, "previous")
        _set_status(conn, previous, "published")
        _point(conn, schema, name, previous)
        conn.execute(f"insert into {SCHEMA}.history values (?, 'rollback', ?, ?, now(), ?)",
                     [table_name, previous.version, current.version, by])

    retry_conflicts(conn, back, lock=[f"{SCHEMA}.versions"])
    return Swap(table_name, Version(table_name, previous.version, "published", previous.row_count,
                                    previous.stored_as), current)


def published_tables(conn: duckdb.DuckDBPyConnection) -> list[Version]:
    ensure(conn)
    rows = conn.execute(f"select table_name, version, status, row_count, stored_as from "
                        f"{SCHEMA}.versions where status = 'published' order by table_name").fetchall()
    return [Version(*r) for r in rows]
