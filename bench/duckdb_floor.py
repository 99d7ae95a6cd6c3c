"""DuckDB's floor for capture: read, parse and md5 every record of one landing day's files,
the least any capture of those bytes has to do. Best of 2, wall and CPU seconds.

    .venv/bin/python bench/duckdb_floor.py $PREFLINE_HOME/landing/<day>
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import duckdb

QUERIES = {
    "jsonl + jsonl.gz: read, parse (json), md5 of each record": (
        "select count(*), sum(hash(md5(j::varchar))) from read_json({files}, "
        "format='newline_delimited', records=false, ignore_errors=true) t(j)",
        ("*.jsonl", "*.jsonl.gz"),
    ),
    "parquet: read, md5 of each row": (
        "select count(*), sum(hash(md5(t::varchar))) from read_parquet({files}) t",
        ("*.parquet",),
    ),
    "csv: read, parse, md5 of each row": (
        "select count(*), sum(hash(md5(t::varchar))) from read_csv({files}, all_varchar=true, ignore_errors=true) t",
        ("*.csv",),
    ),
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("day_folder", type=Path)
    args = ap.parse_args()
    con = duckdb.connect(config={"threads": 2})
    print("| files | records | wall s | CPU s |\n|---|---:|---:|---:|")
    for name, (sql, patterns) in QUERIES.items():
        files = sorted(str(p) for pattern in patterns for p in args.day_folder.glob(pattern))
        if not files:
            continue
        best = (float("inf"), 0.0)
        for _ in range(2):
            cpu, wall = _cpu(), time.perf_counter()
            records = con.execute(sql.format(files=files)).fetchone()[0]
            best = min(best, (time.perf_counter() - wall, _cpu() - cpu))
        print(f"| {name} | {records:,} | {best[0]:.2f} | {best[1]:.2f} |")


if __name__ == "__main__":
    main()
