"""A reader process on the DuckLake warehouse (read-only attach): queries the published
marts in a loop until told to stop; each query reads one snapshot. Writes what it saw:
per mart the states (row count, total) and whether each matched the row count recorded
for the published version in the same snapshot, plus every error."""

import json
import sys
from pathlib import Path

from dataops_platform.settings import Settings
from dataops_platform.storage.backends import open_warehouse

MART = "enriched_orders"
QUERY = f"""select (select count(*) from curated.{MART}),
                   (select sum(amount) from curated.{MART}),
                   (select row_count from publish.versions
                    where table_name = 'curated.{MART}' and status = 'published')"""


def main(project: Path, ready: Path, stop: Path, out: Path) -> None:
    settings = Settings.resolve(project)
    seen: list = []
    errors: list[str] = []
    half: list = []
    queries = 0
    conn = open_warehouse(settings.warehouse, read_only=True)
    ready.touch()
    while not stop.exists():
        try:
            count, total, recorded = conn.execute(QUERY).fetchall()[0]
            state = [count, round(float(total or 0), 2)]
            if state not in seen:
                seen.append(state)
            if count != recorded:  # the view and the version record disagree: half published
                half.append([count, recorded])
            queries += 1
        except Exception as exc:  # every error is the finding
            errors.append(f"{type(exc).__name__}: {exc}")
            conn = open_warehouse(settings.warehouse, read_only=True)
    out.write_text(json.dumps({"seen": seen, "errors": errors[:20], "half": half[:20],
                               "queries": queries}))


if __name__ == "__main__":
    main(*map(Path, sys.argv[1:5]))
