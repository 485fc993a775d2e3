"""Column-level conservation: a contract column no delivered column maps to is a named
finding, never a silently emptied column."""

import copy

from dataops_platform.automation.one_pass import PassResult
from dataops_platform.cli.summary import render_summary
from dataops_platform.factory import build_platform
from dataops_platform_tests.hostile_helpers import only_contracts
from dataops_platform_tests.project_files import contracts_dir

PEOPLE = {
    "name": "people", "description": "People.", "owner": "o@example.com",
    "source": {"format": "csv"}, "primary_key": ["id"],
    "columns": [
        {"name": "id", "type": "integer", "nullable": False},
        {"name": "first_name", "rename_from": " given_name"},  # as written in the file
        {"name": "last_name", "rename_from": "Family_Name"},
        {"name": "city"},
    ],
}


def _checks(result: PassResult, name: str = "columns_present"):
    return [c for c in result.checks if c.check == name]


def test_rename_from_matches_a_header_differing_only_by_whitespace_or_case(
        settings, land, one_pass, query):
    only_contracts(contracts_dir(settings), PEOPLE)
    land("people/p.csv", "id, given_name,family_name,city\n1,Ann,Lee,Köln\n2,Bo,Kim,Lyon\n")
    result = one_pass()
    assert not result.failures
    assert query("select id, first_name, last_name, city from cleaned.people order by id") == [
        (1, "Ann", "Lee", "Köln"), (2, "Bo", "Kim", "Lyon")]
    (check,) = _checks(result)
    assert check.passed


def test_a_missing_nullable_column_fails_columns_present_and_is_named_in_the_summary(
        settings, land, one_pass, query):
    only_contracts(contracts_dir(settings), PEOPLE)
    land("people/p.csv", "id,given_name,surname,city\n1,Ann,Lee,Köln\n")
    result = one_pass()
    (check,) = _checks(result)
    assert not check.passed and check.severity == "ERROR"
    assert result.failed_error_checks  # `dataops run` exits 1
    assert query("select first_name, last_name from cleaned.people") == [("Ann", None)]
    text = render_summary(settings, build_platform(settings).datasets, result)
    line = next(x for x in text.splitlines() if "columns_present" in x)
    assert line.startswith("ERROR") and "last_name" in line and "p.csv@" in line, line


def test_missing_columns_warn_makes_it_a_warning(settings, land, one_pass):
    contract = copy.deepcopy(PEOPLE) | {"missing_columns": "warn"}
    only_contracts(contracts_dir(settings), contract)
    land("people/p.csv", "id,given_name,family_name\n1,Ann,Lee\n")
    result = one_pass()
    (check,) = _checks(result)
    assert not check.passed and check.severity == "WARN"
    assert not result.failed_error_checks


def test_a_file_with_none_of_the_declared_columns_is_rejected_whole(
        settings, land, one_pass, query):
    only_contracts(contracts_dir(settings), PEOPLE)
    land("people/good.csv", "id,given_name,family_name,city\n1,Ann,Lee,Köln\n")
    assert not one_pass().failures
    land("people/bad.csv", "a;b;c\n1;2;3\n")
    result = one_pass()
    (failure,) = result.failures
    assert "bad.csv was rejected: none of the 4 columns" in failure and "Traceback" not in failure
    assert query("select _source_file, count(*) from raw.people group by 1") == [
        ("people/good.csv", 1)]
