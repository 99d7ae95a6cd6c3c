"""The same day on local Spark beside DuckDB: generate a realistic day, build it with
`prefline build --all` (DuckDB, per Dagster step), then build the same warehouse stages on
local Spark (pipeline.core.spark_build.build_on_spark: capture, normalization and dedup as
Spark jobs, dbt on the spark target) and export the published files from the Spark marts;
per step wall and CPU seconds (process tree, from /proc), and whether the exported files are
the DuckDB version's bytes.

    .venv/bin/python bench/spark.py --events 20000
    .venv/bin/python bench/spark.py --events 1000000 --master 'local[2]'

The Spark build takes judge_verdicts from the DuckDB build (the judge is not a Spark job).
Results: bench/results/spark-realistic-<events>x1[-TAG].{md,json}
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.build import BIN, _tree_usage, run_measured, stage_table  # noqa: E402

DAY = "2026-10-01"


def spark_phase(home: Path, master: str) -> dict:
    """Runs in its own process (one JVM; Derby allows one): the Spark build, step by step."""
    import duckdb

    from pipeline.core.config import load_config
    from pipeline.core.spark import local_session
    from pipeline.core.spark_build import build_on_spark
    from pipeline.final_preference_set.publish import DATA_FILES, version_id, write_parquet
    from pipeline.final_preference_set.spark_export import spark_export_tables

    os.environ["PREFLINE_HOME"] = str(home)
    config = load_config()
    config = config | {"warehouse": {**config["warehouse"], "engine": "spark"}}
    cpu = lambda: _tree_usage(os.getpid())[1]  # noqa: E731
    t0, c0 = time.perf_counter(), cpu()
    spark = local_session(home / "spark", master=master)
    spark.sparkContext.setLogLevel("ERROR")
    steps = [{"step": "spark session", "wall_s": round(time.perf_counter() - t0, 2), "cpu_s": round(cpu() - c0, 1)}]
    with duckdb.connect(str(home / "warehouse.duckdb"), read_only=True) as con:
        verdicts = con.sql("select * from judge_verdicts").arrow()
        verdicts = verdicts.read_all() if hasattr(verdicts, "read_all") else verdicts
    spark.createDataFrame(verdicts).write.mode("overwrite").saveAsTable("prefline.judge_verdicts")

    last = {"cpu": cpu()}

    def on_step(name: str, wall: float) -> None:
        now = cpu()
        steps.append({"step": name, "wall_s": wall, "cpu_s": round(now - last["cpu"], 1)})
        last["cpu"] = now

    done = build_on_spark(spark, home, [DAY], config, home / "spark-dbt", on_step=on_step)
    for s in steps:
        s.update({k: v for k, v in done.get(s["step"], {}).items() if k != "wall_s"})
    t, c = time.perf_counter(), cpu()
    out = home / "spark-export"
    out.mkdir(exist_ok=True)
    with spark_export_tables(spark) as tables:
        hashes = {name: write_parquet(tables[name], out / f"{name}.parquet") for name in DATA_FILES}
    steps.append({"step": "export (driver)", "wall_s": round(time.perf_counter() - t, 2), "cpu_s": round(cpu() - c, 1)})
    spark.stop()
    published = home / "datasets" / "preference_pairs"
    latest = (published / "LATEST").read_text().strip() if (published / "LATEST").exists() else None
    files = json.loads((published / latest / "manifest.json").read_text())["files"] if latest else {}
    return {"steps": steps, "same_files": hashes == files, "same_version_id": version_id(hashes, config) == latest}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=20_000)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--tag")
    ap.add_argument("--spark-phase", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.spark_phase:
        print("RESULT " + json.dumps(spark_phase(args.spark_phase, args.master)))
        return

    from pipeline.synth.sample import copy_evalsets

    home = Path(tempfile.mkdtemp(prefix="prefline-bench-spark-"))
    env = {**os.environ, "PREFLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "GX_ANALYTICS_ENABLED": "False", "PATH": f"{BIN}:{os.environ['PATH']}"}
    copy_evalsets(home / "evalsets")
    result: dict = {"events": args.events, "master": args.master, "load_before": os.getloadavg()}
    gen = run_measured([str(BIN / "prefline"), "generate", "--events", str(args.events), "--days", "1",
                        "--start", DAY, "--realistic"], env)
    result["generate"] = {k: v for k, v in gen.items() if k != "output"}
    duck = run_measured([str(BIN / "prefline"), "build", "--all"], env)
    result["duckdb"] = {"build": {k: v for k, v in duck.items() if k != "output"},
                        "steps": stage_table(home)[0]}
    spark = run_measured([sys.executable, str(Path(__file__).resolve()), "--spark-phase", str(home),
                          "--master", args.master], env)
    line = next(x for x in spark["output"].splitlines() if x.startswith("RESULT "))
    result["spark"] = {"build": {k: v for k, v in spark.items() if k != "output"}, **json.loads(line[7:])}
    result["load_after"] = os.getloadavg()

    name = f"spark-realistic-{args.events}x1" + (f"-{args.tag}" if args.tag else "")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [f"# {args.events:,} realistic events, one day: DuckDB vs Spark ({args.master})", "",
             f"load before {result['load_before']}, after {result['load_after']}", "",
             f"DuckDB `prefline build --all`: {duck['wall_s']} s wall, {duck['cpu_s']} CPU s", "",
             "| DuckDB step | wall s | CPU s |", "|---|---:|---:|"]
    lines += [f"| {s['step']} | {s['wall_s']} | {s['cpu_s']} |" for s in result["duckdb"]["steps"]]
    step_cpu = round(sum(s["cpu_s"] for s in result["spark"]["steps"]), 1)
    lines += ["", f"Spark (process with its JVM and workers): {spark['wall_s']} s wall, {step_cpu} CPU s over its steps; "
              f"same published files: {result['spark']['same_files']}, same version id: "
              f"{result['spark']['same_version_id']}", "", "| Spark step | wall s | CPU s |", "|---|---:|---:|"]
    lines += [f"| {s['step']} | {s['wall_s']} | {s['cpu_s']} |" for s in result["spark"]["steps"]]
    (out / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
