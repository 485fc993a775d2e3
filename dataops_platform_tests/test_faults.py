"""A run killed halfway loses nothing: re-running completes the work and the ledger balances."""

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from dataops_platform.demo.generator import generate


def _dataops(settings, *args, **kwargs):
    env = {**os.environ, "DATAOPS_HOME": str(settings.home),
           "DATAOPS_CONTRACTS": str(settings.contracts_dir)}
    return subprocess.Popen([sys.executable, "-m", "dataops_platform.cli.main", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kwargs)


def _ledger(settings):
    conn = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return conn.execute("""
            select r._partition, r.n, coalesce(c.n, 0) + coalesce(q.n, 0) + coalesce(d.n, 0)
            from (select _partition, count(*) n from raw.orders group by 1) r
            left join (select _partition, count(*) n from cleaned.orders group by 1) c using (_partition)
            left join (select _partition, count(*) n from quarantine.orders group by 1) q using (_partition)
            left join (select _partition, count(*) n from quarantine.orders__duplicates group by 1) d
                   using (_partition) order by 1""").fetchall()
    finally:
        conn.close()


@pytest.mark.slow
@pytest.mark.parametrize("kill_after_s", [3.0, 6.0])
def test_sigkill_mid_run_then_rerun_accounts_for_every_row(settings, kill_after_s):
    truth = generate(settings.landing_dir, rows=60_000, seed=5, days=3).expected
    victim = _dataops(settings, "run")
    time.sleep(kill_after_s)
    assert victim.poll() is None, "the run finished before it could be killed: use more rows"
    victim.send_signal(signal.SIGKILL)
    victim.wait(timeout=60)

    rerun = _dataops(settings, "run")
    output, _ = rerun.communicate(timeout=240)
    assert rerun.returncode == 0, output
    assert "every row accounted for" in output

    ledger = _ledger(settings)
    assert len(ledger) == truth["orders"]["files"]
    assert all(rows_in == accounted for _, rows_in, accounted in ledger), ledger
    assert sum(rows_in for _, rows_in, _ in ledger) == truth["orders"]["rows"]
