"""The raw zone as a lake: files preserved immutably, tables rebuilt from the lake alone."""

import json
import os
import shutil
import stat
from datetime import datetime, timedelta

import dagster as dg
from click.testing import CliRunner

from dataops_platform.automation.one_pass import prepare_instance
from dataops_platform.cli.main import cli
from dataops_platform.collect import lake
from dataops_platform.collect.resources import LandingZone
from dataops_platform.factory import build_platform
from dataops_platform_tests.project_files import SAMPLE_DATA as SAMPLE_DATA
from dataops_platform_tests.project_files import contracts_dir
from dataops_platform_tests.wap_helpers import known_customer_orders

DATASETS = ("customers", "orders", "products")


def _snapshot(query, dataset):
    """Every table of the dataset, in a stable order, without the run id. Columns by name:
    where an optional column sits depends on which file first brought it, not on the data."""
    tables = [("raw", dataset), ("cleaned", dataset), ("quarantine", dataset),
              ("quarantine", f"{dataset}__duplicates")]
    snapshot = {}
    for schema, name in tables:
        columns = [r[0] for r in query(
            f"select column_name from duckdb_columns() where schema_name = '{schema}' "
            f"and table_name = '{name}' order by column_name") if r[0] != "_run_id"]
        if not columns:
            continue
        select = ", ".join(f'"{c}"' for c in columns)
        snapshot[f"{schema}.{name}"] = (columns, query(
            f'select {select} from "{schema}"."{name}" order by all'))
    return snapshot


def test_every_landed_file_is_preserved_read_only_with_a_manifest(settings, land_samples, one_pass):
    land_samples()
    assert one_pass().ok
    entries = list(lake.entries(settings.lake_dir, "orders"))
    landed = sorted(p.name for p in (settings.landing_dir / "orders").iterdir())
    # the resend has the content of 11-01: one partition, one lake copy
    assert len(entries) == len(landed) - 1
    for entry in entries:
        assert entry.path.parent.parent.name.startswith("arrival_date=")
        assert entry.path.read_bytes() == (settings.landing_dir / entry.landing_path).read_bytes()
        assert lake.verify(entry) is None
        assert not entry.path.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
        manifest = json.loads((entry.path.parent / lake.MANIFEST).read_text())
        assert manifest["sha256"] == entry.sha256 and manifest["size"] == entry.path.stat().st_size
        assert manifest["media_type"] == "application/x-ndjson"


def test_rebuild_from_the_lake_alone_gives_the_same_tables(settings, land_samples, one_pass, query):
    land_samples()
    assert one_pass().ok
    before = {d: _snapshot(query, d) for d in DATASETS}
    assert all(before[d] for d in DATASETS)
    marts = query("select count(*) from curated.customer_lifetime_value")

    shutil.rmtree(settings.landing_dir)  # the deliveries are gone ...
    os.remove(settings.warehouse_path)  # ... and so is every table
    for dataset in DATASETS:
        result = CliRunner().invoke(cli, ["rebuild", dataset])
        assert result.exit_code == 0, result.output
        assert f"rebuilt {dataset} from the lake" in result.output
        assert "UNBALANCED" not in result.output and "FAILED" not in result.output

    assert {d: _snapshot(query, d) for d in DATASETS} == before
    assert query("select count(*) from curated.customer_lifetime_value") == marts


def test_rebuild_re_registers_partitions_a_lost_instance_forgot(settings, land, one_pass, query):
    sample = SAMPLE_DATA / "customers" / "customers_2026-11-01.csv"
    land("customers/customers_2026-11-01.csv", sample.read_bytes())
    assert one_pass().ok
    before = _snapshot(query, "customers")
    shutil.rmtree(settings.dagster_home)  # the run history and partitions are gone
    os.remove(settings.warehouse_path)
    result = CliRunner().invoke(cli, ["rebuild", "customers"])
    assert result.exit_code == 0, result.output
    assert "1 partition(s) re-registered" in result.output
    assert _snapshot(query, "customers") == before


def test_rebuild_of_an_unknown_or_empty_dataset_says_so(settings):
    result = CliRunner().invoke(cli, ["rebuild", "nope"])
    assert result.exit_code == 1 and "No dataset 'nope'" in result.output
    result = CliRunner().invoke(cli, ["rebuild", "orders"])
    assert result.exit_code == 1 and "Nothing of 'orders' is in the lake" in result.output


def _age(settings, dataset, partition_key, days):
    """Pretend a preserved file arrived ``days`` ago (rewrite its manifest's arrival)."""
    entry = lake.find(settings.lake_dir, dataset, partition_key)
    manifest = entry.path.parent / lake.MANIFEST
    data = json.loads(manifest.read_text())
    data["arrived_at"] = (datetime.fromisoformat(data["arrived_at"]) - timedelta(days=days)).isoformat()
    manifest.chmod(0o600)
    manifest.write_text(json.dumps(data))


def test_retention_prunes_old_files_rows_and_partitions(settings, land, land_samples, one_pass,
                                                       query):
    orders = contracts_dir(settings) / "orders.yaml"
    assert "write: {mode: merge}" in orders.read_text()  # append: current.orders rows are files'
    orders.write_text(orders.read_text().replace("write: {mode: merge}", "write: {mode: append}")
                      + "retention: 30d\n")
    land_samples()
    assert one_pass().ok
    entries = list(lake.entries(settings.lake_dir, "orders"))
    old, kept = entries[:2], entries[2:]
    assert kept
    for entry in old:
        _age(settings, "orders", entry.partition_key, 45)
    customers_before = query("select count(*) from raw.customers")

    dry = CliRunner().invoke(cli, ["prune", "--dry-run"])
    assert dry.exit_code == 0 and "would prune 2 file(s)" in dry.output, dry.output
    assert all(e.path.exists() for e in old)

    result = CliRunner().invoke(cli, ["prune"])
    assert result.exit_code == 0 and "pruned 2 file(s)" in result.output, result.output
    old_keys = {e.partition_key for e in old}
    assert "current.orders" in result.output
    for schema, name in [("raw", "orders"), ("cleaned", "orders"), ("quarantine", "orders"),
                         ("quarantine", "orders__duplicates"), ("current", "orders")]:
        partitions = {r[0] for r in query(f'select distinct _partition from "{schema}"."{name}"')}
        assert not partitions & old_keys
    assert {r[0] for r in query("select distinct _partition from current.orders")} == {
        e.partition_key for e in kept}
    assert {r[0] for r in query("select distinct _partition from raw.orders")} == {
        e.partition_key for e in kept}
    assert not any(e.path.exists() for e in old) and all(e.path.exists() for e in kept)
    instance = prepare_instance(settings)
    try:
        assert set(instance.get_dynamic_partitions("orders_files")) == {e.partition_key for e in kept}
    finally:
        instance.dispose()
    assert query("select count(*) from raw.customers") == customers_before  # no retention
    # the remaining files' ledger still balances
    for (key,) in query("select distinct _partition from raw.orders"):
        raw, cleaned, quarantined, dups = (query(
            f"select count(distinct _row_number) from {t} where _partition = '{key}'")[0][0]
            for t in ("raw.orders", "cleaned.orders", "quarantine.orders",
                      "quarantine.orders__duplicates"))
        assert raw == cleaned + quarantined + dups
    assert "nothing is older" in CliRunner().invoke(cli, ["prune"]).output
    # the expired deliveries left the landing folder too: the next pass does not re-ingest them
    assert not any((settings.landing_dir / e.landing_path).exists() for e in old)
    again = one_pass()
    assert not again.processed["orders"]
    assert {r[0] for r in query("select distinct _partition from raw.orders")} == {
        e.partition_key for e in kept}
    # daily_revenue is a partition-mode mart: days no file holds any more keep their revenue
    days_left = {r[0] for r in query("select distinct cast(ordered_at as date) from cleaned.orders")}
    revenue = query("select order_date, currency, revenue from curated.daily_revenue order by all")
    pruned_days = [r for r in revenue if r[0] not in days_left]
    assert pruned_days
    land("orders/orders_late.ndjson", known_customer_orders(7, 5))
    assert one_pass().ok
    after = query("select order_date, currency, revenue from curated.daily_revenue order by all")
    assert [r for r in after if r[0] in {d for d, _, _ in pruned_days}] == pruned_days


def test_the_retention_schedule_runs_the_same_pruning(settings, land_samples, one_pass, query):
    orders = contracts_dir(settings) / "orders.yaml"
    orders.write_text(orders.read_text() + "retention: 30d\n")
    land_samples()
    assert one_pass().ok
    first = next(lake.entries(settings.lake_dir, "orders"))
    _age(settings, "orders", first.partition_key, 31)
    platform = build_platform(settings)
    assert [s.name for s in platform.definitions.schedules] == ["retention_daily"]
    instance = prepare_instance(settings)
    try:
        job = platform.definitions.resolve_job_def("retention")
        assert job.execute_in_process(instance=instance).success
        assert first.partition_key not in instance.get_dynamic_partitions("orders_files")
    finally:
        instance.dispose()
    assert not first.path.exists()
    assert first.partition_key not in {r[0] for r in query("select _partition from raw.orders")}
    # merge mode (the demo's orders): current.orders is state and keeps the file's orders
    assert first.partition_key in {r[0] for r in query("select _partition from current.orders")}


DOCS = """name: docs
description: Operations documents kept as files (logs, PDFs, images)
owner: ops
source:
  format: files
  landing: docs/**/*
files:
  media_types: [text/plain, application/pdf]
  max_bytes: 1000
retention: 30d
"""


def test_lake_only_dataset_keeps_and_catalogues_any_file(settings, land, one_pass, query):
    (contracts_dir(settings) / "docs.yaml").write_text(DOCS)
    files = {"docs/2026/app.log": b"2026-11-01 started\n2026-11-01 stopped\n",
             "docs/report.pdf": b"%PDF-1.4\n\x00\x01\x02binary\n%%EOF\n",
             "docs/photo.png": b"\x89PNG\r\n" + bytes(2000)}  # too big, and not allowed
    for name, content in files.items():
        land(name, content)
    result = one_pass()
    catalogue = query("select landing_path, size_bytes, media_type, sha256 from lake.docs order by 1")
    assert [(r[0], r[1], r[2]) for r in catalogue] == [
        ("docs/2026/app.log", len(files["docs/2026/app.log"]), "text/plain"),
        ("docs/photo.png", len(files["docs/photo.png"]), "image/png"),
        ("docs/report.pdf", len(files["docs/report.pdf"]), "application/pdf")]
    for landing_path, _, _, sha256 in catalogue:
        (entry,) = [e for e in lake.entries(settings.lake_dir, "docs") if e.landing_path == landing_path]
        assert entry.sha256 == sha256 and lake.verify(entry) is None
        assert entry.path.read_bytes() == (settings.landing_dir / landing_path).read_bytes()
    outcomes = {(c.check, c.partition): c.passed for c in result.checks if c.asset == "lake/docs"}
    failed = sorted((c, p.split("@")[0]) for (c, p), ok in outcomes.items() if not ok)
    assert failed == [("max_size", "photo.png"), ("media_type", "photo.png")]
    assert sum(c == "catalogued" and ok for (c, _), ok in outcomes.items()) == 3
    assert not result.ok  # a blocking check failed: the run says so

    second = CliRunner().invoke(cli, ["run"])  # idempotent: nothing new, catalogue unchanged
    assert "lake-only docs: 0 file(s) kept in the lake" in second.output, second.output
    assert second.exception is None or isinstance(second.exception, SystemExit), second.exception
    assert "quality report:" in second.output
    assert query("select count(*) from lake.docs") == [(3,)]

    # retention applies to lake-only datasets too
    old = next(e for e in lake.entries(settings.lake_dir, "docs") if e.file_name == "report.pdf")
    _age(settings, "docs", old.partition_key, 40)
    pruned = CliRunner().invoke(cli, ["prune"])
    assert "pruned 1 file(s)" in pruned.output and "lake.docs 1" in pruned.output, pruned.output
    assert not old.path.exists()
    assert [r[0] for r in query("select landing_path from lake.docs order by 1")] == [
        "docs/2026/app.log", "docs/photo.png"]


def test_lake_only_contract_rules(settings):
    from dataops_platform.contracts import ContractError
    from dataops_platform.contracts.loader import parse_contract

    path = contracts_dir(settings) / "docs.yaml"
    path.write_text(DOCS + "primary_key: [id]\n")
    try:
        parse_contract(path)
        raise AssertionError("a files dataset with a primary key was accepted")
    except ContractError as exc:
        assert "kept as files" in str(exc)
    orders = (contracts_dir(settings) / "orders.yaml").read_text()
    path = contracts_dir(settings) / "orders.yaml"
    path.write_text(orders + "files: {max_bytes: 10}\n")
    try:
        parse_contract(path)
        raise AssertionError("'files' on a table dataset was accepted")
    except ContractError as exc:
        assert "only applies to 'format: files'" in str(exc)


def test_the_lake_sensor_registers_lake_only_files_and_starts_their_runs(settings, land):
    (contracts_dir(settings) / "docs.yaml").write_text(DOCS)
    land("docs/a.log", "hello\n")
    land("orders/ignored.txt", "not an orders file\n")
    defs = build_platform(settings).definitions
    sensor = defs.resolve_sensor_def("lake_sensor")
    assert sensor.default_status is dg.DefaultSensorStatus.RUNNING
    with dg.instance_for_test() as instance:
        context = dg.build_sensor_context(
            instance=instance, definitions=defs,
            resources={"landing": LandingZone(root=str(settings.landing_dir))})
        result = sensor(context)
    assert [(r.job_name, r.partition_key.split("@")[0]) for r in result.run_requests] == [
        ("ingest_docs", "a.log")]
    (request,) = result.dynamic_partitions_requests
    assert request.partitions_def_name == "docs_files"
