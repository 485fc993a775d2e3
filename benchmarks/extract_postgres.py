"""Extraction from a 1M-row PostgreSQL table: throughput and peak RSS of the candidates.

    python benchmarks/extract_postgres.py [--rows 1000000] [--url postgresql://postgres@127.0.0.1:5432/test]

Each method runs in its own process (so its peak RSS is its own) and ends with the rows as a
Parquet file, as a database extraction does. Methods: connectorx (what the platform uses),
psycopg 3 row fetching into Arrow (a hand-written connector), psycopg COPY to CSV read by
pyarrow, and pandas.read_sql over psycopg. The table `dataops_bench_<rows>` is created once.
"""

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time

METHODS = ["connectorx", "psycopg_fetch", "psycopg_copy_csv", "pandas_read_sql"]


def _dsn(url):
    from urllib.parse import urlsplit

    p = urlsplit(url)
    return f"host={p.hostname} port={p.port or 5432} dbname={p.path.lstrip('/')} user={p.username}"


def ensure_table(url, rows):
    import psycopg

    table = f"dataops_bench_{rows}"
    with psycopg.connect(_dsn(url), autocommit=True) as conn:
        exists = conn.execute("select to_regclass(%s) is not null", (table,)).fetchone()[0]
        if not exists or conn.execute(f"select count(*) from {table}").fetchone()[0] != rows:
            conn.execute(f"drop table if exists {table}")
            conn.execute(f"""create table {table} as select g as id, md5(g::text) as name,
                (g % 1000)::numeric(10,2) as amount, (g % 7 = 0) as flag,
                timestamp '2026-01-01' + g * interval '1 second' as updated_at
                from generate_series(1, {rows}) g""")
    return table


def run(method, url, table, out):
    import pyarrow as pa
    import pyarrow.parquet as pq

    query = f"select * from {table}"
    if method == "connectorx":
        import connectorx as cx

        data = cx.read_sql(url, query, return_type="arrow")
    elif method == "psycopg_fetch":
        import psycopg

        with psycopg.connect(_dsn(url)) as conn, conn.cursor(name="bench") as cur:
            cur.itersize = 50_000
            cur.execute(query)
            names = None
            batches = []
            while rows := cur.fetchmany(50_000):
                names = names or [d.name for d in cur.description]
                batches.append(pa.RecordBatch.from_pylist([dict(zip(names, r, strict=True)) for r in rows]))
            data = pa.Table.from_batches(batches)
    elif method == "psycopg_copy_csv":
        import io

        import psycopg
        import pyarrow.csv as pcsv

        buffer = io.BytesIO()
        copy_sql = f"copy ({query}) to stdout with (format csv, header true)"
        with psycopg.connect(_dsn(url)) as conn, conn.cursor() as cur, cur.copy(copy_sql) as copy:
            for chunk in copy:
                buffer.write(chunk)
        buffer.seek(0)
        data = pcsv.read_csv(buffer)
    elif method == "pandas_read_sql":
        import warnings

        import pandas as pd
        import psycopg

        with psycopg.connect(_dsn(url)) as conn, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            frame = pd.read_sql(query, conn)
        data = pa.Table.from_pandas(frame, preserve_index=False)
    pq.write_table(data, out)
    return data.num_rows


def child(method, url, table):
    with tempfile.NamedTemporaryFile(suffix=".parquet") as out:
        start = time.perf_counter()
        rows = run(method, url, table, out.name)
        seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"method": method, "rows": rows, "seconds": round(seconds, 2),
                      "rows_per_s": int(rows / seconds), "peak_rss_mb": round(peak_mb)}))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    parser.add_argument("--methods", default=",".join(METHODS))
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.url, args.table)
    table = ensure_table(args.url, args.rows)
    print(f"{'method':<18} {'rows':>9} {'seconds':>8} {'rows/s':>10} {'peak RSS MB':>12}")
    for method in args.methods.split(","):
        result = subprocess.run([sys.executable, __file__, "--child", method, "--url", args.url,
                                 "--table", table], capture_output=True, text=True, check=True)
        r = json.loads(result.stdout.strip().splitlines()[-1])
        print(f"{r['method']:<18} {r['rows']:>9} {r['seconds']:>8} {r['rows_per_s']:>10} "
              f"{r['peak_rss_mb']:>12}")


if __name__ == "__main__":
    main()
