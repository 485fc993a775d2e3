"""One partition run of ``process_<dataset>`` in its own process, the job's own executor
(the DuckLake concurrency test starts eight of these at once). Waits for the ``go`` file
so that every process has imported and built its definitions before any starts writing."""

import os
import sys
import time
from pathlib import Path

import dagster as dg

from dataops_platform.factory import build_definitions
from dataops_platform.settings import Settings


def job() -> dg.JobDefinition:
    settings = Settings.resolve(Path(os.environ["DATAOPS_PROJECT"]))
    return build_definitions(settings).resolve_job_def(os.environ["DATAOPS_TEST_JOB"])


def launch(partition_key: str, ready: Path, go: Path) -> int:
    recon = dg.reconstructable(job)
    recon.get_definition()  # import and build now, not after the start signal
    ready.write_text(str(os.getpid()))
    while not go.exists():  # handshake: the test creates it once all are ready
        time.sleep(0.01)
    with dg.DagsterInstance.get() as instance:
        result = dg.execute_job(recon, instance, tags={"dagster/partition": partition_key},
                                raise_on_error=False)
        print(result.run_id)
        return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(launch(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])))
