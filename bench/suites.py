"""What a passing suite costs: GX on pandas chunks vs DuckDB deciding first (the check's path).

    .venv/bin/python bench/suites.py --rows 100000 1000000

On a table shaped like int_events__deduped (a unique 32-hex id, an md5, a reason that is
mostly null, a boolean), its real suite (4 expectations: unique, regex, two in-set) runs as
GX alone (`run_suite` over `warehouse_frames`, 500k-row chunks) and as the check runs it
(`decide_suite`: DuckDB's verdict, GX only on a violation). Best of 2 after a warm-up; CPU
seconds of every thread of this process (DuckDB's included). Results: bench/results/suites.{md,json}.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("PREFLINE_HOME", tempfile.mkdtemp(prefix="prefline-bench-suites-"))

import duckdb  # noqa: E402

from pipeline.core.checks import decide_suite, warehouse_frames  # noqa: E402
from pipeline.core.gx import run_suite  # noqa: E402

SUITE = "int_events__deduped"
SQL = "select record_id, prompt_hash, reason, decision_consistent from deduped"


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _best(fn) -> tuple[float, float, object]:
    fn()
    runs = []
    for _ in range(2):
        t, c = time.perf_counter(), _cpu()
        result = fn()
        runs.append((time.perf_counter() - t, _cpu() - c, result))
    return min(runs, key=lambda r: r[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, nargs="+", default=[100_000, 1_000_000])
    args = ap.parse_args()
    load_before = os.getloadavg()
    rows = []
    for n in args.rows:
        con = duckdb.connect()
        con.execute("""create table deduped as
                       select printf('%032x', i) as record_id, md5(i::varchar) as prompt_hash,
                              case when i % 10 = 0 then 'duplicate_exact' end as reason, true as decision_consistent
                       from range(?) t(i)""", [n])
        for engine, fn in (
            ("GX on pandas chunks", lambda con=con: run_suite(SUITE, warehouse_frames(con, SQL, [], SUITE))),
            ("DuckDB first (the check)", lambda con=con: decide_suite(SUITE, warehouse_frames(con, SQL, [], SUITE))),
        ):
            wall, cpu, result = _best(fn)
            assert result.success, result.summary()
            rows.append({"rows": n, "engine": engine, "decided_by": result.engine, "wall_s": round(wall, 3),
                         "cpu_s": round(cpu, 3), "cpu_us_per_row": round(cpu / n * 1e6, 2)})
        con.close()
    load = {"before": load_before, "after": os.getloadavg()}
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "suites.json").write_text(json.dumps({"suite": SUITE, "runs": rows, "load": load}, indent=2) + "\n")
    table = [f"# {SUITE} suite (4 expectations), passing: GX alone vs DuckDB first", "",
             "| rows | engine | decided by | wall s | CPU s | CPU µs/row |", "|---:|---|---|---:|---:|---:|"]
    table += [f"| {r['rows']:,} | {r['engine']} | {r['decided_by']} | {r['wall_s']} | {r['cpu_s']} | "
              f"{r['cpu_us_per_row']} |" for r in rows]
    table += ["", "Machine load (1, 5, 15 min) before: " + ", ".join(f"{x:.2f}" for x in load["before"])
              + "; after: " + ", ".join(f"{x:.2f}" for x in load["after"]) + " (2 cores)."]
    (out / "suites.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
