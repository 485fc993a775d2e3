"""`dataops trace` gaps found by the hostile session (issue 16, item 8): the real run id per
layer, search values written as delivered, full landing paths, skipped re-deliveries."""

from __future__ import annotations

import json

from click.testing import CliRunner

from dataops_platform.automation.one_pass import QUIET, prepare_instance, register_landed
from dataops_platform.cli.main import cli
from dataops_platform.factory import build_platform


def _orders(n: int = 3) -> str:
    return "\n".join(json.dumps(
        {"order_id": f"ORD-000000{i}", "customer_id": 1, "sku": "ABC-0001", "qty": 1,
         "amount": 1, "currency": "EUR", "ordered_at": "2026-11-01T10:00:00",
         "status": "placed"}) for i in range(1, n + 1)) + "\n"


def test_trace_names_the_run_that_built_each_layer(settings, land, query):
    """As in the UI: the sensor's run loads raw, automation's later run builds cleaned."""
    land("orders/o.ndjson", _orders())
    instance = prepare_instance(settings)
    try:
        platform = build_platform(settings)
        register_landed(instance, platform.datasets, settings.landing_dir)
        (orders,) = [d for d in platform.datasets if d.contract.name == "orders"]
        (key,) = instance.get_dynamic_partitions("orders_files")
        job = platform.definitions.resolve_job_def(orders.process_job.name)
        raw_run = job.execute_in_process(instance=instance, partition_key=key, run_config=QUIET,
                                         asset_selection=[orders.raw_key])
        cleaned_run = job.execute_in_process(instance=instance, partition_key=key,
                                             run_config=QUIET, asset_selection=[orders.cleaned_key])
        assert raw_run.success and cleaned_run.success
    finally:
        instance.dispose()
    # cleaned rows carry raw's lineage, run id included: the table alone would say raw's run
    assert query("select distinct _run_id from cleaned.orders") == [(raw_run.run_id,)]
    out = CliRunner().invoke(cli, ["trace", "o.ndjson"])
    assert out.exit_code == 0, out.output
    assert f"  runs: raw {raw_run.run_id}; cleaned {cleaned_run.run_id}" in out.output


def test_trace_finds_values_as_delivered_files_by_landing_path_and_skipped_redeliveries(
        settings, land, one_pass, monkeypatch):
    path = land("orders/o.ndjson", _orders())
    assert one_pass().ok
    runner = CliRunner()
    # order_id is standardized [trim, upper]: the value as a person copies it from the file
    found = runner.invoke(cli, ["trace", "orders", "--where", "order_id= ord-0000002 "])
    assert found.exit_code == 0, found.output
    sections = {line.split(":")[0]: line.split(": ")[1] for line in found.output.splitlines()
                if line.endswith("row(s)")}
    assert sections["raw"] == "1 row(s)" and sections["cleaned"] == "1 row(s)"
    (row,) = [line.split() for line in found.output.splitlines()
              if line.strip().startswith("orders/o.ndjson")][:1]
    assert row[1] == "2"  # the file's second row
    nothing = runner.invoke(cli, ["trace", "orders", "--where", "order_id=ORD-0000009"])
    assert nothing.exit_code == 1  # still precise: another value matches nothing

    monkeypatch.chdir(settings.landing_dir.parent)  # a path relative to the working folder
    by_name = runner.invoke(cli, ["trace", "o.ndjson"])
    assert by_name.exit_code == 0, by_name.output
    for target in (str(path), str(path.relative_to(settings.landing_dir.parent))):
        by_path = runner.invoke(cli, ["trace", target])
        assert by_path.exit_code == 0, (target, by_path.output)
        assert by_path.output == by_name.output

    # an identical re-delivery under another name is skipped, and trace says of what
    land("orders/o_resend.ndjson", _orders())  # the same bytes
    result = one_pass()
    assert result.ok and not result.processed["orders"]
    skipped = runner.invoke(cli, ["trace", "o_resend.ndjson"])
    assert skipped.exit_code == 0, skipped.output
    assert "orders/o_resend.ndjson (dataset orders) was skipped: same content as " \
           "orders/o.ndjson (partition o.ndjson@" in skipped.output
    assert "No stored file" not in skipped.output and "Traceback" not in skipped.output
    missing = runner.invoke(cli, ["trace", "never.ndjson"])
    assert missing.exit_code == 1 and "No stored file matches 'never.ndjson'" in missing.output
