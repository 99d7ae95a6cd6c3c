"""The warehouse stages of a build on warehouse.engine: spark, in order, as Spark jobs and dbt
on the spark target: capture (per landing file) -> deletion requests -> dbt staging and
filtering -> template normalization (per prompt bucket) -> dedup's clusters and eval-set
decontamination (signing, band hashes, candidate verification in the executors; connected
components on the driver) -> the remaining dbt models.

judge_verdicts is not computed here: the judge (training and labeling) reads the DuckDB
warehouse, so a Spark build takes judge_verdicts as a source table that must already exist in
the Spark schema (see README "Running on Spark")."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from pipeline.capture.deletions import read_deletion_requests
from pipeline.capture.spark_jobs import capture_day
from pipeline.core.dbt_vars import dbt_vars
from pipeline.dedup import spark_jobs as dedup_jobs
from pipeline.template_normalization.spark_jobs import normalize_days

PROJECT = Path(__file__).parents[2] / "dbt_project"
UP_TO_FILTERING = "+int_feedback__filtered"


def run_dbt(args: list[str], target_dir: Path, config: dict[str, Any], days: list[str]) -> None:
    """dbt on the spark target (session mode reuses this process's Spark session)."""
    from dbt.cli.main import dbtRunner

    result = dbtRunner().invoke([
        *args, "--project-dir", str(PROJECT), "--profiles-dir", str(PROJECT), "--target", "spark",
        "--target-path", str(target_dir), "--log-path", str(target_dir),
        "--vars", json.dumps(dbt_vars(config, (days[0], days[-1]))),
    ])
    if not result.success:
        raise RuntimeError(f"dbt {' '.join(args)} failed on spark: {result.exception or 'see dbt.log in ' + str(target_dir)}")


def build_on_spark(spark, home: Path, days: list[str], config: dict[str, Any], target_dir: Path,
                   schema: str = "prefline", on_step=None, dbt_unit_tests: bool = True) -> dict[str, Any]:
    """Build ``days`` and the window on Spark; returns per-step wall seconds and counts
    (``on_step(name, wall_s)`` is called after each step). ``dbt_unit_tests=False`` skips dbt's
    unit tests (fixed fixture rows, not the build's data; on local Spark each costs a minute)."""
    steps: dict[str, Any] = {}
    skip = [] if dbt_unit_tests else ["--exclude-resource-type", "unit_test"]

    def step(name: str, work):
        start = time.perf_counter()
        out = work()
        steps[name] = {"wall_s": round(time.perf_counter() - start, 2), **(out if isinstance(out, dict) else {})}
        if on_step is not None:
            on_step(name, steps[name]["wall_s"])

    for day in days:
        step(f"capture {day}", lambda day=day: capture_day(spark, home / "landing", day, schema))
    step("deletion_requests", lambda: spark.createDataFrame(read_deletion_requests(home / "control"))
         .write.mode("overwrite").format("parquet").saveAsTable(f"{schema}.deletion_requests"))
    step("dbt staging + filtering", lambda: run_dbt(["build", "--select", UP_TO_FILTERING, *skip], target_dir, config, days))
    step("template_normalization",
         lambda: normalize_days(spark, days, config["privacy"]["pii_policy"], schema))
    step("prompt_clusters", lambda: dedup_jobs.cluster_prompts(spark, config.get("dedup"), schema))
    step("prompt_contamination", lambda: {k: v for k, v in dedup_jobs.detect_contamination(
        spark, home / "evalsets", config.get("decontamination"), schema).items() if k != "per_benchmark"})
    step("dbt window models", lambda: run_dbt(["build", "--exclude", UP_TO_FILTERING, *skip], target_dir, config, days))
    return steps
