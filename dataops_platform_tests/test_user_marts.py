"""A mart a user adds to their own project — a SQL file and a ``defs.yaml`` beside it, no
Python, no edit of the platform — is built, audited with every declared check, published as
a version and rolled back like the example's marts."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest
from click.testing import CliRunner

from dataops_platform.cli.main import cli
from dataops_platform.contracts.loader import ContractError
from dataops_platform.factory import build_platform
from dataops_platform.project.loading import project_config
from dataops_platform.project.validate import validate_project
from dataops_platform_tests.project_files import SAMPLE_DATA

MART_YAML = """\
type: dataops_platform.components.Mart
attributes:
  name: orders_per_status
  description: How many orders (and items) each status has, per currency.
  owner: analyst@example.com
  depends_on: [cleaned.orders]
  primary_key: [status, currency]
  checks:
    not_null: [status, currency, orders]
    accepted_values:
      - {column: currency, values: [EUR, USD, GBP]}
    row_count: {min: 1, max: 50}
    sql:
      - name: orders_positive
        description: every status has at least one order.
        query: select * from {table} where orders <= 0
  tags: {team: analytics}
"""

MART_SQL = """\
-- the newest version of each order, counted per status
with o as (
    select * from cleaned.orders
    qualify row_number() over (partition by order_id order by _ingested_at desc) = 1
)
select coalesce(status, 'unknown') as status, currency, count(*) as orders,
       sum(quantity) as items
from o where currency is not null group by all;
"""


def _mart_folder(settings) -> Path:
    return project_config(settings.project_dir).defs_dir / "marts" / "orders_per_status"


def _declare(settings, sql: str = MART_SQL, yaml_text: str = MART_YAML) -> Path:
    folder = _mart_folder(settings)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "defs.yaml").write_text(yaml_text, encoding="utf-8")
    (folder / "orders_per_status.sql").write_text(sql, encoding="utf-8")
    return folder


def test_a_declared_mart_is_built_audited_published_and_rolled_back(settings, land_samples,
                                                                   one_pass, query):
    _declare(settings)
    platform = build_platform(settings)
    defs = platform.definitions
    audit, curated = dg.AssetKey(["audit", "orders_per_status"]), dg.AssetKey(["curated",
                                                                              "orders_per_status"])
    graph = defs.resolve_asset_graph()
    assert graph.get(audit).parent_keys == {dg.AssetKey(["cleaned", "orders"])}
    assert graph.get(curated).parent_keys == {audit}
    spec = defs.resolve_assets_def(curated).specs_by_key[curated]
    assert spec.group_name == "curated" and spec.owners == ["analyst@example.com"]
    assert spec.tags["team"] == "analytics"
    checks = {k.name for k in defs.resolve_asset_graph().asset_check_keys if k.asset_key == audit}
    assert checks == {"unique_key", "not_null", "accepted_values_currency", "row_count",
                      "orders_positive"}

    land_samples()
    first = one_pass()
    assert first.ok, first
    outcomes = {c.check: c.passed for c in first.checks if c.asset == "audit/orders_per_status"}
    assert outcomes == dict.fromkeys(checks, True)
    built = query("select status, currency, orders from curated.orders_per_status order by 1, 2")
    expected = query("""
        with o as (select * from cleaned.orders qualify row_number() over
                   (partition by order_id order by _ingested_at desc) = 1)
        select coalesce(status, 'unknown'), currency, count(*) from o where currency is not null
        group by all order by 1, 2""")
    assert built == expected and len(built) > 1
    assert query("select version, status from publish.versions "
                 "where table_name = 'curated.orders_per_status'") == [(1, "published")]

    # a change that breaks a declared rule is held: the published table stays as it was
    _declare(settings, sql=MART_SQL.replace("currency, count(*)", "'XXX' as currency, count(*)")
             .replace("select coalesce(status, 'unknown') as status, currency,",
                      "select coalesce(status, 'unknown') as status,"))
    held = one_pass()
    failed = [(c.check, c.metadata.get("sample")) for c in held.checks
              if c.asset == "audit/orders_per_status" and not c.passed]
    assert failed == [("accepted_values_currency", "XXX")]
    assert query("select status, currency, orders from curated.orders_per_status "
                 "order by 1, 2") == built
    assert query("select version, status from publish.versions where table_name = "
                 "'curated.orders_per_status' order by 1") == [(1, "published"), (2, "failed")]

    # a passing change is published as the next version; rollback returns to the first
    _declare(settings, sql=MART_SQL.replace("count(*) as orders", "count(distinct order_id) as orders"))
    assert one_pass().ok
    assert query("select max(version) from publish.versions where table_name = "
                 "'curated.orders_per_status' and status = 'published'") == [(3,)]
    back = CliRunner().invoke(cli, ["rollback", "curated.orders_per_status"])
    assert back.exit_code == 0, back.output
    assert "version 3 -> version 1" in back.output
    assert query("select status, currency, orders from curated.orders_per_status "
                 "order by 1, 2") == built


def test_mart_declarations_are_validated_naming_file_and_field(settings):
    folder = _declare(settings, yaml_text=MART_YAML.replace("[cleaned.orders]", "[cleaned.ordres]")
                      .replace("row_count: {min: 1, max: 50}", "row_count: {min: 9, max: 2}")
                      .replace("query: select * from {table} where orders <= 0",
                               "query: select 1"))
    problems = str(validate_project(settings.project_dir))
    declared = str(folder / "defs.yaml")
    assert f"{declared}: attributes.checks.row_count: min (9) is larger than max (2)" in problems
    assert f"{declared}: attributes.checks.sql[0] (orders_positive): query must read the " \
           "candidate as {table}" in problems
    (folder / "orders_per_status.sql").unlink()
    _declare(settings, yaml_text=MART_YAML.replace("[cleaned.orders]", "[cleaned.ordres]"))
    (folder / "orders_per_status.sql").unlink()
    problems = str(validate_project(settings.project_dir))
    assert f"{declared}: attributes.sql: orders_per_status.sql does not exist" in problems
    assert f"{declared}: attributes.depends_on[0]: no table cleaned.ordres is declared in this " \
           "project (known: cleaned.customers, cleaned.orders," in problems
    with pytest.raises(ContractError):
        build_platform(settings)
    result = CliRunner().invoke(cli, ["contracts", "validate", str(settings.project_dir)])
    assert result.exit_code == 1
    assert "orders_per_status.sql does not exist" in result.output
    assert "Traceback" not in result.output


def test_only_marts_whose_inputs_changed_get_a_new_version(settings, land, land_samples,
                                                           one_pass, query):
    def published() -> dict[str, int]:
        return dict(query("select table_name, max(version) from publish.versions "
                          "where status = 'published' group by 1"))

    land_samples()
    assert one_pass().ok
    first = published()
    assert first["curated.daily_revenue"] == 1 and first["curated.customer_golden"] == 1

    assert one_pass().ok  # nothing new: nothing rebuilt, no version published
    assert published() == first

    # a new web-shop export feeds the customer entity only: its golden records get a new
    # version, the order marts keep theirs
    sample = next((SAMPLE_DATA / "webshop_customers").glob("*.csv"))
    lines = sample.read_text(encoding="utf-8").splitlines(keepends=True)
    land("webshop_customers/webshop_customers_2026-11-03.csv", "".join(lines[:-1]))
    assert one_pass().ok
    after = published()
    assert after["curated.customer_golden"] == 2
    unchanged = ("curated.daily_revenue", "curated.enriched_orders", "curated.customer_tier_history",
                 "curated.customer_lifetime_value")
    assert {t: after[t] for t in unchanged} == {t: first[t] for t in unchanged}
