"""NaN, inf and 1e400 in a float column (hostile corpus, issue 16): a `type` violation,
quarantined with file, row and value, unless the contract says ``allow_non_finite: true``."""

from __future__ import annotations

import math

from dataops_platform_tests.hostile_helpers import only_contracts
from dataops_platform_tests.project_files import contracts_dir

MEASURES = {"name": "measures", "description": "Measurements.", "owner": "o@example.com",
            "source": {"format": "csv"}, "primary_key": ["id"], "reconcile": ["value"],
            "columns": [{"name": "id", "type": "integer", "nullable": False},
                        {"name": "value", "type": "float"}]}
FILE = "id,value\n1,1.5\n2,NaN\n3,inf\n4,1e400\n5,-Infinity\n6,-0.0\n"


def test_non_finite_floats_are_type_violations_with_file_and_row(settings, land, one_pass,
                                                                 query):
    only_contracts(contracts_dir(settings), MEASURES)
    land("measures/m.csv", FILE)
    result = one_pass()
    assert result.ok, result.failures
    assert query("select id, value from cleaned.measures order by id") == [(1, 1.5), (6, -0.0)]
    assert query("select _source_file, _row_number, \"column\", rule, value "
                 "from quarantine.measures order by _row_number") == [
        ("measures/m.csv", 2, "value", "type", "NaN"), ("measures/m.csv", 3, "value", "type", "inf"),
        ("measures/m.csv", 4, "value", "type", "1e400"),
        ("measures/m.csv", 5, "value", "type", "-Infinity")]
    passed = {c.check: c.passed for c in result.checks}
    assert passed["row_conservation"] and passed["reconciliation"] and passed["contract_schema"]


def test_allow_non_finite_keeps_them(settings, land, one_pass, query):
    allowing = {**MEASURES, "reconcile": [], "columns": [
        MEASURES["columns"][0], {**MEASURES["columns"][1], "allow_non_finite": True}]}
    only_contracts(contracts_dir(settings), allowing)
    land("measures/m.csv", FILE)
    result = one_pass()
    assert not result.failures
    values = dict(query("select id, value from cleaned.measures"))
    assert values[1] == 1.5 and math.isnan(values[2]) and values[3] == math.inf
    assert values[4] == math.inf and values[5] == -math.inf
    assert query("select count(*) from quarantine.measures") == [(0,)]
