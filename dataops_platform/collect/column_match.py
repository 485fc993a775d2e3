"""Which delivered column is which contract column: exact name first, then forgiving.

A contract's ``rename_from`` (or ``name``) names the column as delivered. Readers trim
header names (CSV), and a header written with a stray space or another case (``" given_name"``,
``Given_Name``) is the same column to a person. So a contract column matches the delivered
column of exactly its name, or else the one delivered column whose name is equal after
trimming whitespace and ignoring case. Two delivered candidates are ambiguous: none matches,
and the column is reported missing with the candidates named.

The raw table stores a matched column under the contract's source name, so every later step
(cleaning, reconciliation, trace) finds it by that name.
"""

from __future__ import annotations

from dataops_platform.contracts.model import Column, Contract


def _fold(name: str) -> str:
    return name.strip().casefold()


def match_columns(contract: Contract, delivered: list[str]) -> dict[str, str]:
    """``{delivered name: stored name}`` for every delivered column (unmatched ones keep
    their name)."""
    exact = set(delivered)
    stored = {d: d for d in delivered}
    for column in contract.columns:
        source = column.source_name
        if source in exact:
            continue
        candidates = [d for d in delivered if _fold(d) == _fold(source) and stored[d] == d
                      and d not in {c.source_name for c in contract.columns}]
        if len(candidates) == 1:
            stored[candidates[0]] = source
    return stored


def ambiguous(contract: Contract, delivered: list[str], column: Column) -> list[str]:
    """Delivered names that differ from ``column``'s only by whitespace or case (for messages)."""
    return [d for d in delivered if d != column.source_name
            and _fold(d) == _fold(column.source_name)]


def missing_columns(contract: Contract, stored: list[str]) -> list[Column]:
    """Contract columns no delivered column maps to (``stored``: the names raw holds)."""
    present = set(stored)
    return [c for c in contract.columns if c.source_name not in present]


def describe_missing(contract: Contract, stored: list[str], delivered: list[str] | None = None,
                     ) -> str:
    """One sentence per missing column, naming near-misses."""
    parts = []
    for column in missing_columns(contract, stored):
        near = ambiguous(contract, delivered if delivered is not None else stored, column)
        label = column.name if column.source_name == column.name else \
            f"{column.name} (delivered as {column.source_name!r})"
        parts.append(label + (f" — ambiguous: {near} all match" if len(near) > 1 else ""))
    return ", ".join(parts)
