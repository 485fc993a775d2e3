"""What ``dg scaffold defs dataops_platform.components.<Type> <path>`` writes: a working
starting point named after the new folder, never an empty file."""

from __future__ import annotations

import re
from typing import Any

import dagster as dg


def _name(request: dg.ScaffoldRequest) -> str:
    """The instance's name from its folder (``marts/daily_sales`` -> ``daily_sales``)."""
    return re.sub(r"[^a-z0-9_]", "_", request.target_path.name.lower()).strip("_") or "example"


def example_dataset(name: str) -> dict[str, Any]:
    return {
        "name": name,
        "description": f"What one {name} file holds (edit me).",
        "owner": "team:data",
        "source": {"format": "csv", "landing": f"{name}/*.csv"},
        "columns": [
            {"name": "id", "type": "integer", "nullable": False},
            {"name": "label", "type": "string"},
            {"name": "amount", "type": "decimal", "min": 0},
        ],
        "primary_key": ["id"],
    }


def example_mart(name: str, dataset: str = "example") -> dict[str, Any]:
    return {
        "name": name,
        "description": f"What {name} answers (edit me).",
        "owner": "team:data",
        "depends_on": [f"cleaned.{dataset}"],
        "primary_key": ["label"],
        "checks": {"row_count": {"min": 1}},
    }


def example_mart_sql(dataset: str = "example") -> str:
    return (f"-- The rows of curated.<this mart>: any DuckDB select over the warehouse.\n"
            f"select label, count(*) as rows, sum(amount) as amount\n"
            f"from cleaned.{dataset}\ngroup by label\n")


class YamlScaffolder(dg.Scaffolder):
    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        name = _name(request)
        attributes = example_dataset(name) if request.type_name.endswith(".Dataset") else {
            "name": name, "sources": [{"dataset": "example", "id": "id"}],
            "fields": ["first_name", "last_name", "email"]}
        dg.scaffold_component(request, yaml_attributes=attributes)


class MartScaffolder(dg.Scaffolder):
    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        name = _name(request)
        dg.scaffold_component(request, yaml_attributes=example_mart(name))
        (request.target_path / f"{name}.sql").write_text(example_mart_sql(), encoding="utf-8")
