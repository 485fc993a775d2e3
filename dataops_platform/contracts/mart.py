"""The mart contract: a curated table declared by a SQL file (or a Python function) and YAML.

A mart is what a user adds to their project to publish a table: ``defs/marts/<name>/defs.yaml``
(type ``dataops_platform.components.Mart``) beside ``<name>.sql``. The same model is the
component's YAML schema (``dg check yaml``) and what ``dataops contracts validate`` checks.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from dataops_platform.contracts.model import IDENTIFIER, Write, _Strict

TABLE = r"^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$"


class RowCount(_Strict):
    """The candidate's row count must lie within [min, max] (either may be omitted)."""

    min: Annotated[int, Field(ge=0)] | None = None
    max: Annotated[int, Field(ge=0)] | None = None

    @model_validator(mode="after")
    def _ordered(self) -> RowCount:
        if self.min is None and self.max is None:
            raise ValueError("give min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is larger than max ({self.max})")
        return self


class AcceptedValues(_Strict):
    """Every non-null value of ``column`` is one of ``values``."""

    column: str
    values: list[str | int | float | bool] = Field(min_length=1)


class SqlAssertion(_Strict):
    """A custom audit: ``query`` selects the rows that violate it from ``{table}`` (the
    candidate); it passes when there are none (the dbt convention)."""

    name: Annotated[str, Field(pattern=IDENTIFIER)]
    description: str = ""
    query: str

    @model_validator(mode="after")
    def _uses_table(self) -> SqlAssertion:
        if "{table}" not in self.query:
            raise ValueError("query must read the candidate as {table}, e.g. "
                             "'select * from {table} where amount < 0'")
        return self


class MartChecks(_Strict):
    """Audits every candidate version must pass before it is published (all blocking)."""

    unique: list[list[str]] = Field(default_factory=list,
                                    description="each entry a set of columns no two rows share")
    not_null: list[str] = Field(default_factory=list)
    accepted_values: list[AcceptedValues] = Field(default_factory=list)
    row_count: RowCount | None = None
    sql: list[SqlAssertion] = Field(default_factory=list)


class MartSpec(_Strict):
    """One curated table: ``curated.<name>``, published through write-audit-publish."""

    name: Annotated[str, Field(pattern=IDENTIFIER, max_length=48)]
    description: str
    owner: str | None = Field(default=None, description="an e-mail or team:name, shown in the UI")
    depends_on: list[Annotated[str, Field(pattern=TABLE)]] = Field(
        min_length=1, description="the tables the select reads, as <schema>.<table>: "
                                  "cleaned.<dataset>, current.<dataset>, curated.<mart>, "
                                  "entity.<entity>")
    sql: str | None = Field(default=None, description="the .sql file (a select), relative to "
                                                      "the YAML; default <name>.sql")
    python: str | None = Field(default=None, description="instead of sql: 'file.py:function', a "
                                                         "function(conn) returning a DataFrame")
    primary_key: list[str] = Field(default_factory=list,
                                   description="audited as unique (the unique_key check; rows "
                                               "with a null key are counted in its metadata)")
    checks: MartChecks = MartChecks()
    write: Write | None = Field(default=None, description="incremental: apply each build as a "
                                                          "batch to the published version")
    tags: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_body(self) -> MartSpec:
        if self.sql is not None and self.python is not None:
            raise ValueError("give sql or python, not both")
        if self.python is not None and ":" not in self.python:
            raise ValueError(f"python: {self.python!r} must be 'file.py:function'")
        if "__" in self.name:
            raise ValueError(f"name: {self.name!r} may not contain '__' (reserved)")
        return self

    @property
    def sql_file(self) -> str:
        return self.sql or f"{self.name}.sql"
