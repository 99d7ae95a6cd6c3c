"""Which engine should validate landing records? prefline's capture vs what a columnar
capture would have to spend before it had done the same work.

    .venv/bin/python bench/capture_engines.py --records 20000 --day-events 100000
    .venv/bin/python bench/capture_engines.py --mode pool      # the pool mode's recombined texts

Generates one day with prefline's generator (realistic mode by default; jsonl only, malformed
records included), keeps the first N records that meet the contract, and times on the same bytes:

- prefline reference: `orjson.loads` + `validate_values` per record (every rule, the typed
  columns and the content hash), the work capture did per record;
- prefline fast: `contract_fast.validate_json` (msgspec typed decoding; the same rows, hashes
  and reasons), what capture does now;
- DuckDB, the parses a type-strict validator in SQL needs at the least: `json_transform` into
  the contract's typed struct, plus `json_structure` for the JSON types a transform casts away
  ("yes" becomes a boolean, 5 becomes a string), each written to a table so nothing is pruned;
  no rule checked and no hash computed yet;
- pyarrow.json with the schema it infers (both cores, then one): parsing alone; it stops at the
  first record of another type, so bad records would still have to be found one by one.

Each engine runs three times; the best time counts, with the CPU seconds of that run (all
threads of this process: on a shared machine they vary less than wall time). The machine has
2 cores.

Then whole-day capture (`capture_day`, every format, malformed records included) of a day of
--day-events events with each validator, per landing file and in all, and the fast validator
in capture_day's two worker processes (plain jsonl files in 32 MiB parts, other files whole,
rows handed back in file order; the time includes sending the tables back, the CPU seconds
include the workers'). Best of two. Results:
bench/results/capture-engines[-pool].{md,json}.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import orjson
import pyarrow as pa

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.capture.contract import ContractError, validate_values  # noqa: E402
from pipeline.capture.contract_fast import validate_json  # noqa: E402
from pipeline.capture.landing import _capture_batches, _collect, capture_day, landing_files  # noqa: E402

# capture_day's worker processes import this file again (multiprocessing's spawn re-imports the
# main module), so what only the parent needs (DuckDB, pyarrow.json, the generator: ~1.3 CPU s
# a worker) is imported where it is used, not here.

RESULTS = ROOT / "bench" / "results"

TRANSFORM = json.dumps({
    "event_id": "VARCHAR", "event_type": "VARCHAR", "created_at": "VARCHAR", "source": "VARCHAR",
    "user_id": "VARCHAR", "consent_training": "VARCHAR",
    "prompt": {"messages": [{"role": "VARCHAR", "content": "VARCHAR"}], "text": "VARCHAR", "template": "VARCHAR"},
    "responses": [{"response_id": "VARCHAR", "content": "VARCHAR", "model": "VARCHAR"}],
    "label": {k: "VARCHAR" for k in ("preferred", "tie", "score", "value", "edited_content", "discarded")},
    "annotator": {"kind": "VARCHAR", "id": "VARCHAR", "saw_model_draft": "VARCHAR"},
    "policy_version": "VARCHAR", "tags": "MAP(VARCHAR, VARCHAR)", "schema_version": "VARCHAR",
})


DAY = "2026-11-01"


def _records(n: int, mode: str) -> list[bytes]:
    from pipeline.synth.generate import write_landing

    with tempfile.TemporaryDirectory() as tmp:
        write_landing(Path(tmp) / "landing", n=int(n * 1.1), days=1, start=date(2026, 11, 1), seed=7,
                      formats=("jsonl",), control_dir=Path(tmp) / "control", mode=mode)
        (path,) = (Path(tmp) / "landing").rglob("*.jsonl")
        lines = path.read_bytes().splitlines()
    good = []
    for line in lines:
        try:
            validate_values(orjson.loads(line))
        except (orjson.JSONDecodeError, ContractError):
            continue
        good.append(line)
    return good[:n]


CPU_TIMES: list[float] = []  # CPU seconds of this process (all its threads) in each _best's best run


def _best(fn, runs: int = 3) -> float:
    """The best wall time of `runs`; that run's CPU seconds go to CPU_TIMES."""
    times = []
    for _ in range(runs):
        t, c = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t, time.process_time() - c))
    wall, cpu = min(times)
    CPU_TIMES.append(cpu)
    return wall


def _cpu_with_children() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _capture_file(task: tuple[str, str, str]) -> tuple[pa.Table, pa.Table, pa.Table, int]:
    path, rel, validator = task
    result = _collect(_capture_batches([(Path(path), rel)], DAY, 50_000, 64 << 20, validator))
    return result.events, result.responses, result.quarantine, result.files[0].records


def _day_capture(events: int, mode: str) -> dict:
    """Whole-day capture with each validator: per file, the day in one process, and the day
    with its files spread over two worker processes (fast validator)."""
    from pipeline.synth.generate import write_landing

    with tempfile.TemporaryDirectory() as tmp:
        landing = Path(tmp) / "landing"
        write_landing(landing, n=events, days=1, start=date(2026, 11, 1), seed=7, control_dir=Path(tmp) / "control",
                      mode=mode)
        files = landing_files(landing / DAY)
        rows, sizes = [], {p.name: p.stat().st_size for p in files}
        for path in files:
            row = {"file": path.name, "megabytes": round(sizes[path.name] / 1e6, 1)}
            for validator in ("reference", "fast"):
                task = (str(path), f"{DAY}/{path.name}", validator)
                row["records"] = _capture_file(task)[3]
                seconds = _best(lambda task=task: _capture_file(task), runs=2)
                row[f"{validator}_records_per_s"] = round(row["records"] / seconds)
                row[f"{validator}_cpu_us"] = round(CPU_TIMES[-1] / row["records"] * 1e6, 1)
            rows.append(row)
        total = sum(r["records"] for r in rows)
        whole = {}
        for validator in ("reference", "fast"):
            captured = capture_day(landing, DAY, validator=validator, workers=1)
            whole[validator] = round(total / _best(lambda v=validator: capture_day(landing, DAY, validator=v, workers=1),
                                                   runs=2))
            whole[f"{validator}_cpu_us"] = round(CPU_TIMES[-1] / total * 1e6, 1)
        # capture_day's own worker processes (plain jsonl in 32 MiB parts, rows in file order);
        # CPU seconds are this process's plus the workers' (reaped when capture_day returns).
        parallel = capture_day(landing, DAY, validator="fast", workers=2)
        for name in ("events", "responses", "quarantine"):
            assert getattr(parallel, name).equals(getattr(captured, name)), f"two processes capture the same {name}"
        times = []
        for _ in range(2):
            t, c = time.perf_counter(), _cpu_with_children()
            capture_day(landing, DAY, validator="fast", workers=2)
            times.append((time.perf_counter() - t, _cpu_with_children() - c))
        wall, cpu = min(times)
        whole["fast_2_processes"] = round(total / wall)
        whole["fast_2_processes_cpu_us"] = round(cpu / total * 1e6, 1)
    return {"events": events, "records": total, "megabytes": round(sum(sizes.values()) / 1e6, 1), "files": rows,
            "day_records_per_s": whole}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000)
    ap.add_argument("--day-events", type=int, default=100_000, help="events of the whole-day capture (0: skip it)")
    ap.add_argument("--mode", choices=("realistic", "pool"), default="realistic", help="generator mode")
    args = ap.parse_args()
    import duckdb
    import pyarrow.json as pj

    load_before = os.getloadavg()
    lines = _records(args.records, args.mode)
    n, megabytes = len(lines), sum(map(len, lines)) / 1e6
    ndjson = b"\n".join(lines) + b"\n"

    def python_validate():
        for line in lines:
            validate_values(orjson.loads(line))

    def fast_validate():
        for line in lines:
            validate_json(line)

    con = duckdb.connect(config={"threads": 2})
    con.register("landing", pa.table({"text": pa.array([line.decode() for line in lines], pa.large_string())}))
    con.execute("create table records as select text::json as j from landing")

    def duckdb_parses():
        con.execute(f"create or replace table typed as select json_transform(j, '{TRANSFORM}') as t, "
                    "json_structure(j) as s from records")

    def duckdb_structure_only():
        con.execute("create or replace table types as select json_structure(j) as s from records")

    def pyarrow_parse(threads: bool):
        return lambda: pj.read_json(io.BytesIO(ndjson), read_options=pj.ReadOptions(use_threads=threads,
                                                                                    block_size=8 << 20))

    engines = [
        ("prefline reference: orjson + validate_values (all rules, columns, hash)", python_validate),
        ("prefline fast: msgspec validate_json (the same rows, hashes, reasons)", fast_validate),
        ("DuckDB: json_transform + json_structure (parses only)", duckdb_parses),
        ("DuckDB: json_structure alone", duckdb_structure_only),
        ("pyarrow.json: parse only, 2 threads", pyarrow_parse(True)),
        ("pyarrow.json: parse only, 1 thread", pyarrow_parse(False)),
    ]
    rows = []
    for name, fn in engines:
        seconds = _best(fn)
        rows.append({"engine": name, "seconds": round(seconds, 3), "records_per_s": round(n / seconds),
                     "cpu_us_per_record": round(CPU_TIMES[-1] / n * 1e6, 1)})
    result = {"mode": args.mode, "records": n, "megabytes": round(megabytes, 1), "engines": rows}
    if args.day_events:
        result["day"] = _day_capture(args.day_events, args.mode)
    result["load"] = {"before": load_before, "after": os.getloadavg()}
    name = "capture-engines" + ("-pool" if args.mode == "pool" else "")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    table = [f"# capture engines: {n:,} valid records ({megabytes:.1f} MB of jsonl, {args.mode} mode)", "",
             "| engine | best of 3, s | records/s | CPU µs/record |", "|---|---:|---:|---:|"]
    table += [f"| {r['engine']} | {r['seconds']} | {r['records_per_s']:,} | {r['cpu_us_per_record']} |" for r in rows]
    if args.day_events:
        day = result["day"]
        table += ["", f"## Whole-day capture: {day['events']:,} events, {day['records']:,} records "
                      f"({day['megabytes']} MB in 4 formats, malformed records included), best of 2", "",
                  "| file | MB | records | reference records/s | fast records/s | reference CPU µs/record | "
                  "fast CPU µs/record |", "|---|---:|---:|---:|---:|---:|---:|"]
        table += [f"| {r['file']} | {r['megabytes']} | {r['records']:,} | {r['reference_records_per_s']:,} | "
                  f"{r['fast_records_per_s']:,} | {r['reference_cpu_us']} | {r['fast_cpu_us']} |" for r in day["files"]]
        whole = day["day_records_per_s"]
        table += [f"| the day, one process | {day['megabytes']} | {day['records']:,} | {whole['reference']:,} | "
                  f"{whole['fast']:,} | {whole['reference_cpu_us']} | {whole['fast_cpu_us']} |",
                  f"| the day, capture_day in 2 worker processes | {day['megabytes']} | {day['records']:,} | | "
                  f"{whole['fast_2_processes']:,} | | {whole['fast_2_processes_cpu_us']} |"]
    load = result["load"]
    table += ["", f"Machine load (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in load['before'])}; after: "
                  f"{', '.join(f'{x:.2f}' for x in load['after'])} (2 cores)."]
    (RESULTS / f"{name}.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
