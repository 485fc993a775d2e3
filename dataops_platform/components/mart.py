"""The mart component: a curated table declared by YAML plus a SQL file (or a Python
function), published through write-audit-publish with the audits the YAML declares."""

from __future__ import annotations

import hashlib
from functools import cached_property
from pathlib import Path

import dagster as dg
from pydantic import BaseModel

from dataops_platform.components.scaffold import MartScaffolder
from dataops_platform.contracts.loader import ContractError, ContractProblem
from dataops_platform.contracts.mart import MartSpec
from dataops_platform.transform.marts import FrameFn, build_mart
from dataops_platform.transform.wap import PublishedTable


@dg.scaffold_with(MartScaffolder)
class Mart(dg.Component):
    """``audit/<name>`` writes a candidate version from the select, the declared audits check
    it (blocking), ``curated/<name>`` publishes it; ``dataops rollback curated.<name>``
    restores the previous version."""

    def __init__(self, spec: MartSpec, folder: Path, frame: FrameFn | None = None) -> None:
        self.spec = spec
        self.folder = folder
        self.frame = frame

    @classmethod
    def get_model_cls(cls) -> type[BaseModel]:
        return MartSpec

    @classmethod
    def load(cls, attributes: BaseModel | None, context: dg.ComponentLoadContext) -> Mart:
        if not isinstance(attributes, MartSpec):
            raise dg.DagsterInvalidDefinitionError(
                f"{context.path / 'defs.yaml'}: a Mart needs name, description and depends_on.")
        frame = None
        if attributes.python is not None:
            file, _, function = attributes.python.partition(":")
            module = context.load_defs_relative_python_module(context.path / file)
            frame = getattr(module, function, None)
            if not callable(frame):
                raise ContractError([ContractProblem(context.path / "defs.yaml", "python",
                                                     f"{file} has no function '{function}'")])
        return cls(attributes, context.path, frame)

    @property
    def declared_in(self) -> Path:
        return self.folder / "defs.yaml"

    def sql_text(self) -> str | None:
        if self.spec.python is not None:
            return None
        path = self.folder / self.spec.sql_file
        try:
            return path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ContractError([ContractProblem(self.declared_in, "sql",
                                                 f"cannot read {path.name}: {exc}")]) from None

    def code_version(self) -> str:
        """The declaration and its SQL or Python file: a change to either rebuilds the mart."""
        body = self.folder / (self.spec.python or self.spec.sql_file).split(":")[0]
        text = body.read_bytes() if body.is_file() else b""
        digest = hashlib.sha256(self.spec.model_dump_json().encode("utf-8") + b"\0" + text)
        return digest.hexdigest()[:12]

    @cached_property
    def compiled(self) -> PublishedTable:
        try:
            return build_mart(self.spec, sql=self.sql_text(), frame=self.frame,
                              code_version=self.code_version(),
                              declared_in=self.folder / (self.spec.python or self.spec.sql_file)
                              .split(":")[0])
        except ValueError as exc:
            raise ContractError([ContractProblem(self.declared_in, "", str(exc))]) from None

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        return dg.Definitions(assets=self.compiled.assets, asset_checks=self.compiled.checks)
