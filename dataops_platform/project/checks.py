"""Problems that span declarations (one file alone cannot show them), as sentences naming
the file and field: a reference to a dataset nobody declared, a mart reading a table that
does not exist, two declarations with one name."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dataops_platform.contracts.loader import ContractError, ContractProblem, reference_problems
from dataops_platform.resolve.loader import source_problems

if TYPE_CHECKING:
    from dataops_platform.components import Dataset, Entity, Mart


@dataclass
class Problems:
    items: list[ContractProblem] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(p) for p in self.items)

    def raise_if_any(self) -> None:
        if self.items:
            raise ContractError(self.items)


def _in_attributes(problem: ContractProblem) -> ContractProblem:
    """Fields as the user finds them in ``defs.yaml``: under ``attributes:``."""
    if not problem.field:
        return problem
    return replace(problem, field=f"attributes.{problem.field}")


def cross_problems(datasets: Sequence[Dataset], marts: Sequence[Mart],
                   entities: Sequence[Entity]) -> Problems:
    problems = Problems()
    seen: dict[str, str] = {}
    declared = [(d.contract.name, d.declared_in) for d in datasets] \
        + [(m.spec.name, m.declared_in) for m in marts] \
        + [(e.spec.name, e.declared_in) for e in entities]
    for name, path in declared:
        if name in seen and path is not None:
            problems.items.append(ContractProblem(path, "attributes.name", f"'{name}' is declared twice "
                                                  f"(also in {seen[name]}); names are unique"))
        seen[name] = str(path)
    by_path = {d.declared_in: d.contract for d in datasets if d.declared_in is not None}
    problems.items += [_in_attributes(p) for p in
                       reference_problems(by_path, {d.contract.name for d in datasets})]
    tables = [d.contract for d in datasets if not d.contract.lake_only]
    for e in entities:
        if e.declared_in is not None:
            problems.items += [_in_attributes(p) for p in
                               source_problems(e.declared_in, e.spec, {c.name: c for c in tables})]
    known = {f"cleaned.{c.name}" for c in tables} | {f"raw.{c.name}" for c in tables} \
        | {f"current.{c.name}" for c in tables if c.write is not None} \
        | {f"curated.{m.spec.name}" for m in marts} \
        | {f"entity.{e.spec.name}" for e in entities} \
        | {f"curated.{e.spec.name}_golden" for e in entities}
    for m in marts:
        for i, table in enumerate(m.spec.depends_on):
            if table not in known:
                problems.items.append(ContractProblem(
                    m.declared_in, f"attributes.depends_on[{i}]", f"no table {table} is declared in this "
                    f"project (known: {', '.join(sorted(known)) or 'none'})"))
    return problems
