"""Launch one partition run of ``process_orders`` in its own process (concurrency test).

Each launcher is a separate OS process, as runs launched by the Dagster daemon are; the
multiprocess executor then runs every step in a process of its own.
"""

import os
import sys
from pathlib import Path

import dagster as dg

from dataops_platform.factory import build_definitions
from dataops_platform.settings import Settings


def process_orders() -> dg.JobDefinition:
    settings = Settings.resolve(Path(os.environ["DATAOPS_PROJECT"]))
    return build_definitions(settings).resolve_job_def("process_orders")


def launch(partition_key: str) -> int:
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(dg.reconstructable(process_orders), instance,
                                tags={"dagster/partition": partition_key}, raise_on_error=False)
        print(result.run_id)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(launch(sys.argv[1]))
