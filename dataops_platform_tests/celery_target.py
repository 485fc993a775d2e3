"""A two-step job for the Celery test: each step records its process id and waits for the other
step's record, so both can only finish if two workers run them at the same time (no timing).
Loaded by the workers from its code pointer (this module), with the platform's executor."""

import os
import time
from pathlib import Path

import dagster as dg

from dataops_platform.profiles.execution import executor_for
from dataops_platform.settings import Settings

MEET_TIMEOUT_S = 60.0


def _meet(folder: str, me: str, other: str) -> int:
    Path(folder, f"{me}.pid").write_text(str(os.getpid()), encoding="utf-8")
    deadline = time.monotonic() + MEET_TIMEOUT_S
    while not Path(folder, f"{other}.pid").exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{other} never started while {me} was running")
        time.sleep(0.05)
    return os.getpid()


@dg.op(config_schema={"folder": str})
def left(context: dg.OpExecutionContext) -> int:
    return _meet(context.op_config["folder"], "left", "right")


@dg.op(config_schema={"folder": str})
def right(context: dg.OpExecutionContext) -> int:
    return _meet(context.op_config["folder"], "right", "left")


PRODUCTION = Settings(home=Path("."), project_dir=Path("."), profile="production")


@dg.job(executor_def=executor_for(PRODUCTION))
def two_steps() -> None:
    left()
    right()
