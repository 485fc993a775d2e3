"""Troubleshooting: quarantine replay after a contract fix, and `dataops trace`."""

from click.testing import CliRunner

from dataops_platform.cli.main import cli

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
    path = settings.contracts_dir / "customers.yaml"
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
