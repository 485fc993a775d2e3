"""Readers query published data while pipelines run: never blocked, never a partial state."""

import json
import subprocess
import sys
import time
from pathlib import Path

from dataops_platform_tests.serving_reader import QUERIES
from dataops_platform_tests.wap_helpers import known_customer_orders

READER = Path(__file__).with_name("serving_reader.py")


def _published_state(query) -> dict[str, tuple]:
    """What each published table holds now, as the reader measures it."""
    states = {}
    for name, sql in QUERIES.items():
        count, total = query(sql)[0]
        states[name] = (count, round(float(total or 0), 2))
    return states


def test_a_reader_queries_served_tables_in_a_loop_while_runs_publish(
        settings, land, land_samples, one_pass, query, tmp_path):
    land_samples()
    assert one_pass().ok
    published = {name: {state} for name, state in _published_state(query).items()}
    stop, out = tmp_path / "stop", tmp_path / "seen.json"
    reader = subprocess.Popen([sys.executable, str(READER), str(settings.serving_dir), str(stop),
                               str(out)])
    try:
        time.sleep(1.0)
        for batch in (1, 2, 3):  # each pass publishes a new version of every mart
            land(f"orders/orders_batch{batch}.ndjson", known_customer_orders(batch, 40 * batch))
            result = one_pass()
            assert result.ok, result.failures
            for name, state in _published_state(query).items():
                published[name].add(state)
        assert query("select count(*) from publish.history where action = 'publish'")[0][0] == 16
    finally:
        stop.touch()
        reader.wait(timeout=60)
    report = json.loads(out.read_text())
    print(f"reader: {report['queries']} queries, states seen per table: "
          f"{ {name: len(states) for name, states in report['seen'].items()} }")
    assert report["errors"] == [], report["errors"][:5]
    assert report["queries"] > 30
    for name, states in report["seen"].items():
        assert {tuple(s) for s in states} <= published[name], (name, states, published[name])
        assert len(states) >= 2, name  # it did read while versions were being published
