"""The SQL engine vs Splink 5 (DuckDB backend) on FEBRL, on the same candidate pairs.

Both engines get the records normalized by the engine (``engine._normalize``: lower case,
letters only for names, identifiers without separators) and the blocking keys of the
FEBRL entity contract (``entity_resolution_foreign.CONFIG``), so only the scoring differs.
Splink is configured the way its documentation recommends for person data, not with bare
defaults:

- comparisons: NameComparison for given name and surname and Jaro-Winkler levels for
  suburb, both address lines, exact street number / postcode / state, Damerau-Levenshtein
  levels for the birth date (as text: invalid dates stay comparable) and the id, with
  term-frequency adjustments on names, suburb, postcode and state;
- the prior from deterministic rules (``estimate_probability_two_random_records_match``,
  recall 0.7), u from random sampling (1M pairs), m by EM on blocks that are not the
  compared field (given+surname, then date of birth, then postcode).

Entities are the connected components of pairs with match probability >= 0.9 for both;
precision / recall / F1 are over pairs of records sharing an entity vs the truth. Each
engine runs in its own process (so its peak RSS is its own); times exclude loading.

    .venv/bin/python benchmarks/splink_compare.py [--set febrl2 ...]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from entity_resolution_foreign import (
    CONFIG,
    RESULTS_DIR,
    SETS,
    entity_pairs,
    load,
    prf,
    truth_pairs,
)

MATCH = 0.9


def spec(weights: str, datasets: list[str]):
    import yaml

    from dataops_platform.resolve.spec import EntitySpec

    body = yaml.safe_load(CONFIG.replace("{weights}", weights))
    dedup = len(datasets) > 1
    return EntitySpec(name="person", sources=[{"dataset": d, "id": "rec_id", "deduplicated": dedup}
                                              for d in datasets], **body)


def records(conn, name: str) -> list[str]:
    frames = load(name)
    parts = []
    for dataset, frame in frames.items():
        frame = frame.copy()
        frame.insert(0, "record_id", dataset + ":" + frame["rec_id"])
        frame.insert(1, "source", dataset)
        frame = frame.replace({"": None})
        conn.register(f"_f_{dataset}", frame)
        parts.append(f"SELECT * FROM _f_{dataset}")
    conn.execute(f"CREATE TABLE records AS {' UNION ALL '.join(parts)}")
    return list(frames)


def evaluate(conn, name: str, datasets: list[str], table: str) -> dict:
    from dataops_platform.resolve.components import connected_components

    ids = [r[0] for r in conn.execute("SELECT record_id FROM records").fetchall()]
    edges = conn.execute(f"SELECT left_id, right_id FROM {table} WHERE score >= {MATCH}").fetchall()
    if len(datasets) > 1:  # link only
        edges = [e for e in edges if e[0].split(":")[0] != e[1].split(":")[0]]
    components = connected_components(ids, edges)
    frames = conn.execute("SELECT source, rec_id FROM records").fetchall()
    by_set: dict[str, list[str]] = {}
    for dataset, rec in frames:
        by_set.setdefault(dataset, []).append(rec)
    true = truth_pairs(by_set)
    if len(datasets) > 1:
        true = {p for p in true if p[0].split(":")[0] != p[1].split(":")[0]}
    p, r, f1 = prf(entity_pairs(list(components.items())), true)
    scored = {tuple(x) for x in conn.execute(f"SELECT left_id, right_id FROM {table}").fetchall()}
    return {"precision": round(p, 5), "recall": round(r, 5), "f1": round(f1, 5),
            "candidate_recall": round(len(true & scored) / len(true), 5), "pairs": len(scored)}


def child_sql(name: str, weights: str) -> dict:
    import duckdb

    from dataops_platform.resolve.engine import score_pairs_with_model

    conn = duckdb.connect()
    datasets = records(conn, name)
    started = time.perf_counter()
    score_pairs_with_model(conn, spec(weights, datasets), "records", "pairs")
    seconds = time.perf_counter() - started
    return {"engine": f"sql-{weights}", "seconds": round(seconds, 2),
            **evaluate(conn, name, datasets, "pairs")}


def child_splink(name: str) -> dict:
    import logging

    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from dataops_platform.resolve import engine

    logging.getLogger("splink").setLevel(logging.WARNING)
    conn = duckdb.connect()
    datasets = records(conn, name)
    s = spec("learned", datasets)
    started = time.perf_counter()
    engine._normalize(conn, s, "records", "norm", "_bench")
    rules = engine.rules_of(s)
    keys = ", ".join(f"{engine._key_sql(s, r)} AS key_{i}" for i, r in enumerate(rules))
    cols = ", ".join(f"n.n_{f.name} AS {f.name}" for f in s.fields)
    conn.execute(f"""CREATE TABLE splink_input AS
        SELECT n.record_id AS unique_id, split_part(n.record_id, ':', 1) AS source_dataset, {cols}, {keys}
        FROM norm n""")

    def tf(comparison):
        return comparison.configure(term_frequency_adjustments=True)

    link = len(datasets) > 1
    settings = SettingsCreator(
        link_type="link_only" if link else "dedupe_only",
        blocking_rules_to_generate_predictions=[block_on(f"key_{i}") for i in range(len(rules))],
        comparisons=[
            tf(cl.NameComparison("given_name")),
            tf(cl.NameComparison("surname")),
            cl.ExactMatch("street_number"),
            cl.JaroWinklerAtThresholds("address_1", [0.92, 0.8]),
            cl.JaroWinklerAtThresholds("address_2", [0.92, 0.8]),
            tf(cl.JaroWinklerAtThresholds("suburb", [0.92, 0.8])),
            tf(cl.ExactMatch("postcode")),
            tf(cl.ExactMatch("state")),
            cl.DamerauLevenshteinAtThresholds("date_of_birth", [1, 2]),
            cl.DamerauLevenshteinAtThresholds("soc_sec_id", [1, 2]),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(conn)
    if link:
        for d in datasets:
            conn.execute(f"CREATE TABLE input_{d} AS SELECT * FROM splink_input WHERE source_dataset = '{d}'")
        linker = Linker([db_api.register(f"input_{d}") for d in datasets], settings)
    else:
        linker = Linker(db_api.register("splink_input"), settings)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("soc_sec_id", "date_of_birth"), block_on("given_name", "surname", "date_of_birth")],
        recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e6, seed=1)
    for rule in (block_on("given_name", "surname"), block_on("date_of_birth"), block_on("postcode")):
        linker.training.estimate_parameters_using_expectation_maximisation(rule)
    trained = time.perf_counter()
    predictions = linker.inference.predict()
    conn.execute(f"CREATE TABLE pairs AS SELECT least(unique_id_l, unique_id_r) AS left_id, "
                 f"greatest(unique_id_l, unique_id_r) AS right_id, match_probability AS score "
                 f"FROM {predictions.physical_name}")
    seconds = time.perf_counter() - started
    return {"engine": "splink", "seconds": round(seconds, 2), "train_seconds": round(trained - started, 2),
            **evaluate(conn, name, datasets, "pairs")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", choices=SETS)
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "SET"))
    args = parser.parse_args()
    if args.child:
        engine, name = args.child
        result = child_splink(name) if engine == "splink" else child_sql(name, engine.split("-")[1])
        result["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        print(json.dumps(result))
        return
    print(f"{'set':8} {'engine':12} {'pairs':>7} {'cand.recall':>11} {'precision':>9} {'recall':>8} "
          f"{'F1':>7} {'time':>7} {'RSS':>7}")
    results = []
    for name in args.set or SETS:
        for engine in ("sql-learned", "sql-fixed", "splink"):
            done = subprocess.run([sys.executable, __file__, "--child", engine, name],
                                  capture_output=True, text=True)
            if done.returncode:
                print(f"{name:8} {engine:12} FAILED: {done.stderr.strip().splitlines()[-1:]}", flush=True)
                continue
            res = {"set": name, **json.loads(done.stdout.strip().splitlines()[-1])}
            results.append(res)
            print(f"{name:8} {engine:12} {res['pairs']:>7,} {res['candidate_recall']:>11.4f} "
                  f"{res['precision']:>9.4f} {res['recall']:>8.4f} {res['f1']:>7.4f} "
                  f"{res['seconds']:>6.2f}s {res['peak_rss_mb']:>5} MB", flush=True)
    RESULTS_DIR.mkdir(exist_ok=True)
    (RESULTS_DIR / "splink_compare.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
