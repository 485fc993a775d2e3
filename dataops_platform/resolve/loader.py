"""Check an entity declaration against the dataset contracts it reads.

Every problem is a sentence naming the file and field, as for dataset contracts: a source
dataset without a contract, or a column the dataset does not have.
"""

from __future__ import annotations

from pathlib import Path

from dataops_platform.contracts.loader import ContractProblem
from dataops_platform.contracts.model import Contract
from dataops_platform.resolve.spec import EntitySpec

LINEAGE = {"_ingested_at", "_row_number", "_partition", "_source_file"}


def source_problems(path: Path, spec: EntitySpec, datasets: dict[str, Contract]) -> list[ContractProblem]:
    problems = []
    for i, source in enumerate(spec.sources):
        where = f"sources[{i}] ({source.dataset})"
        contract = datasets.get(source.dataset)
        if contract is None:
            problems.append(ContractProblem(path, where, f"dataset '{source.dataset}' is not "
                                            "declared in this project (or is lake-only)"))
            continue
        columns = {c.name for c in contract.columns}
        wanted = {"id": source.id, "order_by": source.order_by,
                  **{f"fields.{f.name}": source.column(f.name) for f in spec.fields}}
        for field, column in wanted.items():
            if column not in columns and not (field == "order_by" and column in LINEAGE):
                problems.append(ContractProblem(path, f"{where}.{field}", f"dataset "
                                                f"'{source.dataset}' has no column '{column}'"))
    return problems
