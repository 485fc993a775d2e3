"""A quality report as one self-contained HTML page: inline CSS, no scripts, no links.

It must open from a pull request attachment or a CI artifact without a server, so every
value is escaped and nothing is fetched. Markdown tables from the metadata (failure
samples, profiles) become HTML tables.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime

from dataops_platform.quality.report_data import CheckRow, Materialization, ReportData

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:24px;color:#1f2328}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #d0d7de}
h3{font-size:14px;margin:16px 0 6px}.muted{color:#59636e}
table{border-collapse:collapse;margin:6px 0 12px}th,td{border:1px solid #d0d7de;padding:3px 8px;
text-align:left;vertical-align:top}th{background:#f6f8fa}td.n{text-align:right;font-variant-numeric:tabular-nums}
.status{font-size:18px;font-weight:600;padding:10px 14px;border-radius:6px;margin:12px 0}
.s-FAILED{background:#ffebe9;border:2px solid #cf222e;color:#82071e}
.s-WARN{background:#fff8c5;border:2px solid #bf8700;color:#6f4b00}
.s-PASSED{background:#dafbe1;border:2px solid #1a7f37;color:#0a4f1f}
.s-NO{background:#f6f8fa;border:2px solid #d0d7de}
.badge{font-weight:700;padding:1px 6px;border-radius:4px;white-space:nowrap}
.ok{background:#dafbe1;color:#0a4f1f}.fail-ERROR{background:#cf222e;color:#fff}
.fail-WARN{background:#bf8700;color:#fff}tr.f-ERROR td{background:#fff5f5}tr.f-WARN td{background:#fffbe6}
tr.sample td{background:#fff}td table{margin:2px 0;font-size:12px}code{font-size:12px}
"""


def e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _num(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else e(value)


def _when(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def table(headers: Sequence[str], rows: Iterable[Sequence[str] | str], numeric: Iterable[int] = (),
          row_class: Sequence[str] | None = None) -> str:
    """An HTML table; cells are already-escaped HTML, a row given as one string spans it all."""
    right = set(numeric)
    body = []
    for i, row in enumerate(rows):
        css = f' class="{row_class[i]}"' if row_class and row_class[i] else ""
        cells = (f'<td colspan="{len(headers)}">{row}</td>' if isinstance(row, str) else
                 "".join(f'<td class="n">{c}</td>' if j in right else f"<td>{c}</td>"
                         for j, c in enumerate(row)))
        body.append(f"<tr{css}>{cells}</tr>")
    head = "".join(f"<th>{e(h)}</th>" for h in headers)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def markdown(text: object) -> str:
    """A Markdown pipe table (pandas ``to_markdown``) as an HTML table; other text as <pre>."""
    lines = [line.strip() for line in str(text).strip().splitlines()]
    if len(lines) < 2 or not all(line.startswith("|") for line in lines) \
            or not set(lines[1]) <= set("|-: "):
        return f"<pre>{e(text)}</pre>"

    def cells(line: str) -> list[str]:
        return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", line[1:-1])]

    return table(cells(lines[0]), ([e(c) for c in cells(line)] for line in lines[2:]))


def _badge(row: CheckRow) -> str:
    return '<span class="badge ok">PASSED</span>' if row.passed else \
        f'<span class="badge fail-{e(row.severity)}">FAILED</span>'


def _figures(metadata: dict[str, object]) -> str:
    return "<br>".join(f"{e(k)} = <b>{_num(v)}</b>" for k, v in metadata.items()
                       if not k.endswith("sample") and isinstance(v, (int, float, str))
                       and "\n" not in str(v))


def _status(data: ReportData) -> str:
    errors, warns, runs = data.failed("ERROR"), data.failed("WARN"), data.failed_runs
    reasons = {
        "FAILED": f"{len(errors)} error-level check(s) failed, {len(runs)} run(s) failed",
        "WARN": f"{len(warns)} warn-level check(s) failed (rows kept; nothing blocked)",
        "PASSED": f"all {len(data.checks)} check(s) passed",
        "NO DATA": "nothing has been processed yet",
    }
    css = data.status.split()[0]
    return f'<div class="status s-{css}">{e(data.status)}: {e(reasons[data.status])}</div>'


def _sum(items: Iterable[Materialization], key: str) -> int:
    return sum(int(m.metadata.get(key, 0) or 0) for m in items)  # type: ignore[call-overload]


def _summary(data: ReportData) -> str:
    cleaned = data.cleaned
    datasets = sorted({m.dataset for m in cleaned})
    checks = data.checks
    figures: list[tuple[str, object]] = [("datasets", len(datasets)), ("files", len(cleaned)),
               ("rows in", _sum(cleaned, "rows_in")), ("cleaned", _sum(cleaned, "rows_cleaned")),
               ("quarantined", _sum(cleaned, "rows_quarantined")),
               ("duplicates", _sum(cleaned, "rows_duplicates")),
               ("checks passed", sum(c.passed for c in checks)),
               ("checks failed (error)", len(data.failed("ERROR"))),
               ("checks failed (warn)", len(data.failed("WARN")))]
    if data.runs:
        figures.append(("runs failed", f"{len(data.failed_runs)} of {len(data.runs)}"))
    out = [_status(data), table([f for f, _ in figures], [[_num(v) for _, v in figures]],
                                numeric=range(len(figures)))]
    rows = []
    for name in datasets:
        files = [m for m in cleaned if m.dataset == name]
        own = [c for c in checks if c.asset.split("/")[-1] == name and c.asset.startswith("cleaned/")]
        rows.append([e(name), _num(len(files))] + [_num(_sum(files, k)) for k in (
            "rows_in", "rows_cleaned", "rows_quarantined", "rows_duplicates")]
            + [f"{sum(c.passed for c in own)}/{len(own)}",
               _num(sum(not c.passed and c.severity == "ERROR" for c in own)),
               _num(sum(not c.passed and c.severity == "WARN" for c in own))])
    if rows:
        out.append(table(["dataset", "files", "rows in", "cleaned", "quarantined", "duplicates",
                          "checks ok", "failed error", "failed warn"], rows, numeric=range(1, 9)))
    for run in data.failed_runs:
        out.append(f"<p><b>Run {e(run.run_id)} ({e(run.job)}) failed.</b></p><pre>"
                   f"{e(chr(10).join(run.failures) or 'no step failure recorded')}</pre>")
    return "<h2>Summary</h2>" + "".join(out)


def _checks(rows: Sequence[CheckRow]) -> str:
    if not rows:
        return "<h2>Check results</h2><p>No check results.</p>"
    order = sorted(rows, key=lambda c: (c.passed, c.severity != "ERROR", c.asset, c.check,
                                        c.partition or ""))
    body: list[Sequence[str] | str] = []
    classes = []
    for c in order:
        body.append([e(c.asset), f"<b>{e(c.check)}</b>", e(c.partition or "-"), _badge(c),
                     e(c.severity), _figures(c.metadata)])
        classes.append("" if c.passed else f"f-{c.severity}")
        for key, value in c.metadata.items():
            if key.endswith("sample") and value:  # below its check, the table's full width
                body.append(f"{e(key)} of {e(c.check)} [{e(c.partition or c.asset)}]:"
                            + markdown(value))
                classes.append("sample")
    rendered = table(["asset", "check", "file (partition)", "result", "severity", "key figures"],
                     body, row_class=classes)
    failed = sum(not c.passed for c in rows)
    return (f"<h2>Check results</h2><p>{len(rows)} result(s), {failed} failed; failures "
            "first.</p>" + rendered)


def _quarantine(data: ReportData) -> str:
    cleaned = data.cleaned
    if not cleaned:
        return "<h2>Quarantine</h2><p>No cleaned files in this report.</p>"
    rows = [[e(m.dataset), e(m.partition or "-")]
            + [_num(m.metadata.get(k, 0)) for k in ("rows_in", "rows_cleaned", "rows_quarantined",
                                                      "rows_duplicates")]
            + [e(m.metadata.get("missing_columns", "")), e(m.metadata.get("unexpected_columns", "")),
               f"<code>{e(m.run_id[:8])}</code> {e(_when(m.timestamp))}"]
            for m in sorted(cleaned, key=lambda m: (m.dataset, m.partition or ""))]
    out = [table(["dataset", "file (partition)", "rows in", "cleaned", "quarantined", "duplicates",
                  "missing columns", "unexpected columns", "run"], rows, numeric=range(2, 6))]
    violations: dict[tuple[str, str, str], int] = {}
    for m in cleaned:
        counts = m.metadata.get("violations")
        for rule, n in (counts.items() if isinstance(counts, dict) else []):
            severity, _, name = str(rule).partition(" ")
            key = (m.dataset, name or severity, severity.upper() if name else "")
            violations[key] = violations.get(key, 0) + int(n)
    if violations:
        out.append("<h3>Violations per rule</h3><p class=\"muted\">ERROR rules quarantine the row; "
                   "WARN rules keep it (listed in its _warnings column).</p>")
        out.append(table(["dataset", "column:rule", "severity", "rows"],
                         [[e(d), f"<code>{e(r)}</code>", e(s), _num(n)]
                          for (d, r, s), n in sorted(violations.items())], numeric=[3]))
    return "<h2>Quarantine</h2>" + "".join(out)


def _profile(m: Materialization) -> str:
    if "profile" in m.metadata:
        return markdown(m.metadata["profile"])
    stats: dict[str, dict[str, object]] = {}
    for key, value in m.metadata.items():
        parts = key.split("/")
        if len(parts) == 3 and parts[0] == "profile":
            stats.setdefault(parts[1], {})[parts[2]] = value
    names = sorted({s for v in stats.values() for s in v})
    return table(["column", *names], ([e(c)] + [_num(v.get(s, "")) for s in names]
                                      for c, v in stats.items()), numeric=range(1, len(names) + 1))


def _profiles(data: ReportData) -> str:
    latest: dict[str, Materialization] = {}
    for m in data.materializations:
        profiled = any(k == "profile" or k.startswith("profile/") for k in m.metadata)
        if profiled and (m.asset not in latest or m.storage_id > latest[m.asset].storage_id):
            latest[m.asset] = m
    if not latest:
        return "<h2>Profiles</h2><p>No profiled materializations in this report.</p>"
    out = [f"<h3>{e(a)}</h3><p class=\"muted\">latest file {e(m.partition or '-')}, materialized "
           f"{e(_when(m.timestamp))}</p>{_profile(m)}" for a, m in sorted(latest.items())]
    return "<h2>Profiles</h2>" + "".join(out)


def _columns(items: Iterable[tuple[str, ...]]) -> str:
    return "<br>".join(f"<code>{e(i[0])}</code> {e(' → '.join(i[1:]))}" for i in items)


def _schema_changes(data: ReportData) -> str:
    changed = [m for m in data.materializations if m.schema_change is not None]
    if not changed:
        return "<h2>Schema changes</h2><p>No schema changes.</p>"
    rows = [[e(m.asset), e(m.partition or "-"), e(m.schema_change.previous_partition or "-"),
             _columns(m.schema_change.added), _columns(m.schema_change.removed),
             _columns(m.schema_change.retyped)]
            for m in changed if m.schema_change is not None]
    return ("<h2>Schema changes</h2><p class=\"muted\">Column schema compared with the asset's "
            "previous materialization.</p>" + table(
                ["asset", "file (partition)", "compared with", "added", "removed", "retyped"], rows))


def render(data: ReportData) -> str:
    """The whole page."""
    runs = "".join(f"<li><code>{e(r.run_id)}</code> {e(r.job)}: {e(r.status)}</li>"
                   for r in data.runs)
    head = (f"<h1>{e(data.title)}</h1><p class=\"muted\">{e(data.scope)} Generated "
            f"{e(data.generated_at.strftime('%Y-%m-%d %H:%M:%S UTC'))} from the Dagster "
            "event log.</p>" + (f"<ul>{runs}</ul>" if runs else ""))
    body = [head, _summary(data), _checks(data.checks), _quarantine(data), _profiles(data),
            _schema_changes(data)]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{e(data.title)}</title><style>{CSS}</style></head>\n<body>"
            + "\n".join(body) + "</body></html>\n")
