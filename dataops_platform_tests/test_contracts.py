"""Dataset contracts: the bundled demo contracts load, defaults apply, and every mistake
becomes one problem that names the file, the field path and what is wrong."""

from __future__ import annotations

import copy

import pytest
import yaml

from dataops_platform.contracts import Column, ColumnType, Contract, Rule, Severity
from dataops_platform.contracts.loader import (
    ContractError,
    ContractProblem,
    parse_contract,
)
from dataops_platform.contracts.model import FileFormat, Standardization
from dataops_platform.project.validate import load_contracts as load_project_contracts
from dataops_platform_tests.project_files import EXAMPLE

MINIMAL = {
    "name": "things",
    "description": "A test dataset.",
    "owner": "tests@example.com",
    "source": {"format": "csv"},
    "columns": [
        {"name": "id", "type": "integer", "nullable": False},
        {"name": "label"},
    ],
    "primary_key": ["id"],
}


def contract_data(mutate=None):
    data = copy.deepcopy(MINIMAL)
    if mutate is not None:
        mutate(data)
    return data


def write_yaml(folder, stem, data, suffix=".yaml"):
    path = folder / f"{stem}{suffix}"
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def problems_of(path):
    with pytest.raises(ContractError) as info:
        parse_contract(path)
    return info.value.problems


# --------------------------------------------------------------------------- valid contracts


def test_bundled_demo_contracts_load():
    contracts = {c.name: c for c in load_project_contracts(EXAMPLE)}

    assert set(contracts) == {"customers", "orders", "products", "webshop_customers"}
    assert contracts["customers"].source.format is FileFormat.csv
    assert contracts["customers"].source.options.delimiter == ";"
    assert contracts["customers"].source.options.encoding == "latin-1"
    assert contracts["orders"].source.format is FileFormat.ndjson
    assert contracts["products"].source.format is FileFormat.parquet
    assert contracts["orders"].primary_key == ["order_id"]
    assert contracts["customers"].column("email").severity_of(Rule.pattern) is Severity.warn
    for contract in contracts.values():
        assert contract.group_name == "shop"
        assert contract.landing_glob == f"{contract.name}/*.{contract.source.format.value}"


@pytest.mark.parametrize("stem", ["customers", "orders", "products"])
def test_each_example_contract_parses_on_its_own(stem, tmp_path):
    from dataops_platform_tests.project_files import unwrap

    text = unwrap((EXAMPLE / "webshop" / "defs" / "datasets" / stem / "defs.yaml").read_text())
    (tmp_path / f"{stem}.yaml").write_text(text)
    assert parse_contract(tmp_path / f"{stem}.yaml").name == stem


def test_minimal_contract_gets_the_documented_defaults(tmp_path):
    path = write_yaml(tmp_path, "things", contract_data())

    contract = parse_contract(path)

    assert isinstance(contract, Contract)
    assert contract.landing_glob == "things/*.csv"
    assert contract.group_name == "datasets"
    assert contract.tags == {}
    label = contract.column("label")
    assert isinstance(label, Column)
    assert label.type is ColumnType.string
    assert label.nullable is True
    assert label.standardize == [Standardization.trim]
    assert label.source_name == "label"
    assert all(label.severity_of(rule) is Severity.error for rule in Rule if rule is not Rule.references)
    assert label.severity_of(Rule.references) is Severity.warn  # a set-level check: warn by default
    options = contract.source.options
    assert (options.delimiter, options.encoding, options.header, options.quote) == (",", "utf-8", True, '"')
    assert options.skip_rows == 0
    assert "NA" in contract.source.null_markers
    assert "" in contract.source.null_markers


@pytest.mark.parametrize("fmt", [f.value for f in FileFormat if f is not FileFormat.files])
def test_default_landing_glob_follows_the_format(tmp_path, fmt):
    path = write_yaml(tmp_path, "things", contract_data(lambda d: d["source"].update(format=fmt)))

    assert parse_contract(path).landing_glob == f"things/*.{fmt}"


def test_a_lake_only_dataset_takes_every_file_and_needs_no_columns(tmp_path):
    def mutate(d):
        d["source"].update(format="files")
        for field in ("columns", "primary_key"):
            d.pop(field, None)

    contract = parse_contract(write_yaml(tmp_path, "things", contract_data(mutate)))
    assert contract.lake_only and contract.landing_glob == "things/*" and not contract.columns


def test_explicit_landing_glob_and_group_win(tmp_path):
    def mutate(d):
        d["source"]["landing"] = "incoming/**/*.csv"
        d["group"] = "sales"

    contract = parse_contract(write_yaml(tmp_path, "things", contract_data(mutate)))

    assert contract.landing_glob == "incoming/**/*.csv"
    assert contract.group_name == "sales"


def test_contract_model_is_frozen(tmp_path):
    contract = parse_contract(write_yaml(tmp_path, "things", contract_data()))

    with pytest.raises(ValueError, match="frozen"):
        contract.name = "other"


# --------------------------------------------------------------------------- one problem each


def _set_column(index, **values):
    return lambda d: d["columns"][index].update(values)


MISTAKES = [
    pytest.param(
        _set_column(0, nulable=True), "columns[0] (id).nulable", ["unknown field"], id="unknown-field"
    ),
    pytest.param(
        lambda d: d.update(primary_keys=["id"]),
        "primary_keys",
        ["unknown field"],
        id="unknown-top-level-field",
    ),
    pytest.param(
        _set_column(0, type="interger"), "columns[0] (id).type", ["'interger'", "'integer'"], id="wrong-enum"
    ),
    pytest.param(
        lambda d: d["source"].update(format="xlsx"), "source.format", ["'xlsx'", "'csv'"], id="wrong-format"
    ),
    pytest.param(lambda d: d.pop("owner"), "owner", ["is required"], id="missing-owner"),
    pytest.param(
        lambda d: d["source"].pop("format"), "source.format", ["is required"], id="missing-nested-field"
    ),
    pytest.param(
        _set_column(1, formats=["%Y-%m-%d"]),
        "columns[1] (label)",
        ["'formats'", "date/timestamp", "string"],
        id="formats-on-string",
    ),
    pytest.param(
        _set_column(1, pattern="[a-"),
        "columns[1] (label)",
        ["'pattern'", "not a valid regular expression"],
        id="bad-regex",
    ),
    pytest.param(
        _set_column(1, min=1),
        "columns[1] (label)",
        ["'min'", "numeric or date type", "string"],
        id="min-on-string",
    ),
    pytest.param(
        _set_column(0, min="one"),
        "columns[0] (id)",
        ["'min' must be a number", "integer"],
        id="string-min-on-integer",
    ),
    pytest.param(
        _set_column(0, type="decimal", precision=4, scale=6),
        "columns[0] (id)",
        ["'scale' (6)", "'precision' (4)"],
        id="scale-above-precision",
    ),
    pytest.param(
        _set_column(0, standardize=["trim", "shout"]),
        "columns[0] (id).standardize[1]",
        ["'shout'"],
        id="unknown-standardization",
    ),
    pytest.param(
        lambda d: d.update(primary_key=["nope"]),
        "primary_key",
        ["'nope'", "not among the columns"],
        id="unknown-primary-key",
    ),
    pytest.param(
        _set_column(0, nullable=True), "primary_key", ["'id'", "nullable: false"], id="nullable-primary-key"
    ),
    pytest.param(
        lambda d: d["columns"].append({"name": "label"}),
        "columns",
        ["duplicated column name", "'label'"],
        id="duplicate-column",
    ),
    pytest.param(
        lambda d: d["source"].update(options={"delimiter": ";;"}),
        "source.options.delimiter",
        ["exactly one character", "';;'"],
        id="two-char-delimiter",
    ),
    pytest.param(lambda d: d.update(columns=[]), "columns", ["at least 1"], id="no-columns"),
    pytest.param(
        _set_column(1, name="Order ID"),
        "columns[1] (Order ID).name",
        ["pattern", "'Order ID'"],
        id="column-name-not-identifier",
    ),
]


@pytest.mark.parametrize(("mutate", "field_path", "fragments"), MISTAKES)
def test_each_mistake_is_one_problem_naming_file_field_and_cause(tmp_path, mutate, field_path, fragments):
    path = write_yaml(tmp_path, "things", contract_data(mutate))

    problems = problems_of(path)

    assert len(problems) == 1, problems
    problem = problems[0]
    assert isinstance(problem, ContractProblem)
    assert problem.file == path
    # Field-level problems carry the path in ``field``; model-level ones ("primary_key: ...")
    # lead their message with it. Either way the rendered problem reads "<file>: <field>...".
    assert str(problem).startswith(f"{path}: {field_path}")
    for fragment in fragments:
        assert fragment in problem.message
    assert "Traceback" not in str(problem)


def test_unknown_field_problem_has_the_exact_field_path(tmp_path):
    path = write_yaml(tmp_path, "things", contract_data(_set_column(0, nulable=True)))

    (problem,) = problems_of(path)

    assert problem.field == "columns[0] (id).nulable"
    assert problem.message.startswith("unknown field")


def test_independent_mistakes_are_all_reported(tmp_path):
    def mutate(d):
        d["columns"][0]["nulable"] = True
        d["columns"][1]["type"] = "strng"
        d.pop("owner")

    problems = problems_of(write_yaml(tmp_path, "things", contract_data(mutate)))

    assert sorted(p.field for p in problems) == [
        "columns[0] (id).nulable",
        "columns[1] (label).type",
        "owner",
    ]


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("name: things\ndescription: d\nowner: a: b\nsource: {format: csv}\n", 3),
        ("name: things\ncolumns: [a, b\n", 3),
        ("name: things\n\tdescription: tab-indented\n", 2),
    ],
)
def test_invalid_yaml_names_the_line(tmp_path, text, line):
    path = tmp_path / "things.yaml"
    path.write_text(text, encoding="utf-8")

    (problem,) = problems_of(path)

    assert problem.file == path
    assert problem.field.startswith(f"line {line}, column ")
    assert "is not valid YAML" in problem.message


@pytest.mark.parametrize(
    "text",
    ["- name: things\n- owner: me\n", "just a string\n", "", "42\n"],
    ids=["list", "scalar", "empty", "number"],
)
def test_non_mapping_document_is_one_problem(tmp_path, text):
    path = tmp_path / "things.yaml"
    path.write_text(text, encoding="utf-8")

    (problem,) = problems_of(path)

    assert problem.file == path
    assert problem.field == ""
    assert "must be a YAML mapping" in problem.message


def test_name_must_match_the_file_stem(tmp_path):
    path = write_yaml(tmp_path, "things", contract_data(lambda d: d.update(name="other")))

    (problem,) = problems_of(path)

    assert problem.file == path
    assert problem.field == "name"
    assert "'other'" in problem.message
    assert "'things'" in problem.message


def test_unreadable_file_is_one_problem(tmp_path):
    path = tmp_path / "things.yaml"
    path.write_bytes(b"\xff\xfe name: things")

    (problem,) = problems_of(path)

    assert problem.file == path
    assert "cannot be read" in problem.message


def test_name_mismatch_is_reported_alongside_other_problems(tmp_path):
    def mutate(d):
        d["name"] = "other"
        d["columns"][0]["nulable"] = True

    problems = problems_of(write_yaml(tmp_path, "things", contract_data(mutate)))

    assert sorted(p.field for p in problems) == ["columns[0] (id).nulable", "name"]


def test_problem_str_without_field_is_just_file_and_message(tmp_path):
    problem = ContractProblem(tmp_path / "x.yaml", "", "is broken")

    assert str(problem) == f"{tmp_path / 'x.yaml'}: is broken"
    assert str(ContractProblem(tmp_path / "x.yaml", "owner", "is required")) == (
        f"{tmp_path / 'x.yaml'}: owner: is required"
    )


# --------------------------------------------------------------------------- load_contracts


def test_load_contracts_reports_every_problem_of_every_declaration(tmp_path):
    from dataops_platform.cli.project_commands import write_declared_project
    from dataops_platform.project.loading import project_config

    def two_mistakes(d):
        d["name"] = "alpha"
        d["columns"][0]["nulable"] = True
        d.pop("owner")

    project = write_declared_project(tmp_path / "p", {
        "alpha": yaml.safe_dump(contract_data(two_mistakes)),
        "gamma": yaml.safe_dump(contract_data(lambda d: d.update(name="gamma")))})
    with pytest.raises(ContractError) as info:
        load_project_contracts(project)
    alpha = project_config(project).defs_dir / "datasets" / "alpha" / "defs.yaml"
    assert sorted((p.file, p.field) for p in info.value.problems) == [
        (alpha, "attributes.columns[0] (id).nulable"), (alpha, "attributes.owner")]
    text = str(info.value)
    assert text.startswith("2 problem(s) in contracts:") and str(alpha) in text
    assert "gamma" not in text

    alpha.write_text("type: dataops_platform.components.Dataset\nattributes:\n  columns: [a, b\n",
                     encoding="utf-8")
    with pytest.raises(ContractError) as info:
        load_project_contracts(project)
    (problem,) = info.value.problems
    assert problem.file == alpha and problem.field.startswith("line ")


def test_a_project_needs_its_platform_declaration(tmp_path):
    import shutil

    from dataops_platform.cli.project_commands import write_declared_project
    from dataops_platform.project.loading import project_config

    project = write_declared_project(tmp_path / "p", {
        "gamma": yaml.safe_dump(contract_data(lambda d: d.update(name="gamma")))})
    assert [c.name for c in load_project_contracts(project)] == ["gamma"]
    shutil.rmtree(project_config(project).defs_dir / "platform")
    with pytest.raises(ContractError) as info:
        load_project_contracts(project)
    assert "needs exactly one dataops_platform.components.Platform declaration" in str(info.value)


def test_freshness_becomes_a_dagster_policy_and_bad_durations_are_named(tmp_path):
    import datetime as dt

    from dataops_platform.transform.cleaned_asset import freshness_policy

    base = {"name": "f", "description": "d", "owner": "o", "source": {"format": "csv"},
            "columns": [{"name": "x"}]}
    contract = Contract.model_validate({**base, "freshness": {"warn_after": "26h", "fail_after": "2d"}})
    policy = freshness_policy(contract)
    assert policy.fail_window.to_timedelta() == dt.timedelta(days=2)
    assert policy.warn_window.to_timedelta() == dt.timedelta(hours=26)
    assert freshness_policy(Contract.model_validate(base)) is None

    path = tmp_path / "f.yaml"
    path.write_text("name: f\ndescription: d\nowner: o\nsource: {format: csv}\ncolumns: [{name: x}]\n"
                    "freshness: {warn_after: 3d, fail_after: soon}\n")
    with pytest.raises(ContractError) as info:
        parse_contract(path)
    (problem,) = info.value.problems
    assert problem.field == "freshness" and "'soon' is not a duration" in problem.message
