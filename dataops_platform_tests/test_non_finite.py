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
# the same file, for a dataset whose contract keeps non-finite values
ALLOWING = {**MEASURES, "name": "readings", "reconcile": [], "columns": [
    MEASURES["columns"][0], {**MEASURES["columns"][1], "allow_non_finite": True}]}
FILE = "id,value\n1,1.5\n2,NaN\n3,inf\n4,1e400\n5,-Infinity\n6,-0.0\n"


def test_non_finite_floats_are_type_violations_unless_the_contract_allows_them(
        settings, land, one_pass, query):
    only_contracts(contracts_dir(settings), MEASURES, ALLOWING)
    land("measures/m.csv", FILE)
    land("readings/m.csv", FILE)
    result = one_pass()
    assert not result.failures and result.ok, result.failures
    assert query("select id, value from cleaned.measures order by id") == [(1, 1.5), (6, -0.0)]
    assert query("select _source_file, _row_number, \"column\", rule, value "
                 "from quarantine.measures order by _row_number") == [
        ("measures/m.csv", 2, "value", "type", "NaN"), ("measures/m.csv", 3, "value", "type", "inf"),
        ("measures/m.csv", 4, "value", "type", "1e400"),
        ("measures/m.csv", 5, "value", "type", "-Infinity")]
    passed = {(c.asset, c.check): c.passed for c in result.checks}
    assert passed[("cleaned/measures", "row_conservation")]
    assert passed[("cleaned/measures", "reconciliation")]  # totals of finite values conserved
    assert passed[("cleaned/measures", "contract_schema")]

    values = dict(query("select id, value from cleaned.readings"))
    assert values[1] == 1.5 and math.isnan(values[2]) and values[3] == math.inf
    assert values[4] == math.inf and values[5] == -math.inf
    assert query("select count(*) from quarantine.readings") == [(0,)]
