"""Anomaly detection over each file's metrics: the robust decision on generated series, the
contract's `anomaly` section, and a planted anomaly in real landed files."""

from __future__ import annotations

import random

import duckdb
import pytest
import yaml

from dataops_platform.contracts import ContractError
from dataops_platform.contracts.loader import parse_contract
from dataops_platform.project.validate import load_contracts
from dataops_platform.quality.anomaly import detect, rate_noise, small_sample_factor
from dataops_platform.quality.metrics import (
    ANOMALIES,
    HISTORY,
    check_anomalies,
    compared_metrics,
    metric_names,
)
from dataops_platform_tests.project_files import contracts_dir, only_own_datasets

# --------------------------------------------------------------------------- the decision


def _noisy(n: int, seed: int = 11, level: float = 1000.0, noise: float = 0.03) -> list[float]:
    rng = random.Random(seed)
    return [level * (1 + rng.uniform(-noise, noise)) for _ in range(n)]


def test_normal_noise_is_quiet_and_a_planted_spike_is_flagged():
    series = _noisy(30)
    for i in range(30):  # every point against the ones before it (up to the last 20)
        verdict = detect(series[max(0, i - 20):i], series[i], threshold=3.5, min_history=5)
        assert not verdict.anomalous, verdict.reason

    spike = detect(series[-20:], 5 * series[-1], threshold=3.5, min_history=5, name="rows_in")
    assert spike.anomalous and spike.score > 50
    assert spike.lower < spike.median < spike.upper < 5 * series[-1]
    assert spike.reason.startswith(f"rows_in = {5 * series[-1]:.6g} is ")
    assert "robust deviations above the median" in spike.reason
    assert spike.reason.endswith(f"of the last 20 files (expected {spike.lower:.6g} .. {spike.upper:.6g})")

    drop = detect(series[-20:], 0.2 * series[-1], threshold=3.5, min_history=5)
    assert drop.anomalous and "below the median" in drop.reason


def test_one_earlier_bad_file_does_not_widen_the_band():
    history = [*_noisy(19), 5000.0]  # the previous file was an anomaly itself
    assert detect(history, 1015.0).anomalous is False
    assert detect(history, 1300.0).anomalous is True


def test_constant_history_flags_a_change_but_not_float_noise():
    assert detect([1000.0] * 10, 1010.0).anomalous
    assert "differs from the constant 1000 of the last 10 files" in detect([1000.0] * 10, 1010.0).reason
    assert not detect([1000.0] * 10, 1000.0 * (1 + 1e-12)).anomalous
    assert not detect([0.0] * 10, 1e-15).anomalous
    flagged = detect([0.0] * 10, 0.6, name="kwh.null_rate")
    assert flagged.anomalous and flagged.reason.startswith("kwh.null_rate = 0.6 differs from the constant 0")


def test_mostly_constant_history_falls_back_to_the_mean_absolute_deviation():
    # MAD = 0 (seven of ten are 0), but 0.01 has been seen before: not an anomaly
    history = [0.0] * 7 + [0.01] * 3
    assert detect(history, 0.01).mad == 0
    assert not detect(history, 0.01).anomalous
    assert detect(history, 0.2).anomalous


def test_small_histories_widen_the_band_and_rates_respect_their_sampling_noise():
    assert small_sample_factor(5) > small_sample_factor(10) > small_sample_factor(20) > 1
    assert small_sample_factor(22) == pytest.approx((3 * 1.49 + 2 * 1.38) / 5)
    assert small_sample_factor(1000) == 1.0
    # ±3% noise, 5 earlier files: a 20% jump is not yet conclusive, a 5x spike is
    assert not detect(_noisy(5), 1200.0).anomalous and detect(_noisy(5), 5000.0).anomalous
    assert detect(_noisy(20), 1200.0).anomalous
    # 1 null in ~200 rows each time, then 3: sampling noise; then 120: an anomaly
    rates = [1 / (200 + d) for d in (-4, -2, 0, 1, 3, 5, -1, 2)]
    assert detect(rates, 3 / 200).anomalous  # the rates barely vary: without the noise level
    noise = rate_noise(rates, 200)
    assert noise == pytest.approx((0.005 * 0.995 / 200) ** 0.5, rel=0.02)
    assert not detect(rates, 3 / 200, min_scale=noise).anomalous
    assert detect(rates, 120 / 200, min_scale=noise).anomalous
    assert rate_noise([0.0] * 5, 200) == pytest.approx((1 / 200 * (1 - 1 / 200) / 200) ** 0.5)


def test_too_little_history_or_no_value_is_not_compared():
    verdict = detect([1.0, 2.0, 3.0], 100.0, min_history=5, name="rows_in")
    assert not verdict.anomalous and verdict.history_size == 3
    assert verdict.reason == "rows_in = 100: only 3 earlier files, at least 5 needed before comparing"
    # missing values in the history do not count towards it
    assert detect([1.0, None, float("nan"), 2.0, 3.0, 2.0], 100.0, min_history=5).history_size == 4
    assert not detect([1.0] * 10, None).anomalous
    with pytest.raises(ValueError):
        detect([1.0] * 10, 1.0, threshold=0)
    with pytest.raises(ValueError):
        detect([1.0] * 10, 1.0, min_history=2)


# --------------------------------------------------------------------------- the contract

BASE = {"name": "things", "description": "d", "owner": "o", "source": {"format": "csv"},
        "columns": [{"name": "id", "type": "integer", "nullable": False}, {"name": "label"},
                    {"name": "price", "type": "decimal"}],
        "primary_key": ["id"]}


def _problems(tmp_path, anomaly):
    path = tmp_path / "things.yaml"
    path.write_text(yaml.safe_dump({**BASE, "anomaly": anomaly}), encoding="utf-8")
    with pytest.raises(ContractError) as info:
        parse_contract(path)
    return [str(p) for p in info.value.problems]


@pytest.mark.parametrize(("anomaly", "fragments"), [
    ({"window": 0}, ["anomaly.window", "greater than or equal to 1"]),
    ({"threshold": -1}, ["anomaly.threshold", "greater than 0"]),
    ({"min_history": 2}, ["anomaly.min_history", "greater than or equal to 3"]),
    ({"window": 3}, ["anomaly", "'min_history' (5) cannot exceed 'window' (3)"]),
    ({"severity": "fatal"}, ["anomaly.severity", "'fatal'"]),
    ({"metrics": ["row_count"]}, ["anomaly", "'row_count' is not a metric", "rows_in"]),
    ({"metrics": ["label.median"]}, ["anomaly", "'label.median' is not a metric"]),
    ({"metrics": ["nope.null_rate"]}, ["anomaly.metrics", "'nope.null_rate' names no column"]),
    ({"metrics": ["label.mean"]}, ["anomaly.metrics", "'mean' needs an integer, float or decimal"]),
    ({"metrics": ["id.mean"]}, ["anomaly.metrics", "primary-key column"]),
    ({"windw": 10}, ["anomaly.windw", "unknown field"]),
])
def test_a_bad_anomaly_setting_is_one_problem_naming_the_field(tmp_path, anomaly, fragments):
    (problem,) = _problems(tmp_path, anomaly)
    assert problem.startswith(f"{tmp_path / 'things.yaml'}: {fragments[0]}")
    for fragment in fragments[1:]:
        assert fragment in problem, problem


def test_every_dataset_gets_anomaly_detection_with_defaults_and_a_subset_can_be_chosen(tmp_path):
    path = tmp_path / "things.yaml"
    path.write_text(yaml.safe_dump(BASE), encoding="utf-8")
    contract = parse_contract(path)
    assert (contract.anomaly.window, contract.anomaly.threshold, contract.anomaly.min_history,
            contract.anomaly.severity.value, contract.anomaly.metrics) == (20, 3.5, 5, "warn", None)
    assert metric_names(contract) == [  # no mean of the primary key: it says nothing
        "rows_in", "quarantine_rate", "id.null_rate", "id.distinct_count",
        "label.null_rate", "label.distinct_count", "price.null_rate", "price.distinct_count",
        "price.mean"]
    subset = contract.model_copy(update={"anomaly": contract.anomaly.model_copy(
        update={"metrics": ["rows_in", "null_rate", "price.mean"]})})
    assert compared_metrics(subset) == [
        "rows_in", "id.null_rate", "label.null_rate", "price.null_rate", "price.mean"]


# --------------------------------------------------------------------------- real files

READINGS = {
    "name": "readings", "description": "Meter readings, one file per hour.",
    "owner": "tests@example.com", "source": {"format": "csv"}, "primary_key": ["reading_id"],
    "columns": [{"name": "reading_id", "type": "integer", "nullable": False},
                {"name": "meter", "nullable": False},
                {"name": "kwh", "type": "float"}],
}


def _readings(rng: random.Random, file_no: int, null_share: float = 0.01) -> str:
    """~200 rows (±3%), kWh around a file-level level that drifts ±3%, ~1% missing."""
    rows = round(200 * (1 + rng.uniform(-0.03, 0.03)))
    level = 10 * (1 + rng.uniform(-0.03, 0.03))
    lines = ["reading_id,meter,kwh"]
    for j in range(rows):
        kwh = "" if rng.random() < null_share else f"{rng.gauss(level, 1):.3f}"
        lines.append(f"{file_no * 10_000 + j},M{j % 10},{kwh}")
    return "\n".join(lines) + "\n"


def test_a_planted_null_rate_jump_fails_its_files_anomalies_check_and_history_is_kept_once(
        settings, land, one_pass, query):
    from dataops_platform.automation.one_pass import prepare_instance
    from dataops_platform.factory import build_platform
    from dataops_platform.quality.gate import run_gate

    only_own_datasets(settings)  # only this dataset: faster definitions
    (contracts_dir(settings) / "readings.yaml").write_text(yaml.safe_dump(READINGS), encoding="utf-8")
    (contract,) = load_contracts(settings.project_dir)
    rng = random.Random(2026)
    for i in range(8):
        land(f"readings/readings_{i:02d}.csv", _readings(rng, i))
    normal = one_pass()  # one run per file, one after the other: each ingested after the last
    assert normal.ok
    checks = [c for c in normal.checks if c.check == ANOMALIES]
    assert len(checks) == 8 and all(c.passed for c in checks)

    land("readings/readings_08.csv", _readings(rng, 8, null_share=0.6))
    planted = one_pass()
    assert planted.ok  # warn: reported, nothing blocked
    (outcome,) = [c for c in planted.checks if c.check == ANOMALIES]
    assert not outcome.passed and outcome.severity == "WARN"
    anomalous_key = outcome.partition
    assert anomalous_key.startswith("readings_08.csv@")

    def gate() -> dict[str, dict]:
        instance = prepare_instance(settings)
        try:
            outcomes = run_gate(settings, build_platform(settings), instance)
        finally:
            instance.dispose()
        return {o.partition: {"passed": o.passed, **{k: v.value for k, v in o.metadata.items()}}
                for o in outcomes if o.check == ANOMALIES}

    first = gate()
    assert len(first) == 9
    flagged = first[anomalous_key]
    assert not flagged["passed"] and flagged["history_files"] == 8
    assert flagged["metrics_compared"] == len(metric_names(contract))
    table = flagged["anomalies"]
    assert "kwh.null_rate" in table and "rows_in" not in table
    assert all(v["passed"] for k, v in first.items() if k != anomalous_key)
    # the first five files have too little history to compare; later ones are compared
    assert sorted(v["metrics_compared"] for v in first.values()) == [0] * 5 + [
        len(metric_names(contract))] * 4

    def history_rows() -> list[tuple]:
        return query(f'select "partition", metric, count(*) from {HISTORY} '
                     "where dataset = 'readings' group by all")

    rows = history_rows()
    assert len(rows) == 9 * len(metric_names(contract)) and {r[2] for r in rows} == {1}
    assert gate() == first  # re-checking is deterministic and records nothing twice
    assert sorted(history_rows()) == sorted(rows)
    assert query(f"select count(*) from {HISTORY} where ingested_at is null or value is null") == [(0,)]

    # earlier files whose metrics were never recorded are measured when needed
    conn = duckdb.connect(str(settings.warehouse_path))
    try:
        conn.execute(f"delete from {HISTORY} where \"partition\" <> {anomalous_key!r}")
        result = check_anomalies(conn, contract, anomalous_key)
        assert not result.passed
        assert (result.description or "").startswith("kwh.null_rate = 0.")
        assert "robust deviations above the median" in (result.description or "")
        assert result.metadata["history_files"].value == 8
        assert conn.execute(f"select count(distinct \"partition\") from {HISTORY}").fetchall() == [(9,)]
    finally:
        conn.close()
