"""A reader process, as a notebook or BI tool would be: it queries the published tables
through serving/views.sql (never the warehouse) in a tight loop until told to stop, and
writes what it saw: per table the (row count, sum of a column) states, and every error."""

import json
import sys
from pathlib import Path

import duckdb

QUERIES = {
    "enriched_orders": "select count(*), sum(amount) from curated.enriched_orders",
    "daily_revenue": "select count(*), sum(revenue) from curated.daily_revenue",
    # a double: summed in cents as integers, so the total does not depend on summation order
    "customer_lifetime_value": "select count(*), sum(cast(round(lifetime_value * 100) as bigint)) "
                               "from curated.customer_lifetime_value",
}


def main(serving: Path, stop: Path, out: Path) -> None:
    seen: dict[str, list] = {name: [] for name in QUERIES}
    errors: list[str] = []
    queries = 0
    while not stop.exists():
        try:
            conn = duckdb.connect()  # in memory: the warehouse file is never opened
            conn.execute((serving / "views.sql").read_text())
            for name, sql in QUERIES.items():
                count, total = conn.execute(sql).fetchall()[0]
                state = [count, round(float(total or 0), 2)]
                if state not in seen[name]:
                    seen[name].append(state)
                queries += 1
            conn.close()
        except Exception as exc:  # every error is the finding
            errors.append(f"{type(exc).__name__}: {exc}")
    out.write_text(json.dumps({"seen": seen, "errors": errors, "queries": queries}))


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:4]))
