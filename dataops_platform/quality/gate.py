"""`dataops check`: every check, re-evaluated against the warehouse as it is now.

A CI gate: file checks run through the same evaluators as the Dagster asset checks (a
checks-only job cannot take a partition key in 1.13, and runless evaluations can be
recorded only once per partition, so the per-file results are printed, not recorded).
Checks of unpartitioned assets (the curated marts) run as a checks-only Dagster job, on
the *published* version of each mart (``curated.<mart>``, what users query), not on the
latest candidate: a candidate that failed its audit was never published and does not fail
the gate. Each outcome names the version it audited (metadata ``version``).
"""

from __future__ import annotations

import dagster as dg

from dataops_platform.automation.one_pass import QUIET, CheckOutcome
from dataops_platform.factory import CURATED_CHECK_JOB_NAME, Platform
from dataops_platform.quality.checks import FILE_CHECKS
from dataops_platform.quality.rule_checks import evaluate_rules
from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse, warehouse_exists
from dataops_platform.transform.wap import AUDIT_PUBLISHED


def run_gate(settings: Settings, platform: Platform,
             instance: dg.DagsterInstance) -> list[CheckOutcome]:
    outcomes: list[CheckOutcome] = []
    if not warehouse_exists(settings.warehouse):
        return outcomes
    conn = open_warehouse(settings.warehouse)
    try:
        for dataset in platform.datasets:
            for key in sorted(instance.get_materialized_partitions(dataset.cleaned_key)):
                for spec in (s for s in FILE_CHECKS if s.applies(dataset.contract)):
                    result = spec.evaluate(conn, dataset.contract, key)
                    outcomes.append(CheckOutcome(
                        dataset.cleaned_key.to_user_string(), spec.name, key, result.passed,
                        result.severity.value, dict(result.metadata)))
                for name, result in evaluate_rules(conn, dataset.contract, key).items():
                    outcomes.append(CheckOutcome(
                        dataset.cleaned_key.to_user_string(), name, key, result.passed,
                        result.severity.value, dict(result.metadata)))
    finally:
        conn.close()
    outcomes.extend(_curated(platform, instance))
    return outcomes


def _curated(platform: Platform, instance: dg.DagsterInstance) -> list[CheckOutcome]:
    defs = platform.definitions
    if not any(getattr(job, "name", None) == CURATED_CHECK_JOB_NAME for job in defs.jobs or []):
        return []
    graph = defs.resolve_asset_graph()
    if not any(instance.get_latest_materialization_event(k) is not None
               for k in graph.materializable_asset_keys if k.path[0] == "curated"):
        return []  # nothing curated yet: nothing to check
    result = defs.resolve_job_def(CURATED_CHECK_JOB_NAME).execute_in_process(
        instance=instance, run_config=QUIET, raise_on_error=False)
    outcomes = []
    for e in result.get_asset_check_evaluations():
        audited = e.metadata.get("audited_table")  # "curated.<mart>": reported as that table
        published = getattr(e.metadata.get("audited"), "value", None) == AUDIT_PUBLISHED
        asset = (str(audited.value).replace(".", "/") if published and audited is not None
                 else e.asset_key.to_user_string())
        outcomes.append(CheckOutcome(asset, e.check_name, None, e.passed, e.severity.value,
                                     dict(e.metadata)))
    return outcomes
