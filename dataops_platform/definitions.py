"""The code location's one entry point (``dagster dev`` and ``dg`` load it via workspace.yaml)."""

import dagster as dg

from dataops_platform.factory import build_definitions
from dataops_platform.settings import Settings


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions(Settings.from_env())
