"""Load contracts from a folder and turn every problem into a sentence a person can act on.

A broken contract must never surface as a pydantic traceback: each problem names the file,
the field path (``columns[2].type``) and what is wrong.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from dataops_platform.contracts.model import Contract

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class ContractProblem:
    file: Path
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else str(self.file)
        return f"{where}: {self.message}"


class ContractError(Exception):
    """One or more contract files are broken; ``problems`` lists every one of them."""

    def __init__(self, problems: list[ContractProblem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{len(problems)} problem(s) in contracts:\n{lines}\n"
            "Fix the contract file(s) above; `dataops contracts validate` re-checks them."
        )


def _field_path(loc: tuple[int | str, ...], data: object) -> str:
    """Render pydantic's location as ``columns[2].type`` and name the column when known."""
    parts: list[str] = []
    node = data
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            if isinstance(node, list) and item < len(node) and isinstance(node[item], dict):
                name = node[item].get("name")
                if name:
                    label = f"[{item}] ({name})"
            parts.append(label)
            node = node[item] if isinstance(node, list) and item < len(node) else None
        else:
            parts.append(("." if parts else "") + str(item))
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts)


def read_yaml(path: Path) -> object:
    """The YAML document in ``path``; unreadable or invalid YAML is a ContractError naming
    the line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ContractError([ContractProblem(path, "", f"cannot be read: {exc}")]) from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ContractError([ContractProblem(path, where, f"is not valid YAML: {problem}")]) from None


def validate_data(path: Path, data: object, model: type[M], what: str, prefix: str = "") -> M:
    """Validate a mapping read from ``path`` into ``model``; every problem names the field
    (``prefix`` + ``columns[2] (amount).type``)."""
    if not isinstance(data, dict):
        raise ContractError([ContractProblem(path, prefix.rstrip("."),
                                             f"must be a YAML mapping with {what}")])
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            message = err["msg"].removeprefix("Value error, ")
            if err["type"] == "extra_forbidden":
                message = "unknown field (check the spelling; see the README's contract reference)"
            elif err["type"] == "missing":
                message = "is required"
            elif "input" in err and err["type"] not in ("model_type",) and err["loc"]:
                message = f"{message} (got {err['input']!r})"
            problems.append(ContractProblem(path, prefix + _field_path(err["loc"], data), message))
        raise ContractError(problems) from None


def parse_model(path: Path, model: type[M], what: str) -> M:
    """Parse one YAML file into ``model``; raise ContractError listing all of its problems.

    ``what`` says what the mapping must hold (for a file that is not a mapping at all).
    The top-level ``name`` must match the file name, so each thing has exactly one file.
    """
    data = read_yaml(path)
    if isinstance(data, dict) and data.get("name") != path.stem:
        problem = ContractProblem(path, "name", f"{data.get('name')!r} must match the file "
                                  f"name '{path.stem}' so each has exactly one file")
        try:
            validate_data(path, data, model, what)
        except ContractError as exc:
            raise ContractError([problem, *exc.problems]) from None
        raise ContractError([problem])
    return validate_data(path, data, model, what)


def parse_contract(path: Path) -> Contract:
    """Parse one dataset contract file; raise ContractError listing all of its problems."""
    return parse_model(path, Contract, "name, source and columns")


def reference_problems(parsed: dict[Path, Contract], names: set[str]) -> list[ContractProblem]:
    """Every `references:` must name a dataset with a contract, and one of its columns.

    ``names`` are all contract file names, so a reference to a contract that is itself
    broken is not reported twice.
    """
    by_name = {c.name: c for c in parsed.values()}
    problems = []
    for path, contract in parsed.items():
        for i, column in enumerate(contract.columns):
            ref = column.references
            if ref is None:
                continue
            field = f"columns[{i}] ({column.name}).references"
            target = by_name.get(ref.dataset)
            if target is None and ref.dataset not in names:
                problems.append(ContractProblem(
                    path, field, f"dataset '{ref.dataset}' is not declared in this project"))
            elif target is not None and ref.column not in {c.name for c in target.columns}:
                problems.append(ContractProblem(
                    path, field, f"dataset '{ref.dataset}' has no column '{ref.column}'"))
    return problems


def in_dependency_order(contracts: list[Contract]) -> list[Contract]:
    """Referenced datasets before the datasets referencing them (then by name), so a pass
    cleans customers before it checks the orders that point at them."""
    by_name = {c.name: c for c in contracts}
    ordered: list[Contract] = []
    visiting: set[str] = set()

    def visit(contract: Contract) -> None:
        if contract in ordered or contract.name in visiting:
            return  # done, or a reference cycle (then file order decides)
        visiting.add(contract.name)
        for column in contract.columns:
            target = by_name.get(column.references.dataset) if column.references else None
            if target is not None:
                visit(target)
        ordered.append(contract)

    for contract in sorted(contracts, key=lambda c: c.name):
        visit(contract)
    return ordered
