"""The matching engine: blocked candidate pairs of records, scored in DuckDB SQL.

Why plain SQL and fixed weights rather than Splink: measured on the generated people data
(benchmarks/entity_resolution.py, README "Entity resolution: engine and benchmark"). The
score is Fellegi-Sunter shaped but with a fixed, documented weight table (no EM training):
each field's similarity falls into a level (exact / high / mid / disagree), each level adds
log2 Bayes-factor "bits" from ``WEIGHTS``, a missing value adds 0, and

    score = 1 / (1 + 2 ** -(PRIOR_BITS + sum of field bits))

so score 0.9 (the default match threshold) needs about 13.2 bits of evidence, e.g. both names
and the birth date equal, or the email plus one name and the city. Weights and levels were
set on generated data of seed 1; the README figures are from seed 7.

Steps (all SQL on the caller's connection; temp tables are dropped at the end):
1. normalize every field (``normalize.normalized_sql``); name fields also get a canonical
   nickname ("bill" -> "william") and a Soundex code of it;
2. blocking keys: one key per record per rule; records sharing a key are candidates. Name
   fields inside one rule are sorted, so "John Smith" and "Smith John" share the key. A key
   held by more than ``MAX_BLOCK`` records is skipped (it says nothing, e.g. a null-ish value);
3. with ``new``, only keys of new records are joined against all keys: old x old pairs are
   never produced;
4. per-field similarity, and with exactly two name fields the crossed comparison (first vs
   last) replaces the straight one when it fits clearly better (swapped first/last names).
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence

import duckdb
import pandas as pd

from dataops_platform.resolve.nicknames import nickname_pairs
from dataops_platform.resolve.normalize import normalized_sql, soundex
from dataops_platform.resolve.spec import Compare, EntitySpec, Weights
from dataops_platform.resolve.weights import Model, evidence_groups, fixed_model, learn

# similarity levels: >= EXACT, >= high, >= mid (per method), else disagree
EXACT = 0.999
LEVELS: dict[Compare, tuple[float, float]] = {
    # names: Jaro-Winkler >= 0.94 (or a nickname) is high; 0.75-0.94 (or an initial, or one edit
    # in a 3-4 letter name: john/joan) mid, a typo or two (lachlan/oacglaan 0.78, amara/zmara
    # 0.87); below 0.75 another name. Measured on benchmarks/people_hard.py: with mid from 0.88,
    # "disagree" held both two-typo duplicates and other people's names, so it cost too little
    # for twins (pairs P 0.975) and too much for the typos (messy R 0.867)
    Compare.name: (0.94, 0.75),
    Compare.phonetic: (0.94, 0.88),
    Compare.email: (0.92, 0.85),  # below 0.85: emails made from the same name, not the same box
    Compare.identifier: (0.8, 0.8),  # one typo is "high"; there is no mid level
    Compare.date: (0.85, 0.5),  # one typo / swap is "high", the same year and month "mid"
}
DEFAULT_LEVELS = (0.92, 0.8)
# bits added per level (exact, high, mid, disagree); a missing value adds 0
WEIGHTS: dict[Compare, tuple[float, float, float, float]] = {
    Compare.name: (4.5, 3.0, 1.0, -6.0),
    Compare.phonetic: (4.5, 3.0, 1.0, -6.0),
    Compare.fuzzy: (3.0, 2.0, 0.5, -1.5),
    Compare.exact: (3.0, 3.0, 3.0, -1.5),
    Compare.date: (7.0, 2.5, 0.0, -6.0),
    Compare.email: (8.0, 4.0, 1.5, -2.0),
    Compare.phone: (8.0, 4.0, 2.0, -1.0),
    Compare.numeric: (3.0, 3.0, 3.0, -2.0),
    Compare.identifier: (8.0, 3.0, 3.0, -3.0),
}
PRIOR_BITS = -10.0
MAX_BLOCK = 1000
_PHONETIC = (Compare.name, Compare.phonetic)

# (field, how): "key" the normalized value (Soundex for names), "initial" its first letter,
# "prefix" a date's year or the first 3 characters (a postcode's region)
Part = tuple[str, str]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def default_rules(spec: EntitySpec) -> list[list[Part]]:
    """Blocking when the spec names none: identifiers alone, everything else narrowed by a
    second field so blocks grow slowly with the data (measured on generated records: names
    alone gave 1.4M pairs at 100k for +0.03% of true pairs; a postcode with one name's
    Soundex 22M of 26M pairs at 1M)."""
    by = {f.name: f.method for f in spec.fields}
    names = [f for f, m in by.items() if m is Compare.name]
    dates = [f for f, m in by.items() if m is Compare.date]
    exacts = [f for f, m in by.items() if m is Compare.exact]
    places = [f for f, m in by.items() if m in (Compare.fuzzy, Compare.phonetic)]
    alone = (Compare.email, Compare.phone, Compare.identifier)
    rules: list[list[Part]] = [[(f, "key")] for f, m in by.items() if m in alone]
    for d in dates:
        rules += [[(d, "key"), (x, "key")] for x in exacts]
        if names:
            rules.append([(d, "key")] + [(n, "initial") for n in names])
        if not exacts and not names:
            rules.append([(d, "key")])
    for x in exacts:  # one name's sound plus the other's initial: a typo changes only one
        rules += [[(x, "key"), (n, "key"), *[(o, "initial") for o in names if o != n]] for n in names]
    if names:
        together = [(n, "key") for n in names]
        rules += [[(p, "key"), *together] for p in places]
        rules += [[(d, "prefix"), *together] for d in dates]
        rules += [[(x, "prefix"), *together] for x in exacts]
        if not (places or dates or exacts):
            rules.append(together)
    if not rules:
        rules = [[(f, "key")] for f in by]
    return rules


def _sim_sql(method: Compare, a: str, b: str, ka: str, kb: str, pa: str, pb: str,
             tolerance: float) -> str:
    """Similarity in [0, 1] of normalized values a, b (ka/kb canonical names, pa/pb codes)."""
    if method is Compare.exact:
        body = f"CASE WHEN {a} = {b} THEN 1.0 ELSE 0.0 END"
    elif method is Compare.fuzzy:
        body = f"jaro_winkler_similarity({a}, {b})"
    elif method is Compare.name:
        # nickname 0.95 (high), initial 0.9 and one edit in a 3-4 letter name 0.9 (mid: Jaro-
        # Winkler scores ali/ail 0.56); damerau_levenshtein is slow, so only for those
        body = (f"CASE WHEN {a} = {b} THEN 1.0 WHEN {ka} = {kb} THEN 0.95 "
                f"WHEN (length({a}) = 1 OR length({b}) = 1) AND left({a}, 1) = left({b}, 1) THEN 0.9 "
                f"WHEN least(length({a}), length({b})) BETWEEN 3 AND 4 AND jaro_winkler_similarity({a}, {b}) "
                f"< 0.9 AND damerau_levenshtein({a}, {b}) = 1 THEN 0.9 "
                f"ELSE jaro_winkler_similarity({a}, {b}) END")
    elif method is Compare.phonetic:
        body = (f"CASE WHEN {a} = {b} THEN 1.0 WHEN {pa} = {pb} "
                f"THEN greatest(0.93, jaro_winkler_similarity({a}, {b})) "
                f"ELSE jaro_winkler_similarity({a}, {b}) END")
    elif method is Compare.date:
        swap = (f"(left({a}, 4) = left({b}, 4) AND substr({a}, 5, 2) = substr({b}, 7, 2) "
                f"AND substr({a}, 7, 2) = substr({b}, 5, 2))")
        # one digit wrong (Hamming 1) or two adjacent swapped (Hamming 2, Damerau 1: checked only
        # then, as damerau_levenshtein costs ~2 us a call): 0.9 (high); the same year and month
        # with another day (a day made up or mistyped as 31): 0.6 (mid)
        ham = f"CASE WHEN length({a}) = length({b}) THEN hamming({a}, {b}) END"
        body = (f"CASE WHEN {a} = {b} THEN 1.0 WHEN {ham} = 1 OR {swap} THEN 0.9 "
                f"WHEN {ham} = 2 AND damerau_levenshtein({a}, {b}) = 1 THEN 0.9 "
                f"WHEN left({a}, 6) = left({b}, 6) THEN 0.6 ELSE 0.0 END")
    elif method is Compare.email:
        la, lb = f"split_part({a}, '@', 1)", f"split_part({b}, '@', 1)"
        # same mailbox name at another provider is only mid: "jsmith" is a pattern, not a person
        body = (f"CASE WHEN {a} = {b} THEN 1.0 WHEN {la} = {lb} AND length({la}) >= 3 THEN 0.85 "
                f"ELSE 0.9 * jaro_winkler_similarity({a}, {b}) END")
    elif method in (Compare.phone, Compare.identifier):
        ham = f"CASE WHEN length({a}) = length({b}) THEN hamming({a}, {b}) END"
        body = (f"CASE WHEN {a} = {b} THEN 1.0 WHEN {ham} = 1 THEN 0.8 "
                f"WHEN {ham} = 2 AND damerau_levenshtein({a}, {b}) = 1 THEN 0.8 ELSE 0.0 END")
    else:  # numeric
        body = (f"CASE WHEN abs(CAST({a} AS DOUBLE) - CAST({b} AS DOUBLE)) <= {float(tolerance)} "
                f"THEN 1.0 ELSE 0.0 END")
    return f"CASE WHEN {a} IS NULL OR {b} IS NULL THEN NULL ELSE CAST({body} AS DOUBLE) END"


def _level_sql(method: Compare, sim: str) -> str:
    """The agreement level of a similarity: 0 exact, 1 high, 2 mid, 3 disagree, NULL missing."""
    at_high, at_mid = LEVELS.get(method, DEFAULT_LEVELS)
    return (f"CASE WHEN {sim} IS NULL THEN NULL WHEN {sim} >= {EXACT} THEN 0 "
            f"WHEN {sim} >= {at_high} THEN 1 WHEN {sim} >= {at_mid} THEN 2 ELSE 3 END")


def _normalize(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, records: str, norm: str,
               tmp: str) -> None:
    """Table ``norm``: record_id, n_<f> normalized, k_<f> canonical name, p_<f> phonetic code."""
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {tmp}_nick (variant VARCHAR, canonical VARCHAR)")
    conn.executemany(f"INSERT INTO {tmp}_nick VALUES (?, ?)", nickname_pairs())
    cols = ", ".join(f"{normalized_sql(_q(f.name), f.method)} AS {_q('n_' + f.name)}" for f in spec.fields)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {tmp}_base AS SELECT record_id, {cols} FROM {records}")
    phonetic = [f for f in spec.fields if f.method in _PHONETIC]
    selects, joins = [], []
    for i, f in enumerate(phonetic):
        n = _q("n_" + f.name)
        canon = f"coalesce(k{i}.canonical, b.{n})" if f.method is Compare.name else f"b.{n}"
        selects.append(f"{canon} AS {_q('k_' + f.name)}")
        if f.method is Compare.name:
            joins.append(f"LEFT JOIN {tmp}_nick k{i} ON k{i}.variant = b.{n}")
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {norm} AS SELECT b.*{''.join(', ' + s for s in selects)} "
                 f"FROM {tmp}_base b {' '.join(joins)}")
    if phonetic:
        values = conn.execute(" UNION ".join(f"SELECT {_q('k_' + f.name)} AS v FROM {norm}"
                                             for f in phonetic)).fetchall()
        codes = pd.DataFrame({"v": [v for (v,) in values if v is not None]})
        codes["code"] = codes["v"].map(soundex)
        conn.register(f"{tmp}_codes_df", codes)
        # typed explicitly: with every name NULL the frame is empty and pandas makes it float
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {tmp}_codes AS SELECT CAST(v AS VARCHAR) AS v, "
                     f"CAST(code AS VARCHAR) AS code FROM {tmp}_codes_df")
        conn.unregister(f"{tmp}_codes_df")
        code_cols = ", ".join(f"c{i}.code AS {_q('p_' + f.name)}" for i, f in enumerate(phonetic))
        code_joins = " ".join(f"LEFT JOIN {tmp}_codes c{i} ON c{i}.v = x.{_q('k_' + f.name)}"
                              for i, f in enumerate(phonetic))
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {norm} AS SELECT x.*, {code_cols} FROM {norm} x "
                     f"{code_joins}")


def _key_sql(spec: EntitySpec, rule: Sequence[Part]) -> str:
    """One rule's key: name parts sorted (swap-proof), then the other parts in order."""
    def part(field: str, kind: str) -> str:
        method = spec.field(field).method
        phonetic = method in _PHONETIC
        if kind == "initial":
            return f"left({_q(('k_' if phonetic else 'n_') + field)}, 1)"
        if kind in ("prefix", "year"):
            return f"left({_q('n_' + field)}, {4 if method is Compare.date or kind == 'year' else 3})"
        if kind == "exact" or not phonetic:
            return _q("n_" + field)
        return _q("p_" + field)  # key or sound of a name: its Soundex code

    named = [part(f, k) for f, k in rule if spec.field(f).method is Compare.name]
    other = [part(f, k) for f, k in rule if spec.field(f).method is not Compare.name]
    pieces = list(other)
    if len(named) > 1:
        pieces.append(f"array_to_string(list_sort([{', '.join(named)}]), '~')")
        guard = " AND ".join(f"{p} IS NOT NULL" for p in named)
        pieces[-1] = f"CASE WHEN {guard} THEN {pieces[-1]} END"
    else:
        pieces += named
    return " || '|' || ".join(f"CAST({p} AS VARCHAR)" for p in pieces)


def rules_of(spec: EntitySpec) -> list[list[Part]]:
    """The blocking rules in force: the spec's, or the defaults derived from its fields."""
    return spec.blocking_parts or default_rules(spec)


def _candidates(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, norm: str, pairs: str, tmp: str,
                new: str | None) -> None:
    """Table ``pairs`` (l < r) of records sharing a blocking key held by 2..MAX_BLOCK records."""
    rules = rules_of(spec)
    keys = " UNION ALL ".join(f"SELECT record_id, {i} AS rule, {_key_sql(spec, r)} AS key FROM {norm}"
                              for i, r in enumerate(rules))
    if new is None:
        conn.execute(f"""CREATE OR REPLACE TEMP TABLE {tmp}_keys AS
            SELECT record_id, rule, key FROM (
                SELECT *, count(*) OVER (PARTITION BY rule, key) AS size
                FROM ({keys}) WHERE key IS NOT NULL)
            WHERE size BETWEEN 2 AND {MAX_BLOCK}""")
        conn.execute(f"""CREATE OR REPLACE TEMP TABLE {pairs} AS
            SELECT a.record_id AS l, b.record_id AS r, bit_or(CAST(1 AS BIGINT) << a.rule) AS rules
            FROM {tmp}_keys a JOIN {tmp}_keys b
              ON a.rule = b.rule AND a.key = b.key AND a.record_id < b.record_id
            GROUP BY ALL""")
        return
    # incremental: only blocks that hold a new record are sized and joined (same MAX_BLOCK
    # semantics as a full run: a block's size counts all its records, old and new)
    conn.execute(f"CREATE OR REPLACE TEMP TABLE {tmp}_all AS SELECT * FROM ({keys}) WHERE key IS NOT NULL")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE {tmp}_keys AS
        WITH touched AS (SELECT DISTINCT rule, key FROM {tmp}_all
                         WHERE record_id IN (SELECT CAST(record_id AS VARCHAR) FROM {new})),
        blocks AS (SELECT a.* FROM {tmp}_all a SEMI JOIN touched t ON t.rule = a.rule AND t.key = a.key)
        SELECT record_id, rule, key FROM (
            SELECT *, count(*) OVER (PARTITION BY rule, key) AS size FROM blocks)
        WHERE size BETWEEN 2 AND {MAX_BLOCK}""")
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE {pairs} AS
        WITH fresh AS (SELECT * FROM {tmp}_keys
                       WHERE record_id IN (SELECT CAST(record_id AS VARCHAR) FROM {new}))
        SELECT least(a.record_id, b.record_id) AS l, greatest(a.record_id, b.record_id) AS r,
               bit_or(CAST(1 AS BIGINT) << a.rule) AS rules
        FROM fresh a JOIN {tmp}_keys b
          ON a.rule = b.rule AND a.key = b.key AND a.record_id <> b.record_id
        GROUP BY ALL""")


def compare(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, norm: str, pairs: str, out: str,
            values: bool = True) -> None:
    """Table ``out``: per pair of ``pairs`` (l, r, rules) each field's similarity ``sim_<f>``
    and level ``lvl_<f>`` (with two name fields, crossed when the names were swapped), and with
    ``values`` both normalized values (``lv_<f>``, ``rs_<f>``) for the explanation."""
    fields = spec.fields
    names = [f.name for f in fields if f.method is Compare.name]
    swap = len(names) == 2

    def sim(f_left: str, f_right: str, method: Compare, tolerance: float) -> str:
        def c(alias: str, prefix: str, field: str) -> str:
            return f"{alias}.{_q(prefix + field)}"
        return _sim_sql(method, c("l", "n_", f_left), c("r", "n_", f_right), c("l", "k_", f_left),
                        c("r", "k_", f_right), c("l", "p_", f_left), c("r", "p_", f_right), tolerance)

    straight = [f"{sim(f.name, f.name, f.method, f.tolerance)} AS {_q('s_' + f.name)}" for f in fields]
    shown = [f"l.{_q('n_' + f.name)} AS {_q('lv_' + f.name)}, r.{_q('n_' + f.name)} AS {_q('rv_' + f.name)}"
             for f in fields]
    crossed = []
    if swap:
        a, b = names
        crossed = [f"{sim(a, b, Compare.name, 0)} AS x_a", f"{sim(b, a, Compare.name, 0)} AS x_b"]
        s_a, s_b = _q("s_" + a), _q("s_" + b)
        swapped = (f"(coalesce(x_a, 0) + coalesce(x_b, 0) > coalesce({s_a}, 0) + coalesce({s_b}, 0) + 0.2)")
    else:
        swapped = "false"

    def final_sim(f: str) -> str:
        if swap and f in names:
            other = "x_a" if f == names[0] else "x_b"
            return f"CASE WHEN swapped THEN {other} ELSE {_q('s_' + f)} END"
        return _q("s_" + f)

    def right_value(f: str) -> str:
        if swap and f in names:
            other = names[1] if f == names[0] else names[0]
            return f"CASE WHEN swapped THEN {_q('rv_' + other)} ELSE {_q('rv_' + f)} END"
        return _q("rv_" + f)

    sims = ", ".join(f"{final_sim(f.name)} AS {_q('sim_' + f.name)}" for f in fields)
    levels = ", ".join(f"{_level_sql(f.method, _q('sim_' + f.name))} AS {_q('lvl_' + f.name)}"
                       for f in fields)
    out_values = ""
    if values:
        out_values = ", " + ", ".join(f"{_q('lv_' + f.name)}, {right_value(f.name)} AS {_q('rs_' + f.name)}"
                                      for f in fields)
    conn.execute(f"""CREATE OR REPLACE TEMP TABLE {out} AS
        WITH s AS (
            SELECT p.l AS left_id, p.r AS right_id, p.rules, {', '.join(straight + shown + crossed)}
            FROM {pairs} p JOIN {norm} l ON l.record_id = p.l JOIN {norm} r ON r.record_id = p.r),
        t AS (SELECT *, {swapped} AS swapped FROM s),
        u AS (SELECT left_id, right_id, rules, swapped, {sims}{out_values} FROM t)
        SELECT *, {levels} FROM u""")


def _final(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, model: Model, compared: str, norm: str,
           target: str, tmp: str) -> int:
    """Table ``target``: score from the levels and the model's bits (plus term frequencies)."""
    fields = spec.fields
    joins, bits, looks = [], [], []
    lookalike = model.lookalike_share > 0 and bool(model.lookalike_bits)
    for i, f in enumerate(fields):
        e, h, m, d = model.bits[f.name]
        lvl = _q("lvl_" + f.name)
        adj = "0.0"
        if f.name in model.tf_u:
            # an exact agreement is worth log2(m / frequency of the value), not log2(m / u)
            conn.execute(f"""CREATE OR REPLACE TEMP TABLE {tmp}_tf{i} AS
                SELECT v, log2({model.tf_u[f.name]} / greatest(count(*) / sum(count(*)) OVER (),
                                                                {model.tf_floor})) AS adj
                FROM (SELECT {_q('n_' + f.name)} AS v FROM {norm}) WHERE v IS NOT NULL GROUP BY v""")
            # one equality (an extra condition on the left table makes DuckDB compare every
            # pair of rows: measured 2 s of 3 on 13k pairs)
            joins.append(f"LEFT JOIN {tmp}_tf{i} tf{i} "
                         f"ON tf{i}.v = CASE WHEN c.{lvl} = 0 THEN c.{_q('lv_' + f.name)} END")
            adj = f"coalesce(tf{i}.adj, 0.0)"
        # NULL when a side is missing: it adds nothing, and a group's best field ignores it
        bits.append(f"CASE c.{lvl} WHEN 0 THEN {e} + {adj} WHEN 1 THEN {h} WHEN 2 THEN {m} "
                    f"WHEN 3 THEN {d} END AS {_q('w_' + f.name)}")
        if lookalike:
            ge, gh, gm, gd = model.lookalike_bits[f.name]
            looks.append(f"CASE c.{lvl} WHEN 0 THEN {ge} + {adj} WHEN 1 THEN {gh} WHEN 2 THEN {gm} "
                         f"WHEN 3 THEN {gd} END")
    groups = evidence_groups(spec)

    def group_sql(members: list[str]) -> str:
        """A group's bits (weights.group_bits): its best term, less its worst when that is
        against (greatest and least ignore NULLs)."""
        best, worst = (f"{fn}({', '.join(members)}, NULL)" for fn in ("greatest", "least"))
        return f"coalesce(CASE WHEN {best} > 0 THEN {best} + least({worst}, 0.0) ELSE {best} END, 0.0)"

    def combined(terms: list[str]) -> str:
        """Ungrouped terms summed, plus each group's bits."""
        return " + ".join(f"coalesce({terms[g[0]]}, 0.0)" if len(g) == 1 else
                          group_sql([terms[j] for j in g]) for g in groups)

    total = combined([_q("w_" + f.name) for f in fields])
    if lookalike:
        looks = [f"({x})" for x in looks]
    share = model.lookalike_share
    # evidence against: how much likelier the pair is under "look-alike" than "unrelated"
    against = (f"-log2({1 - share!r} + {share!r} * pow(2.0, least({combined(looks)}, 1000.0)))"
               if lookalike else "0.0")
    explain = ", ".join(
        f"'{f.name}': {{'left': {_q('lv_' + f.name)}, 'right': {_q('rs_' + f.name)}, "
        f"'sim': round({_q('sim_' + f.name)}, 3), 'bits': round({_q('w_' + f.name)}, 2)}}" for f in fields)
    out_sims = ", ".join(_q("sim_" + f.name) for f in fields)
    prior = round(model.prior_bits, 3)
    look_json = " 'lookalike_bits': round(lookalike_bits, 2)," if lookalike else ""
    # the JSON explanation only for pairs that can be kept (score >= decision.review): at 1M
    # records most candidate pairs score below it, and their JSON was most of the memory
    review = spec.decision.review
    explain_from = math.log2(review / (1 - review)) if review < 1 else 1e9
    conn.execute(f"""CREATE OR REPLACE TABLE {target} AS
        WITH w AS (SELECT c.*, {', '.join(bits)}, {against} AS lookalike_bits
                   FROM {compared} c {' '.join(joins)}),
        z AS (SELECT *, {prior} + {total} + lookalike_bits AS total_bits FROM w)
        SELECT left_id, right_id,
               CAST(1.0 / (1.0 + pow(2.0, -total_bits)) AS DOUBLE) AS score, {out_sims},
               CASE WHEN total_bits >= {explain_from} THEN
               CAST(to_json({{{explain}, 'names_swapped': swapped, 'prior_bits': {prior},{look_json}
                             'total_bits': round(total_bits, 2)}}) AS VARCHAR) END AS explanation
        FROM z""")
    for i in range(len(fields)):
        conn.execute(f"DROP TABLE IF EXISTS {tmp}_tf{i}")
    return int(conn.execute(f"SELECT count(*) FROM {target}").fetchone()[0])  # type: ignore[index]


def score_pairs_with_model(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, records: str,
                           target: str, new: str | None = None,
                           model: Model | None = None) -> tuple[int, Model]:
    """``score_pairs``, also returning the weights used: the given ``model``, else the fixed
    table (``weights: fixed``) or weights learned from these records (``weights: learned``)."""
    tmp = f"_er_{uuid.uuid4().hex[:10]}"
    norm, pairs, compared = f"{tmp}_norm", f"{tmp}_pairs", f"{tmp}_cmp"
    try:
        _normalize(conn, spec, records, norm, tmp)
        _candidates(conn, spec, norm, pairs, tmp, new)
        compare(conn, spec, norm, pairs, compared)
        if model is None:
            model = (learn(conn, spec, norm, compared, rules_of(spec), tmp)
                     if spec.weights is Weights.learned else fixed_model(spec))
        return _final(conn, spec, model, compared, norm, target, tmp), model
    finally:
        for suffix in ("_nick", "_base", "_norm", "_codes", "_all", "_keys", "_pairs", "_cmp",
                       "_rnd", "_rndcmp"):
            conn.execute(f"DROP TABLE IF EXISTS {tmp}{suffix}")


def score_given_pairs(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, records: str, pairs: str,
                      target: str, model: Model) -> int:
    """Score exactly the pairs of relation ``pairs`` (l < r, record ids of ``records``) with
    ``model``, whether or not blocking would have made them candidates: the clustering asks
    for the pairs between two groups it considers joining (run._unblocked_links). Same table
    as ``score_pairs``; term frequencies are those of all of ``records``."""
    tmp = f"_er_{uuid.uuid4().hex[:10]}"
    norm, given, compared = f"{tmp}_norm", f"{tmp}_pairs", f"{tmp}_cmp"
    try:
        _normalize(conn, spec, records, norm, tmp)
        conn.execute(f"CREATE OR REPLACE TEMP TABLE {given} AS SELECT CAST(l AS VARCHAR) AS l, "
                     f"CAST(r AS VARCHAR) AS r, CAST(0 AS BIGINT) AS rules FROM {pairs}")
        compare(conn, spec, norm, given, compared)
        return _final(conn, spec, model, compared, norm, target, tmp)
    finally:
        for suffix in ("_nick", "_base", "_norm", "_codes", "_pairs", "_cmp"):
            conn.execute(f"DROP TABLE IF EXISTS {tmp}{suffix}")


def score_pairs(conn: duckdb.DuckDBPyConnection, spec: EntitySpec, records: str, target: str,
                new: str | None = None) -> int:
    """Create (or replace) table `target` with scored candidate pairs of `records`; return its row count.

    `records`: record_id, source and one text column per spec field (raw values). With `new`
    (a relation with record_id) only pairs touching a new record are made. Columns of
    `target`: left_id < right_id, score in [0, 1], sim_<field> (NULL when a side is missing)
    and explanation (JSON: per field both normalized values, similarity and bits; NULL for
    pairs scoring below ``decision.review``, which resolution does not keep).
    """
    return score_pairs_with_model(conn, spec, records, target, new)[0]
