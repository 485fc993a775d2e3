"""Dagster jobs and schedules for database and API sources: one ``extract_<dataset>`` job
and one schedule per source, visible in the UI.

The job's single op extracts into the landing folder (see ``extract.py``); the landing
sensor then registers the delivery and runs raw -> cleaned -> current as for any file, so
freshness policies, checks and alerts apply unchanged. Schedules start *stopped* unless the
contract says ``schedule: {running: true}``: extraction touches an operational system, so
it is switched on deliberately (in the UI, or in the contract).
"""

from collections.abc import Sequence

import dagster as dg

from dataops_platform.collect.extract import ExtractError, extract
from dataops_platform.collect.resources import LandingZone
from dataops_platform.contracts.model import Contract


def extract_job_name(contract: Contract) -> str:
    return f"extract_{contract.name}"


def build_extract_job(contract: Contract) -> dg.JobDefinition:
    source = contract.source

    @dg.op(name=f"extract_{contract.name}_op", tags={"dataops/dataset": contract.name},
           description=f"Extract '{contract.name}' from its {source.kind.value} source "
                       f"({source.extract_mode.value}) into the landing folder.")
    def extract_op(context: dg.OpExecutionContext, landing: LandingZone) -> dg.Output[None]:
        try:
            done = extract(contract, landing.path, landing.state_path, landing.lake_path)
        except ExtractError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        context.log.info(done.describe())
        return dg.Output(None, metadata={
            "file": done.file or "(nothing new)", "rows": done.rows,
            "cursor_from": str(done.cursor_from), "cursor_to": str(done.cursor_to),
            "recovered": done.recovered})

    @dg.job(name=extract_job_name(contract), tags={"dataops/dataset": contract.name},
            description=f"Extract new rows of '{contract.name}' ({source.kind.value}); the "
                        "landing sensor ingests the stored extraction.")
    def extract_job() -> None:
        extract_op()

    return extract_job


def build_extract_jobs(contracts: Sequence[Contract],
                       ) -> tuple[list[dg.JobDefinition], list[dg.ScheduleDefinition]]:
    jobs, schedules = [], []
    for contract in contracts:
        if not contract.source.extracted:
            continue
        job = build_extract_job(contract)
        jobs.append(job)
        schedule = contract.source.schedule
        schedules.append(dg.ScheduleDefinition(
            name=f"extract_{contract.name}_schedule", job=job, cron_schedule=schedule.cron,
            default_status=dg.DefaultScheduleStatus.RUNNING if schedule.running
            else dg.DefaultScheduleStatus.STOPPED,
            description=f"Extract '{contract.name}' from its {contract.source.kind.value} source."))
    return jobs, schedules
