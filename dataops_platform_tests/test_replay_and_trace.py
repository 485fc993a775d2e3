"""Troubleshooting: quarantine replay after a contract fix, and `dataops trace`."""

from click.testing import CliRunner

from dataops_platform.cli.main import cli
from dataops_platform_tests.project_files import contracts_dir

HEADER = "Kundennummer;Vorname;Nachname;E-Mail;Ort;Land;Anmeldedatum;Segment\n"
ROWS = [
    "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer",   # fine
    "2;Bo;Ray;bo@x.pl;Kraków;PL;2024-01-03;business",   # PL not allowed yet
    "3;Cy;Ng;cy@x.pl;Gdynia;PL;2024-01-04;vip",         # PL, and an unknown segment
    "4;Di;;di@x.de;Bonn;DE;2024-01-05;consumer",        # no last name
    "1;Ann;Lee;ann@x.de;Köln;DE;2024-01-02;consumer",   # duplicate of row 1
]


def _land_customers(land, rows=ROWS, name="customers/c.csv"):
    land(name, (HEADER + "\n".join(rows) + "\n").encode("latin-1"))


def _allow_poland(settings):
    path = contracts_dir(settings) / "customers.yaml"
    path.write_text(path.read_text().replace("allowed_values: [DE, AT,", "allowed_values: [PL, DE, AT,"))


def test_replay_releases_the_rows_the_fixed_contract_accepts(settings, land, one_pass, query):
    _land_customers(land)
    assert one_pass().ok
    assert query("select _row_number, \"column\", rule from quarantine.customers order by 1") == [
        (2, "country", "allowed_values"), (3, "country", "allowed_values"), (4, "last_name", "not_null")]

    _allow_poland(settings)
    result = CliRunner().invoke(cli, ["quarantine", "replay", "customers"])
    assert result.exit_code == 0, result.output
    (line,) = [ln for ln in result.output.splitlines() if ln.startswith("c.csv@")]
    # file, quarantined before, released, still quarantined, cleaned now, balanced, reasons now
    assert line.split()[1:6] == ["3", "1", "2", "2", "yes"]
    assert "segment:allowed_values 1" in line and "last_name:not_null 1" in line
    assert "1 row(s) released" in result.output

    assert [r[0] for r in query("select _row_number from cleaned.customers order by 1")] == [1, 2]
    assert query("select _row_number, \"column\", rule from quarantine.customers order by 1") == [
        (3, "segment", "allowed_values"), (4, "last_name", "not_null")]
    assert query("select _row_number, duplicate_of_row from quarantine.customers__duplicates") \
        == [(5, 1)]
    (total,) = query("select count(*) from raw.customers")[0]
    assert total == 5

    again = CliRunner().invoke(cli, ["quarantine", "replay", "customers"])  # idempotent
    assert again.exit_code == 0, again.output
    assert "0 row(s) released" in again.output
    assert [r[0] for r in query("select _row_number from cleaned.customers order by 1")] == [1, 2]


def test_replay_says_what_is_wrong_instead_of_failing_obscurely(settings, land, one_pass):
    runner = CliRunner()
    unknown = runner.invoke(cli, ["quarantine", "replay", "clients"])
    assert unknown.exit_code == 1 and "No dataset 'clients'" in unknown.output
    assert "customers" in unknown.output
    empty = runner.invoke(cli, ["quarantine", "replay", "customers"])
    assert empty.exit_code == 1 and "no warehouse" in empty.output

    _land_customers(land, ROWS[:1])
    assert one_pass().ok
    clean = runner.invoke(cli, ["quarantine", "replay", "customers"])
    assert clean.exit_code == 0 and "no quarantined rows to replay" in clean.output
    assert "Traceback" not in unknown.output + empty.output + clean.output


def test_trace_a_file_shows_its_ledger_rules_runs_and_checks(settings, land, one_pass, query):
    _land_customers(land)
    one_pass()
    runner = CliRunner()
    traced = runner.invoke(cli, ["trace", "c.csv"])
    assert traced.exit_code == 0, traced.output
    out = traced.output
    assert "file customers/c.csv  (dataset customers, partition c.csv@" in out
    assert "ledger: raw 5 = cleaned 1 + quarantined 3 + duplicates 1  (balanced)" in out
    assert "quarantined by rule: country:allowed_values 2, last_name:not_null 1" in out
    assert "warnings kept in cleaned: none" in out
    (run_id,) = query("select distinct _run_id from raw.customers")[0]
    assert f"  runs: raw {run_id}; cleaned {run_id}" in out
    assert f"check row_conservation: passed  (run {run_id})" in out
    assert "check row_conservation: passed" in out and "check contract_schema: passed" in out
    assert "check quarantine_rate: FAILED (warn)" in out  # 3 of 5 rows quarantined
    assert out.count("  runs: raw ") == 1

    by_key = runner.invoke(cli, ["trace", out.split("partition ")[1].split(")")[0]])
    assert by_key.exit_code == 0 and by_key.output == out  # same file by its partition key

    missing = runner.invoke(cli, ["trace", "nope.csv"])
    assert missing.exit_code == 1
    assert "No stored file matches 'nope.csv'" in missing.output and "customers/c.csv" in missing.output


def test_trace_a_row_into_every_place_it_went(settings, land, one_pass):
    _land_customers(land)
    assert one_pass().ok
    runner = CliRunner()
    kept = runner.invoke(cli, ["trace", "customers", "--where", "customer_id=1"])
    assert kept.exit_code == 0, kept.output
    sections = {line.split(":")[0]: line.split(": ")[1] for line in kept.output.splitlines()
                if line.endswith("row(s)")}
    assert sections == {"raw": "2 row(s)", "cleaned": "1 row(s)",
                        "quarantine.customers__duplicates": "1 row(s)",
                        "current/customers": "1 row(s)"}  # the demo keeps customers' history
    dup_line = kept.output.split("quarantine.customers__duplicates:")[1].splitlines()[3].split()
    assert dup_line[0] == "customers/c.csv" and dup_line[1] == "5" and dup_line[-1] == "1"

    bad = runner.invoke(cli, ["trace", "customers", "--where", "customer_id=4"])
    assert "quarantine.customers: 1 row(s)" in bad.output
    assert "last_name" in bad.output and "not_null" in bad.output

    nothing = runner.invoke(cli, ["trace", "customers", "--where", "customer_id=99"])
    assert nothing.exit_code == 1 and "no row where customer_id=99" in nothing.output
    wrong = runner.invoke(cli, ["trace", "customers", "--where", "kundennummer=1"])
    assert wrong.exit_code == 1 and "not among the columns of 'customers'" in wrong.output
    malformed = runner.invoke(cli, ["trace", "customers", "--where", "customer_id"])
    assert malformed.exit_code == 1 and "is not a condition like" in malformed.output


def test_trace_follows_a_row_into_the_curated_mart(settings, land_samples, one_pass, query):
    land_samples()
    assert one_pass().ok
    (order_id, row, source), = query(
        "select order_id, _row_number, _source_file from curated.enriched_orders "
        "order by _source_file, _row_number limit 1")
    traced = CliRunner().invoke(cli, ["trace", "orders", "--where", f"order_id={order_id}"])
    assert traced.exit_code == 0, traced.output
    curated = traced.output.split("curated/enriched_orders: 1 row(s)")[1].splitlines()[3].split()
    assert curated[:2] == [source, str(row)]
