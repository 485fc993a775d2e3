"""Load the entity contracts (``<contracts>/entities/*.yaml``) against the dataset contracts.

Every problem is a sentence naming the file and field, as for dataset contracts: a source
dataset without a contract, or a column the dataset does not have.
"""

from __future__ import annotations

from pathlib import Path

from dataops_platform.contracts.loader import (
    ContractError,
    ContractProblem,
    contract_files,
    parse_model,
)
from dataops_platform.contracts.model import Contract
from dataops_platform.resolve.spec import EntitySpec

ENTITIES_FOLDER = "entities"
LINEAGE = {"_ingested_at", "_row_number", "_partition", "_source_file"}


def entity_files(contracts_dir: Path) -> list[Path]:
    folder = contracts_dir / ENTITIES_FOLDER
    return contract_files(folder) if folder.is_dir() else []


def source_problems(path: Path, spec: EntitySpec, datasets: dict[str, Contract]) -> list[ContractProblem]:
    problems = []
    for i, source in enumerate(spec.sources):
        where = f"sources[{i}] ({source.dataset})"
        contract = datasets.get(source.dataset)
        if contract is None:
            problems.append(ContractProblem(path, where, f"dataset '{source.dataset}' has no "
                                            "contract (or is lake-only)"))
            continue
        columns = {c.name for c in contract.columns}
        wanted = {"id": source.id, "order_by": source.order_by,
                  **{f"fields.{f.name}": source.column(f.name) for f in spec.fields}}
        for field, column in wanted.items():
            if column not in columns and not (field == "order_by" and column in LINEAGE):
                problems.append(ContractProblem(path, f"{where}.{field}", f"dataset "
                                                f"'{source.dataset}' has no column '{column}'"))
    return problems


def load_entity_specs(contracts_dir: Path, contracts: list[Contract]) -> list[EntitySpec]:
    """Every entity contract, checked against ``contracts``; one ContractError lists all problems."""
    datasets = {c.name: c for c in contracts if not c.lake_only}
    specs, problems = [], []
    for path in entity_files(contracts_dir):
        try:
            spec = parse_model(path, EntitySpec, "name, sources and fields")
        except ContractError as exc:
            problems.extend(exc.problems)
            continue
        problems.extend(source_problems(path, spec, datasets))
        specs.append(spec)
    if problems:
        raise ContractError(problems)
    return specs
