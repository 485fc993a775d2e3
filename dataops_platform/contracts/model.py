"""The dataset contract: one YAML file describes a dataset completely.

The typed model is the single source the platform compiles from: reader options (collect),
SQL for typing, standardizing and rules (transform), the pandera schema (quality) and the
Dagster assets (definitions). ``extra="forbid"`` everywhere so a typo is an error, not a
silently ignored field.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta
from enum import Enum
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

if TYPE_CHECKING:
    import duckdb

IDENTIFIER = r"^[a-z][a-z0-9_]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FileFormat(str, Enum):
    csv = "csv"
    ndjson = "ndjson"
    json = "json"
    parquet = "parquet"
    files = "files"  # lake-only: any file type, preserved and catalogued, never parsed


class ColumnType(str, Enum):
    string = "string"
    integer = "integer"
    float = "float"
    decimal = "decimal"
    boolean = "boolean"
    date = "date"
    timestamp = "timestamp"


class Severity(str, Enum):
    error = "error"  # the row goes to quarantine
    warn = "warn"  # the row is kept and the violation counted


class Standardization(str, Enum):
    trim = "trim"
    collapse_whitespace = "collapse_whitespace"
    lower = "lower"  # type: ignore[assignment]  # shadows str.lower (an enum member)
    upper = "upper"  # type: ignore[assignment]  # shadows str.upper (an enum member)
    title = "title"  # type: ignore[assignment]  # shadows str.title (an enum member)


class Rule(str, Enum):
    """Every rule a column can carry; the names appear in quarantine rows and check results."""

    column_missing = "column_missing"  # the file has no such column at all
    not_null = "not_null"
    type = "type"  # the value does not parse as the declared type / date format
    allowed_values = "allowed_values"
    min = "min"
    max = "max"
    pattern = "pattern"
    min_length = "min_length"
    max_length = "max_length"
    references = "references"  # set-level: the value must exist in another dataset (a check)


NUMERIC_TYPES = {ColumnType.integer, ColumnType.float, ColumnType.decimal}
TEMPORAL_TYPES = {ColumnType.date, ColumnType.timestamp}


class ReaderOptions(_Strict):
    """How to read a file. Only ``encoding`` applies to every text format."""

    delimiter: str = ","
    encoding: str = "utf-8"
    header: bool = True
    quote: str = '"'
    escape: str | None = None
    skip_rows: Annotated[int, Field(ge=0)] = 0

    @field_validator("delimiter", "quote")
    @classmethod
    def _one_char(cls, value: str) -> str:
        if len(value) != 1:
            raise ValueError(f"must be exactly one character, got {value!r}")
        return value

    @model_validator(mode="after")
    def _quote_is_not_the_delimiter(self) -> ReaderOptions:
        if self.quote == self.delimiter:
            raise ValueError(f"'quote' and 'delimiter' are both {self.quote!r}: no file could be "
                             "read (a quoted value could never be told from a separator)")
        return self


class SourceKind(str, Enum):
    files = "files"        # files delivered into the landing folder (the default)
    postgres = "postgres"  # a PostgreSQL table or query, extracted by connectorx
    mysql = "mysql"        # a MySQL/MariaDB table or query, extracted by connectorx
    http = "http"          # a paginated JSON API


DATABASE_KINDS = {SourceKind.postgres, SourceKind.mysql}


class ExtractMode(str, Enum):
    incremental = "incremental"  # rows whose cursor is beyond the last extraction's
    full = "full"                # every row, every time (a snapshot)


class ExtractCursor(_Strict):
    """Where the next incremental extraction starts: the greatest value seen so far."""

    column: str | None = Field(default=None, description="Database: the cursor column "
                                                         "(updated_at, a monotonic id).")
    field: str | None = Field(default=None, description="HTTP: the record field holding the cursor.")
    param: str | None = Field(default=None, description="HTTP: the query parameter that sends the "
                                                        "last cursor value (e.g. updated_since).")
    initial: str | int | None = Field(default=None, description="Start value of the first extraction.")


class PaginationType(str, Enum):
    none = "none"
    cursor = "cursor"  # the response names the next page's token (next_path), sent as 'param'
    offset = "offset"  # offset/limit parameters
    page = "page"      # page number parameter
    link = "link"      # RFC 8288 Link header rel="next"


class Pagination(_Strict):
    type: PaginationType = PaginationType.none
    param: str | None = Field(default=None, description="cursor: the token parameter (default "
                                                        "'cursor'); offset: 'offset'; page: 'page'.")
    next_path: str = Field(default="next", description="cursor: the dotted path of the next token "
                                                       "in the response body.")
    limit_param: str = "limit"
    limit: Annotated[int, Field(ge=1)] = 100
    start: int = Field(default=0, description="offset or page of the first request (page: often 1).")
    max_pages: Annotated[int, Field(ge=1)] = 10_000


class Schedule(_Strict):
    """When the Dagster schedule of a database/API source extracts (visible in the UI)."""

    cron: str = "0 * * * *"
    running: bool = Field(default=False, description="Start the schedule running when the "
                                                     "project loads (default: stopped, turned on "
                                                     "in the UI).")


class Source(_Strict):
    kind: SourceKind = SourceKind.files
    # never None once validated: `kind` fills it, _format_given requires it for files
    format: FileFormat = Field(  # type: ignore[assignment]
        default=None,
        validate_default=True,
        description="files: csv, ndjson, json, parquet or files; database: parquet; http: ndjson.")
    landing: str | None = Field(
        default=None,
        description="Glob relative to the landing folder; default '<dataset>/*.<format>'.",
    )
    options: ReaderOptions = ReaderOptions()
    null_markers: list[str] = Field(
        default_factory=lambda: ["", "NA", "N/A", "null", "NULL", "None"],
        description="Values (after standardization) that mean 'no value'.",
    )
    # database and HTTP sources
    connection_env: str | None = Field(
        default=None, description="Database: the environment variable holding the connection URL "
                                  "(postgresql://user@host:5432/db, mysql://user@host:3306/db).")
    table: str | None = None
    query: str | None = None
    cursor: ExtractCursor | None = None
    mode: ExtractMode | None = Field(default=None, description="incremental (with a cursor, the "
                                                               "default then) or full.")
    schedule: Schedule = Schedule()
    url: str | None = Field(default=None, description="HTTP: the endpoint of the first page.")
    params: dict[str, str | int] = Field(default_factory=dict, description="HTTP: fixed query "
                                                                           "parameters.")
    auth_env: str | None = Field(default=None, description="HTTP: the environment variable holding "
                                                           "the token (sent as 'Bearer <token>').")
    auth_header: str = "Authorization"
    auth_scheme: str = "Bearer"
    records_path: str | None = Field(default=None, description="HTTP: dotted path of the records "
                                                               "list in each page (default: the "
                                                               "body is the list).")
    pagination: Pagination = Pagination()
    max_retries: Annotated[int, Field(ge=0)] = 5
    timeout_seconds: Annotated[float, Field(gt=0)] = 30

    @field_validator("format", mode="before")
    @classmethod
    def _format_given(cls, value: object) -> object:
        if value is None:  # only files come here without one: 'kind' fills the others
            raise ValueError("is required for files (csv, ndjson, json, parquet or files)")
        return value

    @model_validator(mode="before")
    @classmethod
    def _format_from_kind(cls, data: Any) -> Any:
        if isinstance(data, dict) and data.get("format") is None:
            kind = data.get("kind", "files")
            kind = getattr(kind, "value", kind)
            if kind in ("postgres", "mysql"):
                data = {**data, "format": "parquet"}
            elif kind == "http":
                data = {**data, "format": "ndjson"}
        return data

    @model_validator(mode="after")
    def _kind_consistent(self) -> Source:
        kind = self.kind
        extract_fields = ("connection_env", "table", "query", "cursor", "mode", "url", "auth_env",
                          "records_path")
        if kind is SourceKind.files:
            given = [f for f in extract_fields if getattr(self, f) is not None]
            if given:
                raise ValueError(f"{given[0]}: only applies to a database or http source "
                                 "(set 'kind: postgres|mysql|http')")
            return self
        if kind in DATABASE_KINDS:
            if self.format is not FileFormat.parquet:
                raise ValueError("format: a database source is extracted to parquet")
            if not self.connection_env:
                raise ValueError(f"connection_env: a {kind.value} source needs the name of the "
                                 "environment variable holding its connection URL (never the URL "
                                 "or a password in the contract)")
            if (self.table is None) == (self.query is None):
                raise ValueError("table/query: give exactly one of them")
            if self.table is not None and not re.fullmatch(r"[A-Za-z_][\w$]*(\.[A-Za-z_][\w$]*)?",
                                                           self.table):
                raise ValueError(f"table: {self.table!r} is not a (schema.)table name")
            if self.cursor is not None and not self.cursor.column:
                raise ValueError("cursor.column: names the cursor column of a database source")
            if self.url or self.auth_env or self.records_path:
                raise ValueError("url/auth_env/records_path: only apply to an http source")
        if kind is SourceKind.http:
            if self.format is not FileFormat.ndjson:
                raise ValueError("format: an http source is extracted to ndjson")
            if not self.url:
                raise ValueError("url: an http source needs the endpoint")
            if self.cursor is not None and not self.cursor.field:
                raise ValueError("cursor.field: names the record field holding the cursor")
            if self.connection_env or self.table or self.query:
                raise ValueError("connection_env/table/query: only apply to a database source")
        if self.mode is ExtractMode.incremental and self.cursor is None:
            raise ValueError("mode: incremental needs a cursor (column/field and initial value)")
        if self.mode is ExtractMode.full and self.cursor is not None:
            raise ValueError("mode: full takes every row; remove the cursor or use incremental")
        return self

    @property
    def extracted(self) -> bool:
        """Pulled by the platform (database, API) rather than delivered as files."""
        return self.kind is not SourceKind.files

    @property
    def extract_mode(self) -> ExtractMode:
        return self.mode or (ExtractMode.incremental if self.cursor else ExtractMode.full)

    @field_validator("landing")
    @classmethod
    def _inside_the_landing_folder(cls, value: str | None) -> str | None:
        """A glob never reaches outside the landing folder: relative, without '..'."""
        if value is None:
            return value
        parts = value.replace("\\", "/").split("/")
        if value.startswith(("/", "~")) or re.match(r"^[A-Za-z]:", value) or ".." in parts:
            raise ValueError(f"{value!r} must be a glob relative to the landing folder, without "
                             "'..' or an absolute path (files are only read from the landing "
                             "folder)")
        if not value.strip() or value.endswith("/"):
            raise ValueError(f"{value!r} must name files, e.g. 'payments/*.csv'")
        return value


class Reference(_Strict):
    """A foreign key: values must exist in ``dataset``'s cleaned ``column``."""

    dataset: Annotated[str, Field(pattern=IDENTIFIER)]
    column: Annotated[str, Field(pattern=IDENTIFIER)]


DEFAULT_MAX_VIOLATION_RATE = 0.05
ViolationRate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


class Column(_Strict):
    name: Annotated[str, Field(pattern=IDENTIFIER)]
    type: ColumnType = ColumnType.string
    description: str = ""
    rename_from: str | None = Field(default=None, description="Column name as delivered.")
    nullable: bool = True
    standardize: list[Standardization] = Field(default_factory=lambda: [Standardization.trim])
    allowed_values: list[Any] | None = None
    min: float | str | None = None
    max: float | str | None = None
    pattern: str | None = None
    min_length: Annotated[int, Field(ge=0)] | None = None
    max_length: Annotated[int, Field(ge=1)] | None = None
    formats: list[str] | None = Field(
        default=None,
        description="Accepted strptime formats for date/timestamp columns, tried in order.",
    )
    precision: Annotated[int, Field(ge=1, le=38)] = 18
    scale: Annotated[int, Field(ge=0, le=38)] = 2
    true_values: list[str] = Field(default_factory=lambda: ["true", "t", "yes", "y", "1"])
    false_values: list[str] = Field(default_factory=lambda: ["false", "f", "no", "n", "0"])
    references: Reference | None = Field(
        default=None, description="Referential integrity, checked per file (default: warn)."
    )
    severity: dict[Rule, Severity] = Field(
        default_factory=dict, description="Per-rule severity; rules not named are 'error'."
    )
    allow_non_finite: bool = Field(
        default=False, description="float only: NaN, inf and -inf (and numbers too large, "
                                   "which overflow to inf) are kept instead of being `type` "
                                   "violations.")
    max_violation_rate: ViolationRate | None = Field(
        default=None, description="This column's share of a file's rows its rules (and its "
                                  "references) may catch before its check fails; default: "
                                  "the dataset's max_violation_rate.")

    @property
    def source_name(self) -> str:
        return self.rename_from or self.name

    def severity_of(self, rule: Rule) -> Severity:
        default = Severity.warn if rule is Rule.references else Severity.error
        return self.severity.get(rule, default)

    @model_validator(mode="after")
    def _rules_fit_the_type(self) -> Column:
        problems: list[str] = []
        if self.allow_non_finite and self.type is not ColumnType.float:
            problems.append(f"'allow_non_finite' only applies to float columns, not "
                            f"{self.type.value}")
        if self.formats is not None and self.type not in TEMPORAL_TYPES:
            problems.append(f"'formats' only applies to date/timestamp columns, not {self.type.value}")
        if (self.min is not None or self.max is not None) and not (
            self.type in NUMERIC_TYPES or self.type in TEMPORAL_TYPES
        ):
            problems.append(f"'min'/'max' need a numeric or date type, not {self.type.value}")
        if self.type in NUMERIC_TYPES:
            for bound in ("min", "max"):
                value = getattr(self, bound)
                if value is not None and not isinstance(value, (int, float)):
                    problems.append(f"'{bound}' must be a number for a {self.type.value} column")
        if self.pattern is not None:
            if self.type is not ColumnType.string:
                problems.append("'pattern' only applies to string columns")
            try:
                re.compile(self.pattern)
            except re.error as exc:
                problems.append(f"'pattern' is not a valid regular expression: {exc}")
            else:
                problem = _engine_problem("select regexp_matches('', ?)", [self.pattern])
                if problem:  # the engine that runs the rule (RE2) compiles it, or no run could
                    problems.append(f"'pattern' is not a regular expression DuckDB can run: "
                                    f"{problem}")
        for bound in ("min", "max"):
            value = getattr(self, bound)
            if isinstance(value, float) and not math.isfinite(value):
                problems.append(f"'{bound}' must be a finite number, not {value}")
            if isinstance(value, str) and self.type in TEMPORAL_TYPES:
                kind = "date" if self.type is ColumnType.date else "timestamp"
                if _engine_problem(f"select cast(? as {kind})", [value]):
                    problems.append(f"'{bound}' {value!r} is not a {kind} (e.g. 2024-01-31)")
        for fmt in self.formats or []:
            problem = _engine_problem("select strptime('', ?)", [fmt], ignore="Could not parse")
            if problem:
                problems.append(f"'formats': {fmt!r} is not a strptime format DuckDB accepts: "
                                f"{problem}")
        if self.allowed_values is not None:
            kinds = sorted({type(v).__name__ for v in self.allowed_values})
            if len(kinds) > 1 or any(isinstance(v, (dict, list)) for v in self.allowed_values):
                problems.append(f"'allowed_values' must all be of one simple type, got {kinds} "
                                "(quote them, e.g. ['1', 'A'])")
        if (self.min_length is not None or self.max_length is not None) and (
            self.type is not ColumnType.string
        ):
            problems.append("'min_length'/'max_length' only apply to string columns")
        if self.type is ColumnType.decimal and self.scale > self.precision:
            problems.append(f"'scale' ({self.scale}) cannot exceed 'precision' ({self.precision})")
        if problems:
            raise ValueError("; ".join(problems))
        return self


@cache
def _engine() -> duckdb.DuckDBPyConnection:
    """One in-memory database for every check of a process: opening one per rule cost ~16 ms
    each, paid by every run's process when it loads the project."""
    import duckdb

    return duckdb.connect()


def _engine_problem(sql: str, params: list, ignore: str | None = None) -> str | None:
    """None if DuckDB runs ``sql``; else its first error line (compiling what runs will)."""
    import duckdb

    try:
        with _engine().cursor() as cursor:  # a cursor per check: safe across threads
            cursor.execute(sql, params).fetchall()
    except duckdb.Error as exc:
        text = str(exc).splitlines()[0]
        return None if ignore and ignore in text else text
    return None


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd])\s*$")


def parse_duration(text: str) -> timedelta:
    """'90m', '26h', '2d' -> timedelta."""
    match = _DURATION.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a duration like '30m', '26h' or '2d'")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


class Freshness(_Strict):
    """How often new data is expected: the cleaned asset gets a Dagster FreshnessPolicy."""

    fail_after: str
    warn_after: str | None = None

    @model_validator(mode="after")
    def _durations(self) -> Freshness:
        fail = parse_duration(self.fail_after)
        if self.warn_after is not None and parse_duration(self.warn_after) >= fail:
            raise ValueError("'warn_after' must be shorter than 'fail_after'")
        return self


class Volume(_Strict):
    """Expected rows per delivered file; outside the bounds usually means a broken export."""

    min_rows: Annotated[int, Field(ge=0)] = 0
    max_rows: Annotated[int, Field(ge=1)] | None = None
    severity: Severity = Severity.warn

    @model_validator(mode="after")
    def _ordered(self) -> Volume:
        if self.max_rows is not None and self.max_rows < self.min_rows:
            raise ValueError("'max_rows' must not be below 'min_rows'")
        return self


ANOMALY_FILE_METRICS = ("rows_in", "quarantine_rate")  # one value per file
ANOMALY_COLUMN_METRICS = ("null_rate", "distinct_count", "mean")  # one per column (mean: numeric)


class Anomaly(_Strict):
    """Anomaly detection over each file's metrics against the files delivered before it."""

    window: Annotated[int, Field(ge=1)] = Field(
        default=20, description="Compare with (at most) this many most recent earlier files.")
    threshold: Annotated[float, Field(gt=0)] = Field(
        default=3.5, description="Robust deviations (median/MAD z-score) beyond which it flags.")
    min_history: Annotated[int, Field(ge=3)] = Field(
        default=5, description="Earlier files needed before a metric is compared (at least 3).")
    severity: Severity = Severity.warn
    metrics: list[str] | None = Field(
        default=None,
        description="Metrics compared (default all): 'rows_in', 'quarantine_rate', a kind for "
                    "every column ('null_rate', 'distinct_count', 'mean') or '<column>.<kind>'.",
    )

    @model_validator(mode="after")
    def _consistent(self) -> Anomaly:
        if self.min_history > self.window:
            raise ValueError(f"'min_history' ({self.min_history}) cannot exceed 'window' "
                             f"({self.window}): no file would ever be compared")
        for metric in self.metrics or []:
            column, _, kind = metric.rpartition(".")
            known = (metric in ANOMALY_FILE_METRICS + ANOMALY_COLUMN_METRICS if not column
                     else kind in ANOMALY_COLUMN_METRICS)
            if not known:
                raise ValueError(
                    f"metrics: {metric!r} is not a metric; use {', '.join(ANOMALY_FILE_METRICS)}, "
                    f"one of {', '.join(ANOMALY_COLUMN_METRICS)} (every column) or "
                    "'<column>.<kind>'")
        return self


class SchemaPolicy(str, Enum):
    """What a file whose columns differ from the contract does (see collect/schema_policy.py)."""

    evolve = "evolve"
    freeze = "freeze"
    discard = "discard"


class MissingColumns(str, Enum):
    """What a delivered file that lacks a nullable contract column does (``columns_present``)."""

    fail = "fail"  # the columns_present check fails with error severity (dataops run exits 1)
    warn = "warn"  # the check fails with warn severity; the rows load, the column is null


class WriteMode(str, Enum):
    """How each cleaned file is applied to the dataset's ``current`` table."""

    append = "append"        # keep every file's rows (re-running a file replaces its own rows)
    replace = "replace"  # type: ignore[assignment]  # the newest file's rows (a snapshot)
    partition = "partition"  # type: ignore[assignment]  # a file replaces its partition_by rows
    merge = "merge"          # one row per key: the latest version by ``order_by`` wins
    history = "history"      # SCD type 2: every version of a key, valid_from/valid_to/is_current


class Write(_Strict):
    """Maintain ``current.<dataset>`` from the cleaned files with a write mode."""

    mode: WriteMode
    key: list[str] = Field(default_factory=list, description="merge/history key; default primary_key")
    order_by: str = Field(default="_ingested_at",
                          description="merge/history: which version is newer (a column, or the "
                                      "file's arrival _ingested_at)")
    sort_by: list[str] = Field(default_factory=list,
                               description="rows are written sorted by these (default: the key)")
    partition_by: list[str] = Field(default_factory=list,
                                    description="partition mode: the columns a file replaces")


class LakeFiles(_Strict):
    """What a lake-only ('format: files') dataset accepts; checked per file."""

    media_types: list[str] | None = Field(
        default=None, description="Allowed media types, e.g. [application/pdf, 'image/*'].")
    max_bytes: Annotated[int, Field(ge=1)] | None = None


class Contract(_Strict):
    """A dataset: where its files land, what its columns mean, which rules they obey."""

    name: Annotated[str, Field(pattern=IDENTIFIER, max_length=48)]
    description: str
    owner: str
    source: Source
    columns: list[Column] = Field(
        default_factory=list, description="At least one, except for a 'format: files' dataset.")
    primary_key: list[str] = Field(default_factory=list)
    reconcile: list[str] = Field(
        default_factory=list,
        description="Numeric columns whose per-file total must be conserved: raw = cleaned "
                    "+ quarantined + duplicates.",
    )
    group: Annotated[str, Field(pattern=IDENTIFIER)] | None = Field(
        default=None, description="Dagster asset group (business domain); default 'datasets'."
    )
    tags: dict[str, str] = Field(default_factory=dict)
    volume: Volume | None = Field(default=None, description="Rows expected per file.")
    schema_policy: SchemaPolicy = Field(
        default=SchemaPolicy.evolve,
        description="evolve: keep new columns; freeze: reject a file whose columns differ; "
                    "discard: drop unknown columns.")
    max_violation_rate: ViolationRate = Field(
        default=DEFAULT_MAX_VIOLATION_RATE,
        description="Share of a file's rows a column's rules (quarantined or flagged) or its "
                    "references may catch while its check still passes (counts in metadata); "
                    "a column may override it.")
    missing_columns: MissingColumns = Field(
        default=MissingColumns.fail,
        description="A file without a contract column: fail (default) or warn in the "
                    "columns_present check; the column is null in cleaned either way.")
    write: Write | None = Field(
        default=None, description="Also maintain current.<dataset> with this write mode.")
    freshness: Freshness | None = Field(
        default=None, description="Expected delivery rhythm, e.g. fail_after: 26h."
    )
    anomaly: Anomaly = Field(
        default_factory=Anomaly, description="Flag file metrics far outside recent history."
    )
    files: LakeFiles | None = Field(
        default=None, description="Lake-only datasets: allowed media types, maximum size.")
    retention: str | None = Field(
        default=None, description="Keep files this long after arrival (e.g. 90d); older lake "
                                  "files, their rows and partitions are pruned daily.")

    @field_validator("retention")
    @classmethod
    def _retention_is_a_duration(cls, value: str | None) -> str | None:
        if value is not None:
            parse_duration(value)
        return value

    @property
    def lake_only(self) -> bool:
        """Files kept in the lake and catalogued, never read as a table ('format: files')."""
        return self.source.format.value == "files"

    @property
    def landing_glob(self) -> str:
        default = "*" if self.lake_only else f"*.{self.source.format.value}"
        return self.source.landing or f"{self.name}/{default}"

    @property
    def group_name(self) -> str:
        return self.group or "datasets"

    def column(self, name: str) -> Column:
        return next(c for c in self.columns if c.name == name)

    def violation_limit(self, column: Column, rule: Rule | None = None) -> float:
        """The share of a file's rows ``column``'s rules (or, with ``rule=references``, its
        foreign key) may catch before its check fails. A references rule declared ``error``
        tolerates none unless the column sets its own rate."""
        if column.max_violation_rate is not None:
            return column.max_violation_rate
        if rule is Rule.references and column.severity_of(rule) is Severity.error:
            return 0.0
        return self.max_violation_rate

    @property
    def write_key(self) -> list[str]:
        return (self.write.key if self.write and self.write.key else self.primary_key)

    def _check_write(self, write: Write, names: list[str]) -> None:
        lineage = {"_ingested_at", "_row_number", "_partition", "_source_file"}
        unknown = [c for c in [*write.key, *write.sort_by, *write.partition_by]
                   if c not in names] + ([write.order_by]
                                         if write.order_by not in names and write.order_by not in lineage
                                         else [])
        if unknown:
            raise ValueError(f"write: {unknown} not among the columns {names}")
        if write.mode in (WriteMode.merge, WriteMode.history) and not self.write_key:
            raise ValueError(f"write: mode {write.mode.value} needs a key (write.key or primary_key)")
        if write.mode is WriteMode.partition and not write.partition_by:
            raise ValueError("write: mode partition needs partition_by (the columns a file replaces)")

    @model_validator(mode="after")
    def _columns_consistent(self) -> Contract:
        if self.lake_only:
            extra = [f for f in ("columns", "primary_key", "reconcile") if getattr(self, f)]
            if extra:
                raise ValueError(f"{extra[0]}: a 'format: files' dataset is kept as files, "
                                 "not read as a table; remove its " + ", ".join(extra))
        elif not self.columns:
            raise ValueError("columns: at least 1 column is required (only a 'format: files' "
                             "dataset, kept in the lake as files, has none)")
        elif self.files is not None:
            raise ValueError("files: only applies to 'format: files' datasets")
        names = [c.name for c in self.columns]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"columns: duplicated column name(s) {duplicated}")
        sources = [c.source_name for c in self.columns]
        duplicated = sorted({n for n in sources if sources.count(n) > 1})
        if duplicated:
            raise ValueError(f"columns: two columns read the same source column {duplicated}")
        unknown = [k for k in self.primary_key if k not in names]
        if unknown:
            raise ValueError(f"primary_key: {unknown} not among the columns {names}")
        nullable_keys = [k for k in self.primary_key if self.column(k).nullable]
        if nullable_keys:
            raise ValueError(f"primary_key: column(s) {nullable_keys} must be 'nullable: false'")
        not_numeric = [k for k in self.reconcile
                       if k not in names or self.column(k).type not in NUMERIC_TYPES]
        if not_numeric:
            raise ValueError(f"reconcile: {not_numeric} must be numeric columns "
                             "(integer, float or decimal) of this contract")
        for metric in self.anomaly.metrics or []:
            column, _, kind = metric.rpartition(".")
            if column and column not in names:
                raise ValueError(f"anomaly.metrics: {metric!r} names no column of the contract")
            if column and kind == "mean" and self.column(column).type not in NUMERIC_TYPES:
                raise ValueError(f"anomaly.metrics: {metric!r}: 'mean' needs an integer, float or "
                                 "decimal column")
            if column and kind == "mean" and column in self.primary_key:
                raise ValueError(f"anomaly.metrics: {metric!r}: the mean of a primary-key column "
                                 "is not measured")
        if self.write is not None:
            self._check_write(self.write, names)
        doubled = [n for n in [self.name, *names] if "__" in n]
        if doubled:
            raise ValueError(f"names may not contain '__' (reserved for platform tables): {doubled}")
        return self
