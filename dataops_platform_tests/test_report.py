"""Quality reports: built from the event log, self-contained, and saying what the warehouse holds."""

import re
from html.parser import HTMLParser
from pathlib import Path

import dagster as dg
from click.testing import CliRunner

from dataops_platform.automation.one_pass import QUIET, TRIGGER_TAG, prepare_instance
from dataops_platform.automation.report_sensor import REPORT_SENSOR
from dataops_platform.automation.report_sensor import TRIGGER_TAG as SENSOR_TRIGGER_TAG
from dataops_platform.cli.main import cli
from dataops_platform.factory import build_platform
from dataops_platform.quality.report import LATEST, report_pass
from dataops_platform.quality.report_data import (
    CheckRow,
    ReportData,
    ReportTargets,
    latest_report_data,
    schema_change,
)
from dataops_platform.quality.report_html import render
from dataops_platform_tests.project_files import contracts_dir

PARCELS = """name: parcels
description: Parcels handed to the carrier.
owner: ops
source: {format: csv}
columns:
  - {name: parcel_id, type: integer, nullable: false}
  - {name: weight, type: float}
  - {name: note}
"""


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts (nested tables are tables of their own)."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._open: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "table":
            self._open.append([])
        elif tag == "tr" and self._open:
            self._open[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._open:
            self._open[-1][-1].append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table" and self._open:
            self.tables.append(self._open.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(page: str, *headers: str) -> list[list[dict[str, str]]]:
    """The tables having all these headers, as lists of {header: cell} rows."""
    parser = _Tables()
    parser.feed(page)
    return [[dict(zip(t[0], row, strict=False)) for row in t[1:]]
            for t in parser.tables if t and set(headers) <= set(t[0])]


def assert_self_contained(page: str) -> None:
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    lowered = page.lower()
    for forbidden in ("<script", "http://", "https://", "<link", "<img", "@import", "url("):
        assert forbidden not in lowered, forbidden


def test_pass_report_names_failed_checks_and_matches_the_warehouse(settings, land_samples, one_pass,
                                                                   query):
    # no tolerance on orders: every orphan and every dirty value fails its check (the demo's
    # default 5 % reports them and passes), so the report has failures to show
    orders = contracts_dir(settings) / "orders.yaml"
    orders.write_text(orders.read_text().replace("primary_key: [order_id]",
                                                 "primary_key: [order_id]\nmax_violation_rate: 0"))
    land_samples()
    result = one_pass()
    # one run per dataset's files that landed together (customers, products, orders and the
    # web shop's accounts), then the curated assets in two rounds of automation (as the
    # daemon would in two ticks): customer_golden waits until the entities it reads exist
    assert sum(map(len, result.processed.values())) == 7
    assert len(result.run_ids) == len(result.processed) + 2 == 6
    with dg.DagsterInstance.get() as instance:
        targets = ReportTargets.of(build_platform(settings).definitions)
        path = report_pass(settings.reports_dir, instance, targets, result.run_ids)
    assert re.fullmatch(r"\d{8}T\d{6}Z-run\.html", path.name), path.name
    latest = settings.reports_dir / LATEST
    assert path.exists() and latest.exists()
    failing = sorted((c.asset, c.check, c.partition or "", c.severity)
                     for c in result.checks if not c.passed)
    assert failing and {f[3] for f in failing} == {"WARN"}
    for page in (path.read_text(), latest.read_text()):
        assert_self_contained(page)
        assert f"WARN: {len(failing)} warn-level check(s) failed" in page  # the overall status

        # the demo's orders fail `references` (warn) in every file, with a sample of the orphans
        partitions = sorted(r[0] for r in query("select distinct _partition from cleaned.orders"))
        (checks,) = tables(page, "check", "result", "severity")
        failed = [(r["asset"], r["check"], r["file (partition)"], r["severity"])
                  for r in checks if r.get("result") == "FAILED"]
        assert sorted(failed) == failing
        assert [f for f in failed if f[1] == "references"] == [
            ("cleaned/orders", "references", p, "WARN") for p in partitions]
        assert [f for f in failed if f[1] == "rules_amount"]  # named rule checks show the dirt
        assert page.count('<tr class="f-WARN">') == len(failing)
        assert "failure_sample of references [orders_2026-11-01.ndjson@" in page
        assert any(r.get("column") == "product_sku" and r["value"].startswith("ZZZ-")
                   for sample in tables(page, "_source_file", "_row_number", "value")
                   for r in sample)

        # quarantine counts per file and per dataset, as stored in the warehouse
        (files,) = tables(page, "file (partition)", "quarantined", "duplicates")
        stored = dict(query("select _partition, count(*) from quarantine.orders group by 1"))
        assert {r["file (partition)"]: int(r["quarantined"]) for r in files
                if r["dataset"] == "orders"} == stored
        dupes = dict(query("select _partition, count(*) from quarantine.orders__duplicates group by 1"))
        assert {r["file (partition)"]: int(r["duplicates"]) for r in files
                if r["dataset"] == "orders"} == dupes
        (per_dataset,) = tables(page, "dataset", "checks ok")
        totals = {r["dataset"]: r for r in per_dataset}
        for name in ("customers", "orders", "products"):
            (n,) = query(f"select count(*) from quarantine.{name}")[0]
            assert int(totals[name]["quarantined"].replace(",", "")) == n
            (n,) = query(f"select count(*) from cleaned.{name}")[0]
            assert int(totals[name]["cleaned"].replace(",", "")) == n
        orders_checks = [r for r in checks if r.get("asset") == "cleaned/orders"]
        assert len(orders_checks) % 3 == 0  # the same checks for each of the three files
        orders_failed = sum(f[0] == "cleaned/orders" for f in failing)
        assert totals["orders"]["checks ok"] == \
            f"{len(orders_checks) - orders_failed}/{len(orders_checks)}"
        (rules,) = tables(page, "column:rule", "severity", "rows")
        assert {"dataset": "orders", "column:rule": "quantity:min", "severity": "ERROR",
                "rows": str(query("select count(*) from quarantine.orders "
                                  "where \"column\" = 'quantity' and rule = 'min'")[0][0])} in rules

        # profiles: the latest orders file's columns, with null %, bounds and top values
        assert "<h3>cleaned/orders</h3>" in page
        profiles = [t for t in tables(page, "column", "null %", "distinct", "top values")
                    if any(r["column"] == "order_id" for r in t)]
        (quantity,) = [r for r in profiles[0] if r["column"] == "quantity"]
        latest_file = partitions[-1]
        low, high = query("select min(quantity), max(quantity) from cleaned.orders "
                          f"where _partition = '{latest_file}'")[0]
        assert (quantity["min"], quantity["max"]) == (str(low), str(high))
        assert "No schema changes." in page

    # `dataops report` rewrites latest.html and prints its path
    before = latest.stat().st_mtime_ns
    printed = CliRunner().invoke(cli, ["report"])
    assert printed.exit_code == 0, printed.output
    assert printed.output.strip() == str(latest)
    assert latest.stat().st_mtime_ns >= before and "cleaned/orders" in latest.read_text()

    # `dataops check` writes a gate report from its fresh results
    gate = CliRunner().invoke(cli, ["check"])
    assert gate.exit_code == 0, gate.output
    (gate_path,) = re.findall(r"quality report: (\S+-check\.html)", gate.output)
    page = Path(gate_path).read_text()
    assert_self_contained(page)
    warned = [line for line in gate.output.splitlines() if line.startswith("WARN ")]
    assert "CI gate" in page and page.count('<tr class="f-WARN">') == len(warned) > 3


def test_a_new_and_a_missing_column_show_as_a_schema_change(settings, land, one_pass):
    (contracts_dir(settings) / "parcels.yaml").write_text(PARCELS)
    land("parcels/day1.csv", "parcel_id,weight,note\n1,2.5,fragile\n2,heavy,\n")
    first = one_pass()
    land("parcels/day2.csv", "parcel_id,weight,colour\n3,1.0,red\n")
    second = one_pass()
    assert first.ok and not second.failures  # 'note' missing: named by columns_present
    assert [c.check for c in second.failed_error_checks] == ["columns_present"]
    with dg.DagsterInstance.get() as instance:
        targets = ReportTargets.of(build_platform(settings).definitions)
        page = report_pass(settings.reports_dir, instance, targets, second.run_ids).read_text()
        latest = (settings.reports_dir / LATEST).read_text()
    for html in (page, latest):
        (changes,) = tables(html, "added", "removed", "retyped")
        (change,) = changes  # raw keeps the delivered columns; cleaned keeps the contract's
        assert change["asset"] == "raw/parcels" and change["file (partition)"].startswith("day2.csv@")
        assert change["compared with"].startswith("day1.csv@")
        assert change["added"].startswith("colour") and change["removed"].startswith("note")
        assert change["retyped"] == ""
    (files,) = tables(page, "missing columns", "unexpected columns")
    assert [(r["missing columns"], r["unexpected columns"]) for r in files] == [("note", "colour")]
    (files,) = tables(latest, "missing columns", "unexpected columns")
    assert [(r["file (partition)"][:8], r["quarantined"]) for r in files] == [
        ("day1.csv", "1"), ("day2.csv", "0")]  # 'heavy' is no float


def test_the_sensor_writes_one_report_per_finished_run(settings, land, one_pass):
    (contracts_dir(settings) / "parcels.yaml").write_text(PARCELS)
    land("parcels/day1.csv", "parcel_id,weight,note\n1,2.5,fragile\n")
    assert one_pass().ok  # a CLI pass: it writes its own report, the sensor leaves it alone
    assert SENSOR_TRIGGER_TAG == TRIGGER_TAG
    instance = prepare_instance(settings)
    try:
        platform = build_platform(settings)
        sensor = platform.definitions.resolve_sensor_def(REPORT_SENSOR)
        assert sensor.default_status is dg.DefaultSensorStatus.RUNNING

        def tick(cursor: str | None) -> str | None:
            return sensor(dg.build_sensor_context(instance=instance, cursor=cursor,
                                                  definitions=platform.definitions)).cursor

        def reports() -> list[str]:
            return sorted(p.name for p in settings.reports_dir.glob("*-run-*.html"))

        first = tick(None)
        assert reports() == []
        # as if started from the UI: re-materialize the file, and a run that records nothing
        job = platform.definitions.resolve_job_def("process_parcels")
        (key,) = instance.get_dynamic_partitions("parcels_files")
        ui_run = job.execute_in_process(instance=instance, partition_key=key, run_config=QUIET)
        instance.add_dynamic_partitions("parcels_files", ["gone.csv@000000000000"])
        failed = job.execute_in_process(instance=instance, partition_key="gone.csv@000000000000",
                                        run_config=QUIET, raise_on_error=False)
        assert not failed.success
        second = tick(first)
        (written,) = reports()  # one report: the failed run recorded nothing
        assert written.endswith(f"-run-{ui_run.run_id[:8]}.html")
        page = (settings.reports_dir / written).read_text()
        assert_self_contained(page)
        assert f"run {ui_run.run_id[:8]} of process_parcels" in page
        assert "row_conservation" in page
        # latest.html: day1 was materialized twice; it counts once, at its latest run
        latest = (settings.reports_dir / LATEST).read_text()
        (checks,) = tables(latest, "check", "result")
        names = [(r["asset"], r["check"]) for r in checks]  # one result per check of the file
        assert len(names) == len(set(names)) and ("cleaned/parcels", "row_conservation") in names
        (files,) = tables(latest, "missing columns")
        assert [(r["rows in"], r["run"][:8]) for r in files] == [("1", ui_run.run_id[:8])]
        state = latest_report_data(instance, ReportTargets.of(platform.definitions))
        assert {c.run_id for c in state.checks} == {ui_run.run_id}
        assert f"<code>{ui_run.run_id}</code>" not in latest  # latest lists no runs
        tick(tick(second))  # two more ticks, no new finished run: no new report
        assert reports() == [written]
    finally:
        instance.dispose()


def test_render_escapes_everything_and_marks_error_and_warn_failures():
    evil = "<script>alert(1)</script>"
    rows = [CheckRow("cleaned/x", "contract_schema", f"a{evil}.csv@1", False, "ERROR",
                     {"failure_cases": 2, "failure_sample": f"| value |\n|:--|\n| {evil} |\n| a\\|b |"}),
            CheckRow("cleaned/x", "quarantine_rate", "b.csv@2", False, "WARN", {"note": evil}),
            CheckRow("cleaned/x", "row_conservation", "b.csv@2", True, "ERROR", {})]
    page = render(ReportData("t", "s", [], rows))
    assert_self_contained(page)
    assert evil not in page and "&lt;script&gt;" in page
    assert page.count('<tr class="f-ERROR">') == 1 and page.count('<tr class="f-WARN">') == 1
    assert "FAILED: 1 error-level check(s) failed" in page
    (sample,) = tables(page, "value")
    assert [r["value"] for r in sample] == [evil, "a|b"]  # the markdown table, as a table
    change = schema_change([("id", "bigint"), ("w", "double")], [("id", "varchar"), ("x", "date")], "p")
    assert change is not None and change.retyped == [("id", "bigint", "varchar")]
    assert change.added == [("x", "date")] and change.removed == [("w", "double")]
    assert schema_change([("a", "int"), ("b", "int")], [("b", "int"), ("a", "int")], None) is None


def test_report_command_has_help():
    result = CliRunner().invoke(cli, ["report", "--help"])
    assert result.exit_code == 0 and "latest.html" in result.output
