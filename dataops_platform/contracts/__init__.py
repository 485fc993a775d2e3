"""Dataset contracts: the typed model and its loader."""

from dataops_platform.contracts.loader import ContractError, ContractProblem
from dataops_platform.contracts.model import Column, ColumnType, Contract, Rule, Severity

__all__ = ["Column", "ColumnType", "Contract", "ContractError", "ContractProblem", "Rule",
           "Severity"]
