"""Fellegi-Sunter weights learned from the records themselves (``weights: learned``).

Each field's comparison falls into a level (exact / high / mid / disagree, or missing); a
level is worth ``log2(m / u)`` bits, where

- ``u`` = P(level | two different entities), counted on pseudo-random record pairs (almost all
  of which are different entities): a state code with 8 values agrees by chance far more often
  than a national id, so its agreement is worth far fewer bits;
- ``m`` = P(level | same entity), estimated on the candidate pairs by expectation-maximisation
  with three classes — the same entity (m), look-alikes that blocking brought together but that
  are different entities (h: relatives, namesakes at one address) and unrelated pairs (u, as
  counted) — started from hard labels given by the deterministic prior (the fixed table: pairs
  it scores at or above ``decision.match`` are matches). A field's m is estimated only on pairs
  that some blocking rule *without* that field produced (pairs blocked on a field agree on it
  by construction). One iteration (``ITERATIONS``): measured, more let the "same entity" class
  drift onto households on the generated people (precision 0.96 -> 0.84 after two, 0.67
  after ten) and onto a third of all candidates on tests/test_resolve_weights' data, and
  make no difference on FEBRL;
- the prior is the expected share of matches among all record pairs, so the score is a
  probability whatever the blocking produced;
- term frequency: for name, place and exact fields (``term_frequency``) an exact agreement
  is worth ``log2(m / f(value))`` with ``f`` the value's share of the records: two "Smith"s
  prove less than two "Zabrowski"s.

Bits are made non-increasing from exact to disagree (a typo never proves more than equality),
and a field's ``weights`` in the contract replaces whatever is learned for it. The model is a
small JSON document stored with every run (``entity.<name>__model``) and in each pair's
explanation as ``prior_bits``.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field

import duckdb
import numpy as np

from dataops_platform.resolve.spec import EntitySpec

LEVELS = 4             # exact, high, mid, disagree
RANDOM_PAIRS = 200_000  # pairs sampled for u (fewer when the records have fewer pairs)
ITERATIONS = 1  # EM steps from the deterministic prior (see the module docstring)
MIN_PAIRS = 30         # fewer candidate pairs than this: the fixed weights are used
Bits = tuple[float, float, float, float]


@dataclass
class Model:
    """The weights one resolution scored with."""

    bits: dict[str, Bits]
    prior_bits: float
    learned: bool = False
    tf_u: dict[str, float] = field(default_factory=dict)  # field -> u of its exact level
    tf_floor: float = 1e-6
    # look-alikes (different entities that blocking brought together): per field log2(h / u)
    # and their share among all pairs that are not matches; 0 = a two-class model
    lookalike_bits: dict[str, Bits] = field(default_factory=dict)
    lookalike_share: float = 0.0
    m: dict[str, list[float]] = field(default_factory=dict)
    h: dict[str, list[float]] = field(default_factory=dict)
    u: dict[str, list[float]] = field(default_factory=dict)
    match_share: float | None = None   # among the candidate pairs
    candidate_pairs: int = 0
    records: int = 0

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Model:
        data = json.loads(text)
        data["bits"] = {k: tuple(v) for k, v in data["bits"].items()}
        data["lookalike_bits"] = {k: tuple(v) for k, v in data["lookalike_bits"].items()}
        return cls(**data)


def fixed_model(spec: EntitySpec) -> Model:
    """The hand-set table (engine.WEIGHTS), with the contract's per-field overrides."""
    from dataops_platform.resolve.engine import PRIOR_BITS, WEIGHTS

    return Model(bits={f.name: tuple(f.weights or WEIGHTS[f.method]) for f in spec.fields},  # type: ignore[misc]
                 prior_bits=PRIOR_BITS)


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _level_counts(conn: duckdb.DuckDBPyConnection, table: str, names: list[str]) -> np.ndarray:
    """(pattern rows, fields + 2): each field's level (-1 missing), the rules mask, the count."""
    cols = ", ".join(f"coalesce({_q('lvl_' + n)}, -1)" for n in names)
    rows = conn.execute(f"SELECT {cols}, rules, count(*) FROM {table} GROUP BY ALL").fetchall()
    return np.array(rows, dtype=np.int64).reshape(-1, len(names) + 2)


def _random_pairs(conn: duckdb.DuckDBPyConnection, norm: str, out: str, n: int) -> int:
    """Table ``out`` (l, r, rules 0) of pseudo-random distinct record pairs, the same every run
    for the same records (hash-based, not random(), so re-runs give the same weights; the first
    ``wanted`` draws, not whichever a parallel DISTINCT ... LIMIT happened to keep)."""
    total = n * (n - 1) // 2
    wanted = min(RANDOM_PAIRS, total)
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE {out} AS
        WITH numbered AS (SELECT record_id, row_number() OVER (ORDER BY record_id) - 1 AS i FROM {norm}),
        draws AS (SELECT least(a, b) AS a, greatest(a, b) AS b, min(k) AS k FROM (
            SELECT k, hash(k, 'left') % {n} AS a, hash(k, 'right') % {n} AS b
            FROM range({wanted * 2}) t(k)) WHERE a <> b GROUP BY ALL ORDER BY k LIMIT {wanted})
        SELECT x.record_id AS l, y.record_id AS r, CAST(0 AS BIGINT) AS rules
        FROM draws JOIN numbered x ON x.i = draws.a JOIN numbered y ON y.i = draws.b""")
    return int(conn.execute(f"SELECT count(*) FROM {out}").fetchone()[0])  # type: ignore[index]


def evidence_groups(spec: EntitySpec) -> list[list[int]]:
    """Field indexes that count as one piece of evidence: each ungrouped field alone, and the
    fields sharing a ``group`` (street, postcode, suburb, state: one address) together."""
    out: list[list[int]] = []
    named: dict[str, list[int]] = {}
    for j, f in enumerate(spec.fields):
        if f.group:
            if f.group not in named:
                named[f.group] = []
                out.append(named[f.group])
            named[f.group].append(j)
        else:
            out.append([j])
    return out


def group_bits(part: np.ndarray) -> np.ndarray:
    """The bits of one evidence group per row of its fields' bits (NaN: missing): the best
    field's, less the worst field's when that one is against and the best is for (relatives
    share a whole address, a namesake in another street shares at most a suburb: one agreeing
    field must not outweigh the others disagreeing). All against: the best (least negative),
    as for a person who moved. All missing: 0."""
    out = np.zeros(len(part))
    seen = ~np.isnan(part).all(axis=1)
    best = np.nanmax(part[seen], axis=1)
    worst = np.nanmin(part[seen], axis=1)
    out[seen] = np.where(best > 0, best + np.minimum(worst, 0.0), best)
    return out


def _monotone(bits: list[float], seen: list[bool]) -> Bits:
    """Non-increasing from exact to disagree over the levels that occur at all; a level that
    never occurs (an exact comparison has no 'high') gets the bits of the next worse one."""
    out = list(bits)
    best = math.inf
    for lv in range(LEVELS):
        if seen[lv]:
            best = out[lv] = min(best, out[lv])
    for lv in range(LEVELS - 2, -1, -1):
        if not seen[lv]:
            out[lv] = out[lv + 1] if lv + 1 < LEVELS else out[lv]
    return (out[0], out[1], out[2], out[3])


def learn(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, norm: str, compared: str,
          rules: list[list[tuple[str, str]]], tmp: str) -> Model:
    """Estimate the model from the normalized records ``norm`` and their compared candidate
    pairs ``compared`` (engine.compare's table; ``rules`` the blocking rules by index)."""
    from dataops_platform.resolve.engine import compare

    fixed = fixed_model(spec)
    names = [f.name for f in spec.fields]
    n = int(conn.execute(f"SELECT count(*) FROM {norm}").fetchone()[0])  # type: ignore[index]
    candidates = _level_counts(conn, compared, names)
    if n < 3 or candidates[:, -1].sum() < MIN_PAIRS:
        return fixed
    sampled = _random_pairs(conn, norm, f"{tmp}_rnd", n)
    compare(conn, spec, norm, f"{tmp}_rnd", f"{tmp}_rndcmp", values=False)
    random_levels = _level_counts(conn, f"{tmp}_rndcmp", names)

    levels, masks, counts = candidates[:, :len(names)], candidates[:, -2], candidates[:, -1].astype(float)
    floor = 1.0 / max(sampled, 1)
    u = np.zeros((len(names), LEVELS))
    for j in range(len(names)):
        present = random_levels[:, j] >= 0
        weight = random_levels[present, -1].astype(float)
        total = weight.sum()
        for lv in range(LEVELS):
            hits = weight[random_levels[present, j] == lv].sum()
            u[j, lv] = max(hits / total, floor) if total else 1.0
    # which pairs may inform each field's m: produced by a rule that does not use the field
    usable = []
    for f in names:
        without = sum(1 << i for i, rule in enumerate(rules) if all(p[0] != f for p in rule))
        usable.append((masks & without) != 0 if without else np.ones(len(masks), dtype=bool))

    # three classes: the same entity (m), look-alikes that blocking brought together but are
    # different entities (h: relatives, namesakes at one address), unrelated pairs (u, fixed).
    # Start from the fixed weights' posterior (the deterministic prior), then EM.
    groups = evidence_groups(spec)

    def combine(per_field: np.ndarray) -> np.ndarray:
        """Per pattern: ungrouped fields' bits summed, plus each group's bits (NaN: missing)."""
        total = np.zeros(len(levels))
        for columns in groups:
            part = per_field[:, columns]
            if len(columns) == 1:
                total += np.nan_to_num(part[:, 0])
            else:
                total += group_bits(part)
        return total

    def field_bits(table: np.ndarray) -> np.ndarray:
        out = np.full((len(levels), len(names)), np.nan)
        for j in range(len(names)):
            present = levels[:, j] >= 0
            out[present, j] = table[j, levels[present, j]]
        return out

    fixed_bits = np.array([fixed.bits[f] for f in names])
    score = fixed.prior_bits + combine(field_bits(fixed_bits))
    # hard labels: many weak pairs (p = 0.01 each) would otherwise outweigh the few clear ones
    p_m = (score >= math.log2(spec.decision.match / (1 - spec.decision.match))).astype(float)
    p_h = (1.0 - p_m) / 2
    p_u = 1.0 - p_m - p_h
    m = np.full((len(names), LEVELS), 0.25)
    h = np.full((len(names), LEVELS), 0.25)

    def estimate(posterior: np.ndarray, out: np.ndarray) -> None:
        for j in range(len(names)):
            present = (levels[:, j] >= 0) & usable[j]
            weight = counts[present] * posterior[present]
            total = weight.sum()
            for lv in range(LEVELS):
                # one pseudo-pair per level: a level never seen among a thousand matches is
                # about -10 bits, not minus infinity
                out[j, lv] = (weight[levels[present, j] == lv].sum() + 1.0) / (total + LEVELS)

    def log_ratio(table: np.ndarray) -> np.ndarray:
        return combine(field_bits(np.log2(table / u)))

    total_count = counts.sum()
    for _ in range(ITERATIONS):
        estimate(p_m, m)
        estimate(p_h, h)
        shares = np.array([(counts * p).sum() / total_count for p in (p_m, p_h, p_u)])
        shares = np.clip(shares, 1e-9, None)
        logs = np.stack([np.log2(shares[0]) + log_ratio(m), np.log2(shares[1]) + log_ratio(h),
                         np.full(len(levels), np.log2(shares[2]))])
        top = logs.max(axis=0)
        weights = np.power(2.0, logs - top)
        new_m, new_h, new_u = weights / weights.sum(axis=0)
        converged = float(np.abs(new_m - p_m).max()) < 1e-5
        p_m, p_h, p_u = new_m, new_h, new_u
        if converged:
            break

    all_pairs = n * (n - 1) / 2
    expected_m = max(float((counts * p_m).sum()), 1.0)
    expected_h = float((counts * p_h).sum())
    prior = expected_m / all_pairs
    lookalike_share = expected_h / max(all_pairs - expected_m, 1.0)
    share = expected_m / total_count
    bits, h_bits = {}, {}
    for j, fs in enumerate(spec.fields):
        seen = [bool(counts[levels[:, j] == lv].sum() or random_levels[random_levels[:, j] == lv, -1].sum())
                for lv in range(LEVELS)]
        learned = _monotone([math.log2(m[j, lv] / u[j, lv]) for lv in range(LEVELS)], seen)
        bits[fs.name] = tuple(fs.weights) if fs.weights else learned
        h_bits[fs.name] = tuple(round(math.log2(h[j, lv] / u[j, lv]), 4) for lv in range(LEVELS))
    tf_u = {f.name: float(u[j, 0]) for j, f in enumerate(spec.fields) if f.tf and not f.weights}
    return Model(bits=bits, prior_bits=math.log2(prior / (1 - prior)), learned=True, tf_u=tf_u,  # type: ignore[arg-type]
                 tf_floor=1.0 / n, lookalike_bits=h_bits, lookalike_share=lookalike_share,  # type: ignore[arg-type]
                 m={f: [round(float(x), 6) for x in m[j]] for j, f in enumerate(names)},
                 h={f: [round(float(x), 6) for x in h[j]] for j, f in enumerate(names)},
                 u={f: [float(x) for x in u[j]] for j, f in enumerate(names)},
                 match_share=round(share, 6), candidate_pairs=int(total_count), records=n)
