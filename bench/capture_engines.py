"""Which engine should validate landing records? prefline's capture vs what a columnar
capture would have to spend before it had done the same work.

    .venv/bin/python bench/capture_engines.py --records 20000

Generates one day with prefline's generator (jsonl only, malformed records included), keeps
the first N records that meet the contract, and times on the same bytes:

- prefline: `orjson.loads` + `validate_values` per record (every rule, the typed columns and
  the content hash), the work capture does per record;
- DuckDB, the parses a type-strict validator in SQL needs at the least: `json_transform` into
  the contract's typed struct, plus `json_structure` for the JSON types a transform casts away
  ("yes" becomes a boolean, 5 becomes a string), each written to a table so nothing is pruned;
  no rule checked and no hash computed yet;
- pyarrow.json with the schema it infers (both cores, then one): parsing alone; it stops at the
  first record of another type, so bad records would still have to be found one by one.

Each engine runs three times; the best time counts. The machine has 2 cores.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import duckdb
import orjson
import pyarrow as pa
import pyarrow.json as pj

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pipeline.capture.contract import ContractError, validate_values  # noqa: E402
from pipeline.synth.generate import write_landing  # noqa: E402

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


def _records(n: int) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        write_landing(Path(tmp) / "landing", n=int(n * 1.1), days=1, start=date(2026, 11, 1), seed=7,
                      formats=("jsonl",), control_dir=Path(tmp) / "control")
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


def _best(fn, runs: int = 3) -> float:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000)
    args = ap.parse_args()
    lines = _records(args.records)
    n, megabytes = len(lines), sum(map(len, lines)) / 1e6
    ndjson = b"\n".join(lines) + b"\n"

    def python_validate():
        for line in lines:
            validate_values(orjson.loads(line))

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
        ("prefline: orjson + validate_values (all rules, columns, hash)", python_validate),
        ("DuckDB: json_transform + json_structure (parses only)", duckdb_parses),
        ("DuckDB: json_structure alone", duckdb_structure_only),
        ("pyarrow.json: parse only, 2 threads", pyarrow_parse(True)),
        ("pyarrow.json: parse only, 1 thread", pyarrow_parse(False)),
    ]
    rows = []
    for name, fn in engines:
        seconds = _best(fn)
        rows.append({"engine": name, "seconds": round(seconds, 3), "records_per_s": round(n / seconds)})
    result = {"records": n, "megabytes": round(megabytes, 1), "engines": rows}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "capture-engines.json").write_text(json.dumps(result, indent=2) + "\n")
    table = [f"# capture engines: {n:,} valid records ({megabytes:.1f} MB of jsonl)", "",
             "| engine | best of 3, s | records/s |", "|---|---:|---:|"]
    table += [f"| {r['engine']} | {r['seconds']} | {r['records_per_s']:,} |" for r in rows]
    (RESULTS / "capture-engines.md").write_text("\n".join(table) + "\n")
    print("\n".join(table))


if __name__ == "__main__":
    main()
