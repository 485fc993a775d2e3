"""Benchmark entity resolution on generated, labelled people: the DuckDB SQL engine vs Splink.

For each size, ``dataops_platform.samples.people.generate_people(size, seed)`` makes crm and
webshop records with known true entities (cached as Parquet in ``--workdir``). Each engine
then runs in a fresh child process (so its peak RSS is its own):

- sql: ``dataops_platform.resolve.engine.score_pairs`` with the default spec (fields named
  only, default blocking and weights);
- splink: Splink 5 on DuckDB with the same normalized values and the same blocking keys, its
  comparison library (ForenameSurnameComparison, DateOfBirthComparison, EmailComparison,
  Jaro-Winkler city, exact postcode), trained without labels (random-sampling u, EM for m).

Clusters are connected components (resolve/components.py) of pairs scoring >= the decision
threshold (0.9); pairwise precision/recall/F1 compare "same predicted cluster" with "same
true entity" over all record pairs. Candidate recall is the share of true pairs the blocking
produced at all. The sql engine is also timed matching 1% of the records as ``new`` against
all of them (the incremental path). Prints figures, writes
``benchmarks/results/entity_resolution-<engine>-<size>.json``, asserts nothing.

    python benchmarks/entity_resolution.py --size 10000 --size 100000 --size 1000000 \
        [--alt-size 10000 --alt-size 100000] [--seed 7]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
DEFAULT_WORKDIR = BENCH_DIR / ".data"
FIELDS = ["first_name", "last_name", "email", "birth_date", "city", "postcode"]
MATCH = 0.9


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def spec() -> Any:
    from dataops_platform.resolve.spec import EntitySpec

    return EntitySpec(name="person", sources=[{"dataset": "crm", "id": "record_id"},
                                              {"dataset": "webshop", "id": "record_id"}],
                      fields=FIELDS)


def data_paths(workdir: Path, size: int, seed: int) -> tuple[Path, Path]:
    return workdir / f"people-{size}-seed{seed}.parquet", workdir / f"people-{size}-seed{seed}-truth.parquet"


def ensure_data(workdir: Path, size: int, seed: int) -> float:
    """Generate (or reuse) the labelled records; return generation seconds (0 when cached)."""
    records_path, truth_path = data_paths(workdir, size, seed)
    if records_path.exists() and truth_path.exists():
        return 0.0
    from dataops_platform.samples.people import generate_people

    started = time.perf_counter()
    records, truth = generate_people(size, seed)
    workdir.mkdir(parents=True, exist_ok=True)
    records.to_parquet(records_path, index=False)
    truth.to_parquet(truth_path, index=False)
    return time.perf_counter() - started


def evaluate(conn: Any, pairs: str, truth_path: Path, threshold: float) -> dict[str, float]:
    """Pairwise precision/recall/F1 of the clusters, and the blocking's candidate recall."""
    import pandas as pd

    from dataops_platform.resolve.components import connected_components

    truth = pd.read_parquet(truth_path)
    edges = conn.execute(f"SELECT left_id, right_id FROM {pairs} WHERE score >= {threshold}").fetchall()
    started = time.perf_counter()
    cluster = connected_components(truth["record_id"].tolist(), edges)
    cluster_seconds = time.perf_counter() - started
    truth["cluster"] = truth["record_id"].map(cluster)

    def pairs_in(sizes: pd.Series) -> int:
        return int((sizes * (sizes - 1) // 2).sum())

    tp = pairs_in(truth.groupby(["cluster", "true_entity"]).size())
    predicted = pairs_in(truth.groupby("cluster").size())
    actual = pairs_in(truth.groupby("true_entity").size())
    conn.register("truth_df", truth[["record_id", "true_entity"]])
    found = conn.execute(f"""
        SELECT count(*) FROM {pairs} p JOIN truth_df a ON a.record_id = p.left_id
        JOIN truth_df b ON b.record_id = p.right_id WHERE a.true_entity = b.true_entity""").fetchone()[0]
    precision = tp / predicted if predicted else 1.0
    recall = tp / actual if actual else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": actual,
            "predicted_pairs": predicted, "candidate_recall": found / actual if actual else 1.0,
            "match_edges": len(edges), "cluster_seconds": cluster_seconds}


def child_sql(records_path: Path, truth_path: Path) -> dict[str, Any]:
    import duckdb

    from dataops_platform.resolve.engine import score_pairs

    conn = duckdb.connect()
    limit = os.environ.get("ER_BENCH_MEMORY_LIMIT")  # as the platform's warehouse sets one
    if limit:
        conn.execute(f"SET memory_limit = '{limit}'")
    conn.execute(f"CREATE TABLE records AS SELECT * FROM read_parquet('{records_path}')")
    started = time.perf_counter()
    n_pairs = score_pairs(conn, spec(), "records", "pairs")
    seconds = time.perf_counter() - started
    result = {"engine": "sql", "pairs_compared": n_pairs, "score_seconds": seconds}
    result.update(evaluate(conn, "pairs", truth_path, MATCH))
    result["seconds"] = seconds + result["cluster_seconds"]
    result["peak_rss_mb"] = peak_rss_mb()
    # incremental: 1% of the records arrive as new and are matched against everything
    conn.execute("CREATE TABLE fresh AS SELECT record_id FROM records ORDER BY hash(record_id) "
                 "LIMIT (SELECT count(*) // 100 FROM records)")
    started = time.perf_counter()
    result["incremental_pairs"] = score_pairs(conn, spec(), "records", "pairs_new", new="fresh")
    result["incremental_seconds"] = time.perf_counter() - started
    return result


def child_splink(records_path: Path, truth_path: Path) -> dict[str, Any]:
    import logging

    import duckdb
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    from dataops_platform.resolve import engine

    logging.getLogger("splink").setLevel(logging.WARNING)
    conn = duckdb.connect()
    conn.execute(f"CREATE TABLE records AS SELECT * FROM read_parquet('{records_path}')")
    s = spec()
    started = time.perf_counter()
    # the same normalized values and blocking keys as the SQL engine, so only scoring differs
    engine._normalize(conn, s, "records", "norm", "_bench")
    rules = engine.default_rules(s)
    keys = ", ".join(f"{engine._key_sql(s, r)} AS key_{i}" for i, r in enumerate(rules))
    conn.execute(f"""CREATE TABLE splink_input AS
        SELECT n.record_id AS unique_id, n.k_first_name AS first_name, n.k_last_name AS last_name,
               n.n_email AS email, strftime(try_strptime(n.n_birth_date, '%Y%m%d'), '%Y-%m-%d') AS birth_date,
               n.n_city AS city, n.n_postcode AS postcode, {keys}
        FROM norm n""")
    settings = SettingsCreator(
        link_type="dedupe_only",
        blocking_rules_to_generate_predictions=[block_on(f"key_{i}") for i in range(len(rules))],
        comparisons=[
            cl.ForenameSurnameComparison("first_name", "last_name"),
            cl.DateOfBirthComparison("birth_date", input_is_string=True),
            cl.EmailComparison("email"),
            cl.JaroWinklerAtThresholds("city", [0.92, 0.8]),
            cl.ExactMatch("postcode"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    db_api = DuckDBAPI(conn)
    linker = Linker(db_api.register("splink_input"), settings, log_level=None)
    linker.training.estimate_probability_two_random_records_match(
        [block_on("email"), block_on("first_name", "last_name", "birth_date")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=2e6, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("birth_date"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("email"))
    trained = time.perf_counter()
    predictions = linker.inference.predict()
    conn.execute(f"CREATE TABLE pairs AS SELECT unique_id_l AS left_id, unique_id_r AS right_id, "
                 f"match_probability AS score FROM {predictions.physical_name}")
    seconds = time.perf_counter() - started
    n_pairs = conn.execute("SELECT count(*) FROM pairs").fetchone()[0]
    result = {"engine": "splink", "pairs_compared": n_pairs, "score_seconds": seconds,
              "train_seconds": trained - started}
    result.update(evaluate(conn, "pairs", truth_path, MATCH))
    result["seconds"] = seconds + result["cluster_seconds"]
    result["peak_rss_mb"] = peak_rss_mb()
    return result


def run_child(engine: str, size: int, seed: int, workdir: Path) -> dict[str, Any]:
    records_path, truth_path = data_paths(workdir, size, seed)
    out = workdir / f"er-{engine}-{size}.json"
    proc = subprocess.run([sys.executable, __file__, "--child", engine, "--records", str(records_path),
                           "--truth", str(truth_path), "--out", str(out)], check=False)
    if proc.returncode != 0 or not out.exists():
        return {"engine": engine, "error": f"child exited {proc.returncode}"}
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, action="append")
    parser.add_argument("--alt-size", type=int, action="append",
                        help="sizes Splink also runs at (default 10000 and 100000)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--memory-limit", help="DuckDB memory_limit of the sql engine's connection "
                                               "(the platform's warehouse has one, default 1GB)")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR)
    parser.add_argument("--child", choices=["sql", "splink"])
    parser.add_argument("--records", type=Path)
    parser.add_argument("--truth", type=Path)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    if args.memory_limit:
        os.environ["ER_BENCH_MEMORY_LIMIT"] = args.memory_limit  # the children inherit it
    if args.child:
        fn = child_sql if args.child == "sql" else child_splink
        args.out.write_text(json.dumps(fn(args.records, args.truth)))
        return
    sizes = args.size or [10_000, 100_000, 1_000_000]
    alt = args.alt_size if args.alt_size is not None else [10_000, 100_000]
    head = (f"{'size':>9} {'engine':>7} {'pairs':>10} {'cand.rec':>8} {'prec':>7} {'recall':>7} "
            f"{'F1':>7} {'seconds':>8} {'peakMB':>7}")
    print(f"entity resolution benchmark, seed {args.seed}, match >= {MATCH}")
    print(head)
    for size in sizes:
        generated = ensure_data(args.workdir, size, args.seed)
        if generated:
            print(f"  (generated {size} records in {generated:.1f}s)")
        engines = ["sql"] + (["splink"] if size in alt else [])
        for engine in engines:
            r = run_child(engine, size, args.seed, args.workdir)
            r.update(size=size, seed=args.seed)
            RESULTS_DIR.mkdir(parents=True, exist_ok=True)
            out = RESULTS_DIR / f"entity_resolution-{engine}-{size}.json"
            out.write_text(json.dumps(r, indent=2) + "\n")
            if "error" in r:
                print(f"{size:>9} {engine:>7} {r['error']}")
                continue
            print(f"{size:>9} {engine:>7} {r['pairs_compared']:>10} {r['candidate_recall']:>8.4f} "
                  f"{r['precision']:>7.4f} {r['recall']:>7.4f} {r['f1']:>7.4f} {r['seconds']:>8.1f} "
                  f"{r['peak_rss_mb']:>7.0f}", flush=True)
            if "incremental_seconds" in r:
                print(f"{'':>9} {'':>7} 1% new vs all: {r['incremental_pairs']} pairs in "
                      f"{r['incremental_seconds']:.1f}s", flush=True)


if __name__ == "__main__":
    main()
