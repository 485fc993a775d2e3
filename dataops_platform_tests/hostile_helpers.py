"""Shared by the hostile-input tests: a home with one small contract instead of the demo."""

from __future__ import annotations

import yaml

from dataops_platform_tests.project_files import ContractsDir

THINGS = {
    "name": "things", "description": "Things delivered as CSV.", "owner": "o@example.com",
    "source": {"format": "csv"},
    "primary_key": ["id"],
    "columns": [
        {"name": "id", "type": "integer", "nullable": False},
        {"name": "label"},
        {"name": "price", "type": "decimal", "precision": 12, "scale": 2},
    ],
}


def only_contracts(contracts_dir: ContractsDir, *contracts: dict) -> None:
    """Replace the example's datasets, marts and entities with exactly ``contracts``."""
    contracts_dir.clear()
    for contract in contracts:
        (contracts_dir / f"{contract['name']}.yaml").write_text(
            yaml.safe_dump(contract, sort_keys=False), encoding="utf-8")


def tables(query) -> list[tuple]:
    """Every warehouse table with its row count (to show nothing was dropped or changed)."""
    names = query("select schema_name, table_name from duckdb_tables() order by 1, 2")
    return [(s, t, query(f'select count(*) from "{s}"."{t}"')[0][0]) for s, t in names]
