"""A reconstructable job for the concurrency test: child processes rebuild it from the env."""

import dagster as dg

from dataops_platform.factory import build_definitions
from dataops_platform.settings import Settings


def process_orders() -> dg.JobDefinition:
    return build_definitions(Settings.from_env()).resolve_job_def("process_orders")
