"""The code location loads as the UI loads it, and every CLI command works as documented."""

import dagster as dg
import pytest
from click.testing import CliRunner

from dataops_platform.cli.main import cli
from dataops_platform.definitions import defs
from dataops_platform_tests.project_files import contracts_dir

COMMANDS = [[], ["up"], ["demo"], ["run"], ["check"], ["contracts"], ["contracts", "validate"],
            ["generate"], ["rollback"], ["versions"], ["serve-sql"], ["review"],
            ["review", "list"], ["review", "decide"]]


def test_code_location_loads_with_the_expected_assets_checks_and_sensors(settings):
    definitions = defs()
    dg.Definitions.validate_loadable(definitions)
    keys = {k.to_user_string() for k in definitions.resolve_all_asset_keys()}
    for layer in ("raw", "cleaned"):
        assert {f"{layer}/customers", f"{layer}/orders", f"{layer}/products"} <= keys
    assert {"curated/enriched_orders", "curated/daily_revenue",
            "curated/customer_lifetime_value"} <= keys
    assert {"entities/customer", "entities/customer_matches", "curated/customer_golden"} <= keys
    checks = {(k.asset_key.to_user_string(), k.name)
              for k in definitions.resolve_asset_graph().asset_check_keys}
    assert ("cleaned/orders", "row_conservation") in checks
    for name in ("landing_sensor", "dataops_automation", "alerts"):
        assert definitions.resolve_sensor_def(name).default_status is dg.DefaultSensorStatus.RUNNING


def test_workspace_names_the_location():
    from dataops_platform_tests.project_files import EXAMPLE

    assert "location_name: webshop" in (EXAMPLE.parent.parent / "workspace.yaml").read_text()


@pytest.mark.parametrize("args", COMMANDS)
def test_every_command_has_help(args):
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage:" in result.output and len(result.output.splitlines()) > 3


def test_contracts_validate_passes_on_the_example_and_lists_every_problem(settings):
    runner = CliRunner()
    ok = runner.invoke(cli, ["contracts", "validate"])
    assert ok.exit_code == 0, ok.output
    assert "4 dataset(s), 4 mart(s) and 1 entity valid" in ok.output

    (contracts_dir(settings) / "a.yaml").write_text(
        "name: a\ndescription: d\nowner: o\nsource: {format: xml}\n"
        "columns: [{name: x, type: interger}]\n")
    (contracts_dir(settings) / "b.yaml").write_text(
        "name: b\ndescription: d\nowner: o\nsource: {format: csv}\n"
        "columns: [{name: x, nulable: false}]\nprimary_key: [y]\n")
    bad = runner.invoke(cli, ["contracts", "validate", str(settings.project_dir)])
    assert bad.exit_code == 1
    text = bad.output
    for expected in ("a/defs.yaml: attributes.source.format",
                     "a/defs.yaml: attributes.columns[0] (x).type",
                     "b/defs.yaml: attributes.columns[0] (x).nulable", "unknown field"):
        assert expected in text, text
    assert "Traceback" not in text


def test_a_broken_entity_contract_is_reported_by_file_and_field(settings):
    entity = contracts_dir(settings) / "entities" / "customer.yaml"
    entity.write_text("name: customer\nsources:\n  - {dataset: crm, id: customer_id}\n"
                      "  - {dataset: webshop_customers, id: account_no}\n"
                      "fields: [first_name, {name: email, compare: fuzzyy}]\n"
                      "blocking: [[first_name]]\n")
    bad = CliRunner().invoke(cli, ["contracts", "validate"])
    assert bad.exit_code == 1 and "Traceback" not in bad.output
    assert "customer/defs.yaml: attributes.fields[1] (email).compare" in bad.output, bad.output
    entity.write_text("name: customer\nsources:\n  - {dataset: crm, id: customer_id}\n"
                      "  - {dataset: webshop_customers, id: account_no}\nfields: [first_name]\n")
    bad = CliRunner().invoke(cli, ["contracts", "validate"])
    for expected in ("attributes.sources[0] (crm): dataset 'crm' is not declared in this project",
                     "attributes.sources[1] (webshop_customers).id: dataset 'webshop_customers' has no "
                     "column 'account_no'"):
        assert expected in bad.output, bad.output
    run = CliRunner().invoke(cli, ["run"])  # the pipeline refuses it the same way
    assert run.exit_code == 1 and "has no column 'account_no'" in run.output


def test_generate_writes_seeded_files_into_the_landing_folder(settings):
    result = CliRunner().invoke(cli, ["generate", "--rows", "300", "--days", "2", "--seed", "3"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (settings.landing_dir / "orders").iterdir()) == [
        "orders_2026-11-01.ndjson", "orders_2026-11-01_resend.ndjson", "orders_2026-11-02.ndjson"]
    assert (settings.landing_dir / "products" / "products.parquet").exists()


def test_demo_accounts_for_every_row_and_run_is_idempotent(settings, tmp_path):
    home = tmp_path / "demo-home"
    runner = CliRunner()
    demo = runner.invoke(cli, ["demo", "--home", str(home)])
    assert demo.exit_code == 0, demo.output
    lines = demo.output.splitlines()
    assert "every row accounted for" in demo.output
    orders = next(line.split() for line in lines if line.startswith("orders"))
    # dataset, files, new, re-delivered, rows in, cleaned, quarantined, duplicates, checks
    assert orders[1:4] == ["3", "3", "1"]
    assert int(orders[4]) == int(orders[5]) + int(orders[6]) + int(orders[7]) == 2000
    # 8 file checks (incl. columns_present) + the schema-change check per file; the demo's
    # planted unknown customers/products and dirty values stay within max_violation_rate:
    # reported (quarantine counts, NOTE lines), not failed — the demo is green
    assert orders[8] == "27/27"
    assert orders[9] == "24/24"  # every column's rule check passes, with its counts
    assert "ERROR" not in demo.output and "check failed" not in demo.output
    assert "NOTE  rules caught rows in cleaned/orders:" in demo.output

    again = runner.invoke(cli, ["run", "--home", str(home)])
    assert again.exit_code == 0, again.output
    assert "nothing new landed" in again.output
    assert [line.split()[4:8] for line in again.output.splitlines() if line.startswith("orders")] \
        == [orders[4:8]]

    refused = runner.invoke(cli, ["demo", "--home", str(home)])
    assert refused.exit_code == 1 and "--reset" in refused.output


def test_run_exits_1_and_names_the_file_when_a_file_is_malformed(settings, land):
    land("orders/broken.ndjson", b'{"order_id": \n')
    result = CliRunner().invoke(cli, ["run"])
    assert result.exit_code == 1
    assert "orders/broken.ndjson" in result.output
    assert "Traceback" not in result.output


def test_check_gates_on_the_warehouse_as_it_is_now(settings, land_samples, query):
    runner = CliRunner()
    nothing = runner.invoke(cli, ["check"])
    assert nothing.exit_code == 1 and "Nothing to check yet" in nothing.output

    land_samples()
    assert runner.invoke(cli, ["run"]).exit_code == 0
    ok = runner.invoke(cli, ["check"])
    assert ok.exit_code == 0, ok.output
    assert "gate: passed" in ok.output
    assert [line.split()[1:6] for line in ok.output.splitlines() if line.startswith("cleaned/orders")] \
        == [["3", "48", "48", "0", "0"]]  # files, checks, passed, failed error, failed warn
    # (8 file checks incl. columns_present + 8 column rule checks per file; the demo's dirt
    # stays within max_violation_rate: references and rules_* pass with their counts)

    # someone deletes quarantined rows behind the platform's back: the ledger no longer balances
    (key,) = query("select distinct _partition from quarantine.orders order by 1 limit 1")[0]
    import duckdb
    conn = duckdb.connect(str(settings.warehouse_path))
    conn.execute("delete from quarantine.orders where _partition = ?", [key])
    conn.close()
    failed = runner.invoke(cli, ["check"])
    assert failed.exit_code == 1
    assert f"ERROR cleaned/orders row_conservation [{key}]" in failed.output
    # the vanished rows' amounts are missing from the totals too
    assert f"ERROR cleaned/orders reconciliation [{key}]" in failed.output
    assert "gate: FAILED (2 error-level failure(s))" in failed.output
