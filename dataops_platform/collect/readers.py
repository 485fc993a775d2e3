"""Read one landed file into DuckDB exactly as delivered: every value as text, plus lineage.

The contract's source options compile to a DuckDB table function (``read_csv``,
``read_json``, ``read_parquet``), so a large file is streamed by DuckDB and never loaded
into pandas. Sniffing is switched off: the header is read explicitly so a ragged row is
an error naming the line, not a silently re-guessed layout.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from dataops_platform.collect.column_match import match_columns
from dataops_platform.collect.reader_diagnosis import first_undecodable, mixed_line_endings
from dataops_platform.contracts.model import Contract, FileFormat, ReaderOptions
from dataops_platform.storage.sql import literal, quote_ident

# Encodings DuckDB's readers decode themselves; anything else Python transcodes first.
_NATIVE_ENCODINGS = {
    FileFormat.csv: {"utf-8", "utf-16", "latin-1"},
    FileFormat.ndjson: {"utf-8"},
    FileFormat.json: {"utf-8"},
    FileFormat.parquet: set(),  # binary: the encoding option does not apply
}


DELIVERED_COLUMNS = "_delivered_columns"  # which columns this very file had, for cleaning
# Names the platform gives its own columns (and DuckDB its row ids): a delivered column so
# named would override lineage or break the row numbering, so such a file is rejected.
RESERVED_COLUMNS = frozenset({"_partition", "_source_file", "_content_hash", "_row_number",
                              "_ingested_at", "_run_id", DELIVERED_COLUMNS, "_warnings",
                              "_violations", "rowid"})


class ReadError(Exception):
    """A landed file cannot be read as its contract describes."""

    def __init__(self, path: Path, contract: Contract, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"{path} cannot be read as {_describe(contract)}: {detail}\n"
            f"Nothing of this file was loaded. Fix the file (or the 'source' section of the "
            f"'{contract.name}' contract) and deliver it again; earlier files are unaffected."
        )


def _describe(contract: Contract) -> str:
    source = contract.source
    if source.format is FileFormat.csv:
        opts = source.options
        return (f"csv (delimiter {opts.delimiter!r}, encoding {opts.encoding}, "
                f"header {'yes' if opts.header else 'no'})")
    return f"{source.format.value} (encoding {source.options.encoding})"


def _duckdb_detail(exc: Exception) -> str:
    """Keep DuckDB's own diagnosis (line, expected vs found) and drop its tuning advice."""
    kept = []
    for line in str(exc).splitlines():
        if line.startswith(("Possible", "*", "  file =")):
            break
        if line.strip():
            kept.append(line.strip())
    return " ".join(kept).replace("Invalid Input Error: ", "")


def _normal_encoding(name: str) -> str:
    try:
        canonical = codecs.lookup(name).name
    except LookupError:
        raise ValueError(f"unknown encoding {name!r}") from None
    return {"iso8859-1": "latin-1", "utf-16": "utf-16", "utf-8": "utf-8"}.get(canonical, canonical)


@contextmanager
def _readable(path: Path, fmt: FileFormat, encoding: str) -> Iterator[Path]:
    """Yield a path DuckDB can decode: the file itself, or a streamed UTF-8 transcode."""
    if fmt is FileFormat.parquet or encoding in _NATIVE_ENCODINGS[fmt]:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="dataops-transcode-") as tmp:
        target = Path(tmp) / path.name
        try:
            with path.open("r", encoding=encoding, newline="") as src, target.open(
                "w", encoding="utf-8", newline=""
            ) as dst:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
        except UnicodeDecodeError as exc:
            raise ValueError(first_undecodable(path, encoding)
                             or f"byte {exc.start} is not valid {encoding}: {exc.reason}") from None
        yield target


def _csv_header(path: Path, options: ReaderOptions, encoding: str) -> list[str] | None:
    """Column names from the first record (or column1..N without a header); None if empty."""
    with path.open("rb") as raw:
        text = io.TextIOWrapper(raw, encoding=encoding, newline="", errors="strict")
        reader = csv.reader(text, delimiter=options.delimiter, quotechar=options.quote)
        try:
            for _ in range(options.skip_rows):
                next(reader, None)
            first = next(reader, None)
        except UnicodeDecodeError as exc:
            # the decoder reads ahead: the bad byte may be rows later than the header
            raise ValueError(first_undecodable(path, encoding)
                             or f"the header is not valid {encoding}: {exc.reason}") from None
        except csv.Error as exc:
            raise ValueError(f"the header cannot be parsed: {exc}") from None
    if first is None or first == [] or first == ["\ufeff"]:
        return None  # empty, or nothing but a byte-order mark
    if not options.header:
        return [f"column{i}" for i in range(1, len(first) + 1)]
    names = [name.strip() for name in first]
    if names and names[0].startswith("\ufeff"):
        names[0] = names[0][1:]  # a UTF-8 byte-order mark is not part of the name
    blank = [i + 1 for i, n in enumerate(names) if not n]
    if blank:
        raise ValueError(f"header column(s) {blank} have no name")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"header names {dupes} appear more than once")
    folded: dict[str, list[str]] = {}
    for name in names:
        folded.setdefault(name.casefold(), []).append(name)
    clashes = [group for group in folded.values() if len(group) > 1]
    if clashes:  # DuckDB (and SQL) names are case-insensitive
        raise ValueError(f"header names {clashes[0]} differ only in case; column names must "
                         "be distinct regardless of case")
    return names


def _csv_relation(path: Path, contract: Contract, encoding: str) -> tuple[str, list[str]]:
    options = contract.source.options
    header = _csv_header(path, options, encoding)
    if header is None:
        return "", []
    columns = "{" + ", ".join(f"{literal(c)}: 'VARCHAR'" for c in header) + "}"
    args = [
        literal(str(path)),
        f"delim={literal(options.delimiter)}",
        f"quote={literal(options.quote)}",
        f"escape={literal(options.escape or options.quote)}",
        f"header={'true' if options.header else 'false'}",
        f"skip={options.skip_rows}",
        "auto_detect=false",
        "hive_partitioning=false",
        f"columns={columns}",
        # DuckDB silently drops a line longer than max_line_size (2 MB by default): no
        # line of the file can be longer than the file
        f"max_line_size={max(2_097_152, path.stat().st_size + 1)}",
        # DuckDB 1.4 (the DuckLake pin) sizes its read buffer from max_line_size times the
        # threads unless told: a 68 MB file asked for a 1 GiB block and failed under the
        # memory limit
        f"buffer_size={max(2_097_152, path.stat().st_size + 1)}",
        f"encoding={literal(encoding if encoding in _NATIVE_ENCODINGS[FileFormat.csv] else 'utf-8')}",
    ]
    return f"read_csv({', '.join(args)})", header


def _json_relation(conn: duckdb.DuckDBPyConnection, path: Path,
                   fmt: FileFormat) -> tuple[str, list[str]]:
    layout = "newline_delimited" if fmt is FileFormat.ndjson else "array"
    # Keys in order of first appearance (object number, then place in the object). WITH
    # ORDINALITY numbers objects in file order even when DuckDB scans in parallel; a
    # ``row_number() over ()`` does not, and made the column order vary from run to run.
    keys = [row[0] for row in conn.execute(
        f"""select k from (
              select unnest(ks) as k, unnest(range(1, len(ks) + 1)) as i, o from (
                select json_keys(json) as ks, ordinality as o
                from read_json_objects({literal(str(path))}, format={literal(layout)})
                     with ordinality))
            group by k order by min([o, i])"""
    ).fetchall()]
    if not keys:
        records = conn.execute(f"select count(*) from read_json_objects({literal(str(path))}, "
                               f"format={literal(layout)})").fetchall()[0][0]
        if records:  # e.g. [1, 2, 3] or [{}, {}]: rows that would silently vanish
            raise ValueError(f"{records} record(s), but none is an object with at least one "
                             "field (expected " + ("one JSON object per line" if fmt is
                                                   FileFormat.ndjson else
                                                   "a JSON array of objects") + ")")
        return "", []
    columns = "{" + ", ".join(f"{literal(k)}: 'VARCHAR'" for k in keys) + "}"
    return (f"read_json({literal(str(path))}, format={literal(layout)}, columns={columns}, "
            "hive_partitioning=false)",
            keys)


def parquet_source(path: Path) -> str:
    """read_parquet of exactly the file's columns: the lake's ``arrival_date=...`` folders must
    not be read as Hive partition columns."""
    return f"read_parquet({literal(str(path))}, hive_partitioning = false)"


def _parquet_relation(conn: duckdb.DuckDBPyConnection, path: Path) -> tuple[str, list[str]]:
    names = [row[0] for row in conn.execute(
        f"describe select * from {parquet_source(path)}").fetchall()]
    return parquet_source(path), names


def stage_file(
    conn: duckdb.DuckDBPyConnection,
    contract: Contract,
    path: Path,
    target: str,
    lineage: dict[str, str],
) -> list[str]:
    """Create table ``target`` holding the file's rows as text plus lineage columns.

    ``lineage`` maps column names to SQL expressions (constant per file); the file's own
    column list is added as ``_delivered_columns`` (JSON text). Row numbers are not stored
    here: ``numbered(target)`` adds them from the table's rowid when publishing.

    Returns the column names as stored, in file order: as delivered, except a column matched
    to the contract by whitespace or case, stored under the contract's name. An empty or
    header-only file gives an empty table that still carries the lineage columns. Raises
    ReadError on bad input.
    """
    fmt = contract.source.format
    try:
        encoding = _normal_encoding(contract.source.options.encoding)
        with _readable(path, fmt, encoding) as readable:
            if fmt is FileFormat.csv:
                relation, columns = _csv_relation(readable, contract, encoding)
            elif fmt is FileFormat.parquet:
                relation, columns = _parquet_relation(conn, readable)
            else:
                relation, columns = _json_relation(conn, readable, fmt)
            reserved = [c for c in columns if c.casefold() in RESERVED_COLUMNS]
            if reserved:
                raise ValueError(
                    f"column(s) {reserved} use names reserved for the platform's lineage "
                    f"columns ({', '.join(sorted(RESERVED_COLUMNS))}); rename them in the file")
            delivered = literal(json.dumps(columns))  # a constant: free, unlike a list per row
            lineage_sql = ", ".join(f"{v} as {quote_ident(k)}" for k, v in
                                    {**lineage, DELIVERED_COLUMNS: delivered}.items())
            if not relation:
                conn.execute(f"create or replace table {target} as select {lineage_sql} limit 0")
                return []
            # a header differing from the contract's name only by whitespace or case is
            # stored under the contract's name (collect/column_match.py)
            stored = match_columns(contract, columns)
            # the contract's columns first, in contract order, then any others as delivered:
            # the raw table's layout then does not depend on which file arrived first
            by_stored = {stored[c]: c for c in columns}
            known = [c.source_name for c in contract.columns if c.source_name in by_stored]
            ordered = known + [s for s in by_stored if s not in known]
            values = ", ".join(f"cast({quote_ident(by_stored[s])} as varchar) as {quote_ident(s)}"
                               for s in ordered)
            delivered = literal(json.dumps([stored[c] for c in columns]))
            lineage_sql = ", ".join(f"{v} as {quote_ident(k)}" for k, v in
                                    {**lineage, DELIVERED_COLUMNS: delivered}.items())
            # Rows keep file order (DuckDB preserves insertion order), so the table's rowid
            # gives each row's number in the file without a costly window over all rows.
            conn.execute(f"create or replace table {target} as select {values}, {lineage_sql} "
                         f"from {relation}")
            return [stored[c] for c in columns]
    except ValueError as exc:
        raise ReadError(path, contract, str(exc)) from None
    except duckdb.Error as exc:
        detail = _duckdb_detail(exc)
        if fmt is FileFormat.ndjson:
            detail = _first_bad_json_line(path) or detail
        elif fmt is FileFormat.csv:  # the real cause and line, where DuckDB names neither
            detail = (first_undecodable(path, _normal_encoding(contract.source.options.encoding))
                      or mixed_line_endings(path) or detail)
        raise ReadError(path, contract, detail) from None


def _first_bad_json_line(path: Path) -> str | None:
    """DuckDB may name the line after a broken one: find the first that is no JSON object."""
    try:
        with path.open("r", encoding="utf-8", errors="strict") as handle:
            for number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                try:
                    value = json.loads(line)
                except json.JSONDecodeError as exc:
                    return f"line {number} is not valid JSON ({exc.msg} at column {exc.colno})"
                if not isinstance(value, dict):
                    return f"line {number} is not a JSON object (a {type(value).__name__})"
    except UnicodeDecodeError as exc:
        return f"byte {exc.start} is not valid utf-8 ({exc.reason})"
    except OSError:
        return None
    return None


def numbered(staged_table: str) -> str:
    """A source for publishing the staged file with ``_row_number`` (1-based, file order)."""
    return f"(select *, rowid + 1 as _row_number from {staged_table})"
