"""Column profiles of every cleaned materialization (what AWS DataBrew shows), as metadata.

Per column: null %, distinct count, min / max / mean, the most frequent values and the
most frequent shape ("ORD-9999999"). Numbers go in as flat numeric metadata keys
(``profile/<column>/null_pct``...) so Dagster plots them across materializations; the
whole profile also goes in as one table. Counts and bounds are exact (DuckDB SUMMARIZE;
distinct counts by ``count(distinct)`` for files up to 1M rows, estimated above that);
top values and shapes come from a sample, which keeps large files cheap.
"""

from __future__ import annotations

import dagster as dg
import duckdb

from dataops_platform.storage.sql import quote_ident

SAMPLE_ROWS = 100_000
TOP_VALUES = 3
EXACT_DISTINCT_ROWS = 1_000_000  # up to this many rows a file's distinct counts are exact


def _shape(column: str) -> str:
    """Letters become 'a', digits '9': 'ORD-0000123' -> 'aaa-9999999'."""
    return (f"regexp_replace(regexp_replace(cast({column} as varchar), '[0-9]', '9', 'g'), "
            "'[A-Za-z]', 'a', 'g')")


def _number(value: object) -> float | None:
    try:
        return round(float(value), 4) if value is not None else None  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def _exact_distinct(conn: duckdb.DuckDBPyConnection, relation: str, columns: list[str],
                    summary: list[tuple]) -> list[int] | None:
    """Exact distinct counts per column for files up to EXACT_DISTINCT_ROWS rows (SUMMARIZE's
    count is a HyperLogLog estimate: 611 for 633 keys); None for larger files."""
    rows = max((int(r[-2] or 0) for r in summary), default=0)  # SUMMARIZE's count column
    if rows > EXACT_DISTINCT_ROWS:
        return None
    return [int(n) for n in conn.execute("select " + ", ".join(
        f"count(distinct {quote_ident(c)})" for c in columns) + f" from {relation}").fetchone()
        or ()]


def profile(conn: duckdb.DuckDBPyConnection, relation: str, columns: list[str]) -> dict:
    """Metadata entries profiling ``columns`` of ``relation`` (a table or a subquery)."""
    if not columns:
        return {}
    selected = ", ".join(quote_ident(c) for c in columns)
    try:
        summary = conn.execute(f"summarize select {selected} from {relation}").fetchall()
    except (duckdb.ConversionException, duckdb.OutOfRangeException):
        # DuckDB's SUMMARIZE overflows on dates/timestamps near the ends of its range (year
        # 9999, year 1): profile those as text (min/max as ISO text, no mean); DuckDB 1.4's
        # standard deviation overflows on inf/NaN (a contract may allow them): profile the
        # finite values of float columns
        types = {r[0]: str(r[1]).upper() for r in conn.execute(
            f"describe select {selected} from {relation}").fetchall()}

        def safe(column: str) -> str:
            name, kind = quote_ident(column), types.get(column, "")
            if kind.startswith(("DATE", "TIMESTAMP")):
                return f"cast({name} as varchar) as {name}"
            if kind in ("DOUBLE", "FLOAT", "REAL"):
                return f"case when isfinite({name}) then {name} end as {name}"
            return name

        summary = conn.execute(f"summarize select {', '.join(map(safe, columns))} "
                               f"from {relation}").fetchall()
    exact = _exact_distinct(conn, relation, columns, summary)
    tops = conn.execute("select " + ", ".join(
        f"approx_top_k({quote_ident(c)}, {TOP_VALUES}), mode({_shape(quote_ident(c))})"
        for c in columns) + f" from (select {selected} from {relation} "
        f"using sample {SAMPLE_ROWS} rows)").fetchall()[0]
    metadata: dict = {}
    rows = []
    for i, (name, dtype, low, high, distinct, mean, *_rest) in enumerate(summary):
        null_pct = _number(_rest[-1]) or 0.0
        distinct = exact[i] if exact is not None else distinct
        top, shape = tops[2 * i], tops[2 * i + 1]
        metadata[f"profile/{name}/null_pct"] = null_pct
        metadata[f"profile/{name}/distinct"] = int(distinct or 0)
        if _number(mean) is not None:
            metadata[f"profile/{name}/mean"] = _number(mean)
        rows.append([name, str(dtype).lower(), f"{null_pct:.2f}", distinct, low, high,
                     "" if mean is None else (f"{_number(mean):.4g}" if _number(mean) is not None
                                              else str(mean)),
                     ", ".join(str(t) for t in (top or [])), shape or ""])
    header = ["column", "type", "null %", "distinct" if exact is not None else "distinct≈",
              "min", "max", "mean", "top values", "shape"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    metadata["profile"] = dg.MetadataValue.md("\n".join(lines))
    return metadata
