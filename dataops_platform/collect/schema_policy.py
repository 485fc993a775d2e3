"""What happens when a delivered file's columns differ from the contract (schema drift).

- ``evolve`` (default): new columns are kept (raw gains them), missing optional columns
  become null in cleaned; the drift is reported in the metadata.
- ``freeze``: a file whose columns differ in any way — added, missing or (for typed
  formats such as Parquet) retyped — is rejected as a whole with a message listing the
  differences; nothing of it is written.
- ``discard``: unknown columns are dropped before anything is written, and counted.

The comparison is a pure function of the contract and what the file delivered, so it is
tested without files; the raw asset applies it to the staged table before publishing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from dataops_platform.collect.readers import DELIVERED_COLUMNS, parquet_source
from dataops_platform.contracts.model import ColumnType, Contract, FileFormat, SchemaPolicy
from dataops_platform.storage.sql import literal, quote_ident

# Physical types a typed file (Parquet) may deliver for each contract type.
_INTEGERS = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT",
             "UINTEGER", "UBIGINT"}
_COMPATIBLE: dict[ColumnType, set[str]] = {
    ColumnType.integer: _INTEGERS,
    ColumnType.float: _INTEGERS | {"FLOAT", "DOUBLE", "DECIMAL"},
    ColumnType.decimal: _INTEGERS | {"FLOAT", "DOUBLE", "DECIMAL"},
    ColumnType.boolean: {"BOOLEAN"},
    ColumnType.date: {"DATE"},
    ColumnType.timestamp: {"TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS",
                           "TIMESTAMP_S", "DATE"},
}


@dataclass
class Drift:
    """How a file's columns differ from the contract's (by delivered name)."""

    added: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    retyped: list[tuple[str, str, str]] = field(default_factory=list)  # column, expected, delivered

    def __bool__(self) -> bool:
        return bool(self.added or self.missing or self.retyped)

    def describe(self) -> str:
        parts = []
        if self.added:
            parts.append("added " + ", ".join(self.added))
        if self.missing:
            parts.append("missing " + ", ".join(self.missing))
        if self.retyped:
            parts.append("retyped " + ", ".join(f"{c} (contract {e}, file {d})"
                                                for c, e, d in self.retyped))
        return "; ".join(parts) or "none"


def _base_type(physical: str) -> str:
    return physical.split("(")[0].strip().upper()


def drift(contract: Contract, delivered: list[str],
          delivered_types: dict[str, str] | None = None) -> Drift:
    """Compare delivered column names (and physical types, when the format has them)."""
    expected = {c.source_name: c for c in contract.columns}
    found = Drift(added=[c for c in delivered if c not in expected],
                  missing=[name for name in expected if name not in delivered])
    for name, physical in (delivered_types or {}).items():
        column = expected.get(name)
        if column is None or column.type is ColumnType.string:
            continue
        if _base_type(physical) not in _COMPATIBLE[column.type]:
            found.retyped.append((name, column.type.value, physical))
    return found


class SchemaFrozen(Exception):
    """A file under ``schema_policy: freeze`` does not have exactly the contract's columns."""

    def __init__(self, contract: Contract, relative: str, found: Drift) -> None:
        self.drift = found
        super().__init__(
            f"{relative} was rejected: the '{contract.name}' contract freezes its schema "
            f"(schema_policy: freeze) and this file's columns differ — {found.describe()}. "
            "Nothing of this file was loaded. Deliver the file with the contract's columns, "
            f"or change the contract (its columns, or schema_policy: evolve / discard).")


def delivered_types(path: Path, contract: Contract,
                    conn: duckdb.DuckDBPyConnection) -> dict[str, str] | None:
    """Physical column types of a typed format (Parquet); None for text formats."""
    if contract.source.format is not FileFormat.parquet:
        return None
    return {row[0]: row[1] for row in conn.execute(
        f"describe select * from {parquet_source(path)}").fetchall()}


def apply_schema_policy(conn: duckdb.DuckDBPyConnection, contract: Contract, path: Path,
                        relative: str, staged: str, delivered: list[str]) -> dict[str, str | int]:
    """Enforce the contract's policy on the staged file; return metadata describing drift.

    Raises SchemaFrozen (nothing written) under ``freeze``; drops unknown columns from the
    staged table (and from its delivered-column list) under ``discard``.
    """
    if not delivered:  # an empty file has no columns to compare
        return {"schema_drift": "none (empty file)"}
    found = drift(contract, delivered, delivered_types(path, contract, conn))
    metadata: dict[str, str | int] = {"schema_policy": contract.schema_policy.value,
                                      "schema_drift": found.describe()}
    if contract.schema_policy is SchemaPolicy.freeze and found:
        raise SchemaFrozen(contract, relative, found)
    if contract.schema_policy is SchemaPolicy.discard and found.added:
        for column in found.added:
            conn.execute(f"alter table {staged} drop column {quote_ident(column)}")
        kept = [c for c in delivered if c not in found.added]
        conn.execute(f"update {staged} set {DELIVERED_COLUMNS} = {literal(json.dumps(kept))}")
        metadata["discarded_columns"] = ", ".join(found.added)
        metadata["discarded_column_count"] = len(found.added)
    return metadata
