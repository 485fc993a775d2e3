"""DuckDB IO manager that closes the stock pandas handler's three traps.

The stock ``DuckDBPandasIOManager`` (1) inserts by column *position*, so a file whose
columns come in another order lands in the wrong columns, (2) writes nothing for an empty
frame, so a header-only file leaves no table, and (3) deletes a partition and inserts it in
two transactions, so a crash in between loses the partition. Here every write is one
transaction that inserts *by name*, creates the table even for zero rows, adds columns the
table does not have yet, and replaces the partition atomically.

Two output types are handled:
- ``pandas.DataFrame`` for hand-written (curated) code;
- ``StagedTables``: tables an asset built with SQL in the ``staging`` schema. Publishing
  them is a rename-free ``insert ... by name`` inside the same transaction, so a large file
  never passes through pandas.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import dagster as dg
import duckdb
import pandas as pd
from dagster_duckdb.io_manager import DuckDbClient, DuckDBIOManager
from pydantic import Field

from dataops_platform.dagster_internals import DbIOManager, DbTypeHandler, TableSlice
from dataops_platform.storage.backends import open_warehouse, retry_conflicts
from dataops_platform.storage.partition_keys import (
    UnsafePartitionKey,
    partition_filter,
    partition_literal_filter,
)
from dataops_platform.storage.publish import fault_point
from dataops_platform.storage.sql import fetch_one, quote_ident, table_exists
from dataops_platform.storage.warehouse import WarehouseBackendConfig, target_of


@dataclass(frozen=True)
class TableRef:
    """A lazy handle on (a slice of) a warehouse table, loaded instead of a DataFrame."""

    schema: str
    table: str
    where: str = "true"

    @property
    def qualified(self) -> str:
        return f"{quote_ident(self.schema)}.{quote_ident(self.table)}"

    def select(self, columns: str = "*") -> str:
        return f"select {columns} from {self.qualified} where {self.where}"

    @classmethod
    def of_partitions(cls, schema: str, table: str, column: str,
                      keys: Sequence[str]) -> TableRef:
        """The rows of the given partitions; every key is validated (UnsafePartitionKey)."""
        return cls(schema, table, partition_literal_filter(column, keys))


@dataclass(frozen=True)
class StagedTables:
    """What an SQL-first asset hands over for publishing, all in one transaction.

    ``main`` goes to the asset's own table; ``side`` maps other ``schema.table`` targets
    (e.g. the quarantine) to their sources. A source is a staging table or a parenthesized
    ``(select ...)`` over staging tables, so rows are written once, straight into the
    target. ``cleanup`` lists staging tables to drop after publishing (staging tables used
    as sources are dropped anyway). ``replace_where`` widens what is replaced (e.g. the
    rows of earlier versions of the same file).
    """

    main: str
    side: dict[str, str] = field(default_factory=dict)
    replace_where: str | None = None
    cleanup: tuple[str, ...] = ()


def _slice_where(table_slice: TableSlice) -> tuple[str, list]:
    """The slice's rows as ``(sql, params)``: built here, with parameters, from validated
    keys (not with dagster_duckdb's private, string-splicing ``_partition_where_clause``)."""
    clauses: list[str] = []
    params: list = []
    for dim in table_slice.partition_dimensions or ():
        expr = dim.partition_expr
        if isinstance(dim.partitions, dg.TimeWindow):
            clauses.append(f"{quote_ident(expr)} >= ? and {quote_ident(expr)} < ?")
            params.extend([dim.partitions.start.replace(tzinfo=None),
                           dim.partitions.end.replace(tzinfo=None)])
            continue
        sql, keys = partition_filter(expr, list(dim.partitions))
        clauses.append(sql)
        params.extend(keys)
    return (" and ".join(f"({c})" for c in clauses) or "true"), params


def _checked(table_slice: TableSlice) -> tuple[str, list]:
    try:
        return _slice_where(table_slice)
    except UnsafePartitionKey as exc:
        raise dg.Failure(description=str(exc), allow_retries=False) from None


def _columns(conn: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in conn.execute(f"describe select * from {relation}").fetchall()]


def _storable(dtype: str) -> str:
    """Columns of an empty pandas frame have no type (NULL): store them as text."""
    return "varchar" if dtype.strip('"') == "NULL" else dtype


def ensure_table(conn: duckdb.DuckDBPyConnection, schema: str, name: str, source: str) -> str:
    """Create schema.name shaped like ``source`` (even for zero rows), or add the columns it
    lacks; return the quoted table name."""
    target = f"{quote_ident(schema)}.{quote_ident(name)}"
    conn.execute(f"create schema if not exists {quote_ident(schema)}")
    if not table_exists(conn, schema, name):
        columns = ", ".join(f"{quote_ident(c)} {_storable(t)}" for c, t in _columns(conn, source))
        conn.execute(f"create table {target} ({columns})")
    else:
        have = {c for c, _ in _columns(conn, target)}
        for column, dtype in _columns(conn, source):
            if column not in have:
                conn.execute(f"alter table {target} add column {quote_ident(column)} {dtype}")
    return target


def publish(conn: duckdb.DuckDBPyConnection, schema: str, name: str, source: str,
            where: str, params: Sequence[object] = ()) -> int:
    """Replace the rows matching ``where`` in schema.name with ``source``, by column name.

    Creates the table (even for zero rows) and adds columns it lacks. Must run inside the
    caller's transaction. Returns the number of rows inserted.
    """
    target = ensure_table(conn, schema, name, source)
    conn.execute(f"delete from {target} where {where}", list(params))
    inserted = fetch_one(conn, f"insert into {target} by name select * from {source}")
    return int(inserted[0]) if inserted else 0


class TransactionalDuckDbClient(DuckDbClient):
    """One connection = one transaction: the slice delete and the insert commit together."""

    @staticmethod
    def get_table_name(table_slice: TableSlice) -> str:
        """``cleaned.orders``: the name users query, not the warehouse file's path."""
        return f"{table_slice.schema}.{table_slice.table}"

    @staticmethod
    def delete_table_slice(context: dg.OutputContext, table_slice: TableSlice,
                           connection: duckdb.DuckDBPyConnection) -> None:
        # Deferred to the type handlers: they delete and insert in the same statement group
        # after making sure the table exists (a failing DELETE would abort the transaction).
        return None

    @staticmethod
    def ensure_schema_exists(context: dg.OutputContext, table_slice: TableSlice,
                             connection: duckdb.DuckDBPyConnection) -> None:
        # in the handlers' write transaction (ensure_table): a separate DDL commit would
        # conflict with concurrent DuckLake writers
        return None

    @staticmethod
    @contextmanager
    def connect(context: dg.OutputContext | dg.InputContext,
                _table_slice: TableSlice) -> Iterator[duckdb.DuckDBPyConnection]:
        """The handlers open their own write transaction (``retry_conflicts``): one
        transaction for the slice delete and the insert, re-run whole if a concurrent
        DuckLake writer won the commit."""
        config: dict = dict(context.resource_config or {})
        target = target_of(str(config["database"]), dict(config.get("connection_config") or {}),
                           config.get("backend"))
        conn = open_warehouse(target, timeout_s=float(config.get("lock_timeout_s", 120.0)))
        try:
            yield conn
        finally:
            conn.close()


class DataFrameHandler(DbTypeHandler[pd.DataFrame]):
    """pandas frames, inserted by name; an empty frame still creates or empties the table."""

    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice,
                      obj: pd.DataFrame, connection: duckdb.DuckDBPyConnection) -> dict:
        where, params = _checked(table_slice)
        connection.register("_dataops_frame", obj)
        rows = retry_conflicts(connection, lambda: publish(
            connection, table_slice.schema, table_slice.table, "_dataops_frame", where, params),
            lock=[f"{table_slice.schema}.{table_slice.table}"])
        connection.unregister("_dataops_frame")  # on failure the connection is discarded
        return _table_metadata(context, rows)

    def load_input(self, context: dg.InputContext, table_slice: TableSlice,
                   connection: duckdb.DuckDBPyConnection) -> pd.DataFrame:
        if table_slice.partition_dimensions and not context.asset_partition_keys:
            return pd.DataFrame()
        where, params = _checked(table_slice)
        columns = ", ".join(quote_ident(c) for c in table_slice.columns or []) or "*"
        return connection.execute(
            f"select {columns} from {quote_ident(table_slice.schema)}."
            f"{quote_ident(table_slice.table)} where {where}", params).fetchdf()

    @property
    def supported_types(self) -> Sequence[type]:
        return [pd.DataFrame]


def publish_staged(connection: duckdb.DuckDBPyConnection, schema: str, table: str,
                   obj: StagedTables, where: str, params: Sequence[object] = ()) -> int:
    """Replace the rows matching ``where`` (plus ``obj.replace_where``) of schema.table and
    of each side table with the staged rows, in one transaction; return the main rows."""
    if obj.replace_where:
        where = f"({where}) or ({obj.replace_where})"

    def write() -> int:
        rows = publish(connection, schema, table, obj.main, where, params)
        fault_point("partition_write")  # crash tests: killed with the main table written
        for target, staged in obj.side.items():
            side_schema, _, name = target.partition(".")
            publish(connection, side_schema, name, staged, where, params)
        return rows

    rows = retry_conflicts(connection, write, lock=[f"{schema}.{table}", *obj.side])
    # after the commit: on DuckLake staging is another (process-local) catalog, and one
    # transaction writes one catalog; a crash before this leaves only staging leftovers
    sources = [obj.main, *obj.side.values()]
    for staged in [*obj.cleanup, *(s for s in sources if not s.startswith("("))]:
        connection.execute(f"drop table if exists {staged}")
    return rows


class StagedTablesHandler(DbTypeHandler[StagedTables]):
    """Publishes SQL-built staging tables (main + side tables) in one transaction."""

    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice,
                      obj: StagedTables, connection: duckdb.DuckDBPyConnection) -> dict:
        where, params = _checked(table_slice)
        rows = publish_staged(connection, table_slice.schema, table_slice.table, obj, where,
                              params)
        return _table_metadata(context, rows)

    def load_input(self, context: dg.InputContext, table_slice: TableSlice,
                   connection: duckdb.DuckDBPyConnection) -> StagedTables:
        raise dg.Failure("StagedTables is an output type; load the input as TableRef instead.")

    @property
    def supported_types(self) -> Sequence[type]:
        return [StagedTables]


class TableRefHandler(DbTypeHandler[TableRef]):
    """Loads a reference, not data: SQL-first assets read the slice inside DuckDB."""

    def handle_output(self, context: dg.OutputContext, table_slice: TableSlice,
                      obj: TableRef, connection: duckdb.DuckDBPyConnection) -> dict:
        raise dg.Failure("TableRef is an input type; return StagedTables or a DataFrame.")

    def load_input(self, context: dg.InputContext, table_slice: TableSlice,
                   connection: duckdb.DuckDBPyConnection) -> TableRef:
        dimensions = table_slice.partition_dimensions or []
        if dimensions and not context.asset_partition_keys:
            return TableRef(table_slice.schema, table_slice.table, "false")
        if any(isinstance(d.partitions, dg.TimeWindow) for d in dimensions):
            raise dg.Failure("TableRef inputs support file partitions only, not time windows.")
        try:
            where = " and ".join(
                f"({partition_literal_filter(d.partition_expr, list(d.partitions))})"
                for d in dimensions) or "true"
        except UnsafePartitionKey as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        return TableRef(table_slice.schema, table_slice.table, where)

    @property
    def supported_types(self) -> Sequence[type]:
        return [TableRef]


def _table_metadata(context: dg.OutputContext, rows: int) -> dict:
    key = "dagster/partition_row_count" if context.has_partition_key else "dagster/row_count"
    return {key: rows}


class WarehouseIOManager(DuckDBIOManager):
    """The platform's IO manager: layer = DuckDB schema (from the asset key prefix)."""

    lock_timeout_s: float = Field(default=120.0, description="How long to wait for the lock.")
    backend: WarehouseBackendConfig = Field(default_factory=WarehouseBackendConfig)

    @staticmethod
    def type_handlers() -> Sequence[DbTypeHandler]:
        return [DataFrameHandler(), StagedTablesHandler(), TableRefHandler()]

    @staticmethod
    def default_load_type() -> type | None:
        return pd.DataFrame

    def create_io_manager(self, context: dg.InitResourceContext) -> DbIOManager:
        return DbIOManager(
            db_client=TransactionalDuckDbClient(),
            database=self.database,
            schema=self.schema_,
            type_handlers=self.type_handlers(),
            default_load_type=self.default_load_type(),
            io_manager_name="WarehouseIOManager",
        )
