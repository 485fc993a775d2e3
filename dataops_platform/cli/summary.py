"""The per-dataset summary the CLI prints: where every landed row went, and the checks."""

from __future__ import annotations

from collections.abc import Sequence

from dataops_platform.automation.one_pass import (
    CheckOutcome,
    PassResult,
    RunTiming,
    summarize_decisions,
)
from dataops_platform.automation.replay import ReplayResult
from dataops_platform.collect.decisions import Action
from dataops_platform.factory import DatasetAssets
from dataops_platform.quality.checks import ledger_totals
from dataops_platform.quality.rule_checks import PREFIX as RULE_PREFIX
from dataops_platform.quality.rule_checks import is_rule_check
from dataops_platform.quality.trace import FileTrace, RowHits
from dataops_platform.resolve import state as resolve_state
from dataops_platform.resolve.spec import EntitySpec
from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse, warehouse_exists


def _table(headers: list[str], rows: Sequence[Sequence[object]]) -> str:
    cells = [headers, *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["  ".join(c.rjust(w) if i else c.ljust(w)
                       for i, (c, w) in enumerate(zip(r, widths, strict=True)))
             for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def entity_lines(settings: Settings, specs: Sequence[EntitySpec]) -> list[str]:
    """One line per resolved entity: records, entities, matches, the review backlog."""
    if not specs or not warehouse_exists(settings.warehouse):
        return []
    lines = []
    conn = open_warehouse(settings.warehouse, read_only=True)
    try:
        for spec in specs:
            for run in resolve_state.latest_runs(conn, spec, 1):
                pending = run["pending_review"]
                lines.append(f"entity {spec.name}: {run['records']} records -> {run['entities']} "
                             f"entities ({run['matched_records']} records share an entity), "
                             f"golden records in curated.{spec.name}_golden"
                             + (f"; {pending} pair(s) wait for review "
                                f"(`dataops review list {spec.name}`)" if pending else ""))
    finally:
        conn.close()
    return lines


def render_summary(settings: Settings, datasets: Sequence[DatasetAssets],
                   result: PassResult, entities: Sequence[EntitySpec] = ()) -> str:
    decisions = summarize_decisions(result.decisions)
    rows: list[list[object]] = []
    unbalanced = []
    if warehouse_exists(settings.warehouse):
        conn = open_warehouse(settings.warehouse)
        try:
            totals = {d.contract.name: ledger_totals(conn, d.contract) for d in datasets}
        finally:
            conn.close()
    else:
        totals = {}
    for dataset in datasets:
        name = dataset.contract.name
        t = totals.get(name, {"files": 0, "raw": 0, "cleaned": 0, "quarantined": 0,
                              "duplicates": 0})
        all_checks = [c for c in result.checks if c.asset == f"cleaned/{name}"]
        checks = [c for c in all_checks if not is_rule_check(c.check)]
        rules = [c for c in all_checks if is_rule_check(c.check)]
        failed = [c for c in checks if not c.passed]
        seen = decisions.get(name, {})
        rows.append([name, t["files"], len(result.processed.get(name, [])),
                     seen.get("duplicate", 0), t["raw"], t["cleaned"],
                     t["quarantined"], t["duplicates"],
                     f"{len(checks) - len(failed)}/{len(checks)}",
                     f"{sum(c.passed for c in rules)}/{len(rules)}"])
        if t["raw"] != t["cleaned"] + t["quarantined"] + t["duplicates"]:
            unbalanced.append(name)
    out = [_table(["dataset", "files", "new", "re-delivered", "rows in", "cleaned", "quarantined",
                   "duplicates", "checks ok", "columns clean"], rows)]
    if not any(result.processed.values()):
        out.append("nothing new landed: no runs were needed (the tables above are current)")
    out.extend(skipped_lines(result))
    out.extend(timing_lines(result.timings))
    curated = [c for c in result.checks if c.asset.startswith(("curated/", "audit/"))]
    if curated:
        ok = sum(c.passed for c in curated)
        out.append(f"curated marts: {ok}/{len(curated)} checks passed")
    out.extend(entity_lines(settings, entities))
    out.append("every row accounted for (rows in = cleaned + quarantined + duplicates)"
               if not unbalanced else f"ROWS UNACCOUNTED FOR in: {', '.join(unbalanced)}")
    for check in result.checks:
        if not check.passed:  # a rule check fails only past its max_violation_rate
            where = f" [{check.partition}]" if check.partition else ""
            missing = check.metadata.get("missing_columns")
            detail = f": column(s) missing — {getattr(missing, 'value', missing)} (null in every " \
                "row; fix the file or the contract's rename_from)" if missing is not None else ""
            out.append(f"{check.severity:5} check failed: {check.asset} {check.check}{where}{detail}")
    out.extend(_rule_violations(result.checks))
    audits: dict[str, list[str]] = {}
    for check in result.checks:
        if not check.passed and check.asset.startswith("audit/"):
            audits.setdefault(check.asset.removeprefix("audit/"), []).append(check.check)
    for mart, failed_checks in audits.items():
        out.append(f"HELD  {mart} not published: its candidate audit/{mart} failed "
                   + ", ".join(failed_checks) + f"; the published table is unchanged (inspect the "
                   f"candidate as audit.{mart})")
    for mart, blocking in result.held.items():
        out.append(f"HELD  {mart} not rebuilt: a blocking check failed upstream ("
                   + ", ".join(blocking[:3]) + (" ..." if len(blocking) > 3 else "")
                   + "); fix the file or contract, then `dataops run` or replay")
    if result.reaped:
        out.append(f"recovered {len(result.reaped)} run(s) left behind by a process that died; "
                   "their work was redone")
    for failure in result.failures:
        out.append(f"FAILED {failure}")
    return "\n".join(out)


MAX_LISTED = 10  # longer lists are summed up: the summary stays readable at 1,000 files


def skipped_lines(result: PassResult) -> list[str]:
    """Each identical re-delivery of this pass, and what it is a copy of."""
    skipped = [(name, d) for name, items in result.decisions.items() for d in items
               if d.action is Action.duplicate]
    lines = [f"skipped {name} {d.relative_path}: same content as {d.duplicate_of} "
             "(an identical re-delivery, not loaded again)" for name, d in skipped[:MAX_LISTED]]
    if len(skipped) > MAX_LISTED:
        lines.append(f"skipped {len(skipped) - MAX_LISTED} more identical re-deliveries")
    return lines


def _short(step_key: str) -> str:
    return step_key.replace("__", "/")


def timing_lines(timings: Sequence[RunTiming]) -> list[str]:
    """Per run: wall time and its three slowest steps (all of them are in the run's log)."""
    lines = []
    for timing in timings[:MAX_LISTED]:
        where = f" [{timing.partition}]" if timing.partition else ""
        slowest = ", ".join(f"{_short(step)} {secs:.2f} s" for step, secs in timing.steps[:3])
        lines.append(f"time: {timing.job}{where} {timing.seconds:.2f} s"
                     + (f" (slowest steps: {slowest})" if slowest else ""))
        if len(timing.files) > 1:
            files = ", ".join(f"{key} {secs:.2f} s" for key, secs in timing.files[:3])
            lines.append(f"time:   {len(timing.files)} files, "
                         f"{sum(s for _, s in timing.files) / len(timing.files):.2f} s each on "
                         f"average to load, clean and apply (slowest: {files})")
    if len(timings) > MAX_LISTED:
        rest = timings[MAX_LISTED:]
        lines.append(f"time: {len(rest)} more run(s), {sum(t.seconds for t in rest):.2f} s")
    if timings:
        lines.append(f"time: {len(timings)} run(s), {sum(t.seconds for t in timings):.2f} s "
                     "in all")
    return lines


def unbalanced(settings: Settings, datasets: Sequence[DatasetAssets]) -> list[str]:
    """Datasets where raw != cleaned + quarantined + duplicates (any file)."""
    if not warehouse_exists(settings.warehouse):
        return []
    conn = open_warehouse(settings.warehouse)
    try:
        totals = {d.contract.name: ledger_totals(conn, d.contract) for d in datasets}
    finally:
        conn.close()
    return [name for name, t in totals.items()
            if t["raw"] != t["cleaned"] + t["quarantined"] + t["duplicates"]]


def _rule_violations(checks: Sequence[CheckOutcome]) -> list[str]:
    """One line per dataset naming the columns whose rules caught rows (and in how many files)."""
    files: dict[str, dict[str, int]] = {}
    for c in checks:
        if is_rule_check(c.check) and c.metadata.get("violations"):  # caught, within rate or not
            column = c.check.removeprefix(RULE_PREFIX)
            files.setdefault(c.asset, {}).setdefault(column, 0)
            files[c.asset][column] += 1
    return [f"NOTE  rules caught rows in {asset}: "
            + ", ".join(f"{col} ({n} file{'s' * (n > 1)})" for col, n in columns.items())
            + " (quarantined or flagged; `dataops trace <file>` shows counts)"
            for asset, columns in files.items()]


def _value(v: object) -> object:
    return getattr(v, "value", v)


def render_gate(outcomes: Sequence[CheckOutcome]) -> str:
    """Per asset: checks run, passed, failed by severity; then one line per failure."""
    by_asset: dict[str, list[CheckOutcome]] = {}
    for outcome in outcomes:
        by_asset.setdefault(outcome.asset, []).append(outcome)
    rows = [[asset, len({o.partition for o in items if o.partition}) or "-", len(items),
             sum(o.passed for o in items),
             sum(not o.passed and o.severity == "ERROR" for o in items),
             sum(not o.passed and o.severity == "WARN" for o in items)]
            for asset, items in by_asset.items()]
    out = [_table(["asset", "files", "checks", "passed", "failed error", "failed warn"], rows)]
    audited = sorted({(o.asset.replace("/", "."), getattr(o.metadata.get("version"), "value", None))
                      for o in outcomes if _value(o.metadata.get("audited")) == "published"})
    if audited:
        out.append("published versions audited: " + ", ".join(
            f"{table} v{version}" if version is not None else f"{table} (never published)"
            for table, version in audited))
    for o in outcomes:
        if not o.passed:
            where = f" [{o.partition}]" if o.partition else ""
            detail = ", ".join(f"{k}={getattr(v, 'value', v)}" for k, v in o.metadata.items()
                               if not k.endswith("sample"))
            out.append(f"{o.severity:5} {o.asset} {o.check}{where}: {detail}")
    failed = sum(not o.passed and o.severity == "ERROR" for o in outcomes)
    out.append(f"gate: {'FAILED' if failed else 'passed'} ({failed} error-level failure(s))")
    return "\n".join(out)


def render_replay(result: ReplayResult) -> str:
    """Per file: what the replay released from the quarantine and what still keeps rows there."""
    if not result.files:
        return f"{result.dataset}: no quarantined rows to replay."
    rows = [[f.partition, f.before["quarantined"], f.released, f.after.get("quarantined", 0),
             f.after.get("cleaned", 0), "yes" if f.balanced else "NO",
             ", ".join(f"{k} {n}" for k, n in f.reasons.items()) or "-"]
            for f in result.files]
    lines = [_table(["file", "quarantined before", "released", "still quarantined", "cleaned now",
                     "ledger balanced", "reasons now"], rows)]
    released = sum(f.released for f in result.files)
    lines.append(f"{result.dataset}: {released} row(s) released from the quarantine "
                 f"in {len(result.files)} file(s)")
    lines.extend(f"FAILED {failure}" for failure in result.run.failures)
    lines.extend(f"ERROR  check failed: {c.asset} {c.check} [{c.partition}]"
                 for c in result.run.failed_error_checks)
    return "\n".join(lines)


def render_file_trace(traces: Sequence[FileTrace]) -> str:
    lines = []
    for t in traces:
        c = t.ledger
        lines += [
            f"file {t.source_file}  (dataset {t.dataset}, partition {t.partition})",
            f"  content sha256 {t.content_hash[:16]}..., ingested {t.ingested_at}",
            f"  ledger: raw {c['raw']} = cleaned {c['cleaned']} + quarantined {c['quarantined']}"
            f" + duplicates {c['duplicates']}  ({'balanced' if t.balanced else 'NOT BALANCED'})",
            "  quarantined by rule: " + (", ".join(f"{k} {n}" for k, n in t.errors.items()) or "none"),
            "  warnings kept in cleaned: "
            + (", ".join(f"{k} {n}" for k, n in t.warnings.items()) or "none"),
            "  runs: " + ("; ".join(f"{layer} {', '.join(ids)}" for layer, ids in t.run_ids.items())
                          or "none"),
        ]
        for check in t.checks:
            verdict = ("passed" if check.passed else f"FAILED ({check.severity.lower()})"
                       ) if check.passed is not None else check.status.lower()
            lines.append(f"  check {check.check}: {verdict}  (run {check.run_id})")
    return "\n".join(lines)


def render_row_trace(dataset: str, conditions: Sequence[str], hits: Sequence[RowHits]) -> str:
    where = " and ".join(conditions)
    if not hits:
        return f"{dataset}: no row where {where} in raw, cleaned, quarantine or curated tables."
    lines = [f"{dataset} where {where}:"]
    for hit in hits:
        lines.append(f"{hit.place}: {len(hit.rows)} row(s)")
        frame = hit.rows.astype(object).where(hit.rows.notna(), "-").astype(str)
        lines.append("  " + _table(list(frame.columns), frame.values.tolist()).replace("\n", "\n  "))
    return "\n".join(lines)
