"""The same project on Apache Spark: the sample built on local Spark (local[2], temp warehouse
and metastore) — capture, normalization and dedup as Spark jobs, the dbt models on the spark
target — gives every table the same rows as the DuckDB build, and the files exported from the
Spark marts are byte for byte the published DuckDB version's, under the same version id.
judge_verdicts is the one table taken from the DuckDB build (the judge is not a Spark job)."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from tests.homes import pointed_at

pytest.importorskip("pyspark")
pytest.importorskip("dbt.adapters.spark")

pytestmark = [pytest.mark.slow, pytest.mark.spark]

DAYS = ["2026-11-01", "2026-11-02"]
# Internal per-engine values, never published: the dbt invocation that computed a row and the
# change-detection signature (engine-specific fingerprints; see partition_signature.sql).
INTERNAL = {"computed_in_invocation", "partition_signature"}


def _models() -> list[str]:
    manifest = json.loads((Path(__file__).parents[1] / "dbt_project/target/manifest.json").read_text())
    return sorted(n["name"] for n in manifest["nodes"].values() if n["resource_type"] == "model")


def _sources() -> list[str]:
    sources = yaml.safe_load((Path(__file__).parents[1] / "dbt_project/models/staging/_sources.yml").read_text())
    return [t["name"] for source in sources["sources"] for t in source["tables"]]


def _text(value) -> str:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and value != value):
        return "<null>"
    if hasattr(value, "isoformat"):  # a date and a midnight timestamp read alike; UTC, naive
        stamp = pd.Timestamp(value)
        return (stamp.tz_convert(None) if stamp.tzinfo else stamp).isoformat()
    if isinstance(value, float) and value.is_integer():  # a nullable integer column reads as float from Spark
        return str(int(value))
    return str(value)


def _canonical(df) -> list[tuple]:
    """Rows as sorted tuples of strings, columns by name, floats to 9 digits."""
    df = df[sorted(c for c in df.columns if c not in INTERNAL)].copy()
    for col in df.columns:
        if df[col].dtype.kind == "f":
            df[col] = df[col].round(9)
        df[col] = df[col].map(_text)
    return sorted(map(tuple, df.itertuples(index=False)))


# The tables the Python stages write, built by Spark jobs here (judge_verdicts is copied).
SPARK_JOB_TABLES = ["raw_feedback_events", "raw_feedback_responses", "raw_quarantine", "deletion_requests",
                    "normalized_events", "normalized_responses", "normalization_rejections",
                    "prompt_clusters", "prompt_contamination"]


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    from pipeline.cli.build import run_build
    from pipeline.core.config import load_config
    from pipeline.core.spark import local_session
    from pipeline.core.spark_build import build_on_spark
    from pipeline.synth.generate import write_landing
    from pipeline.synth.sample import copy_evalsets

    root = tmp_path_factory.mktemp("spark_parity")
    home = root / "home"
    with pointed_at(home):
        write_landing(home / "landing", n=400, days=len(DAYS), start=date.fromisoformat(DAYS[0]), seed=11)
        copy_evalsets(home / "evalsets")
        outcome = run_build(DAYS)
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        spark = local_session(root / "spark")
        spark.sparkContext.setLogLevel("ERROR")
        con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
        # dbt's sources that no Spark job writes (the judge's verdicts) come from the DuckDB build.
        for name in _sources():
            if name not in SPARK_JOB_TABLES:
                rows = con.sql(f"select * from main.{name}").arrow()
                rows = rows.read_all() if hasattr(rows, "read_all") else rows
                spark.createDataFrame(rows).write.mode("overwrite").saveAsTable(f"prefline.{name}")
        config = load_config() | {"warehouse": {**load_config()["warehouse"], "engine": "spark"}}
        # dbt's unit tests check fixed fixture rows, not this build's data (they run on DuckDB).
        build_on_spark(spark, home, DAYS, config, root / "dbt", dbt_unit_tests=False)
        yield con, spark, home, config
        con.close()
        spark.stop()


@pytest.mark.parametrize("model", _models())
def test_every_dbt_model_has_the_same_rows_on_spark(both, model):
    con, spark, _, _ = both
    on_duckdb = _canonical(con.sql(f"select * from main.{model}").df())
    on_spark = _canonical(spark.table(f"prefline.{model}").toPandas())
    assert len(on_duckdb) == len(on_spark)
    assert on_duckdb == on_spark


@pytest.mark.parametrize("table", SPARK_JOB_TABLES)
def test_every_spark_job_table_has_the_same_rows(both, table):
    con, spark, _, _ = both
    on_duckdb = _canonical(con.sql(f"select * from main.{table}").df())
    on_spark = _canonical(spark.table(f"prefline.{table}").toPandas())
    assert len(on_duckdb) == len(on_spark)
    assert on_duckdb == on_spark


def test_the_published_files_and_version_id_are_the_same_on_spark(both, tmp_path):
    """The export from the Spark marts writes the DuckDB build's published files byte for byte;
    with the engine in the config (kept out of the id), the version id is the same."""
    from pipeline.final_preference_set.publish import DATA_FILES, version_id, write_parquet
    from pipeline.final_preference_set.spark_export import spark_export_tables

    _, spark, home, config = both
    published = home / "datasets" / "preference_pairs"
    latest = (published / "LATEST").read_text().strip()
    manifest = json.loads((published / latest / "manifest.json").read_text())
    with spark_export_tables(spark) as tables:
        hashes = {name: write_parquet(tables[name], tmp_path / f"{name}.parquet") for name in DATA_FILES}
    assert hashes == manifest["files"]
    assert manifest["config"]["warehouse"]["engine"] == "duckdb" and config["warehouse"]["engine"] == "spark"
    assert version_id(hashes, config) == latest


def test_a_changed_published_row_changes_the_files(both, tmp_path):
    """The byte comparison sees one published row lost on one engine."""
    from pipeline.final_preference_set.publish import write_parquet
    from pipeline.final_preference_set.spark_export import spark_export_tables

    _, spark, home, _ = both
    published = home / "datasets" / "preference_pairs"
    manifest = json.loads((published / (published / "LATEST").read_text().strip() / "manifest.json").read_text())
    spark.table("prefline.fct_kto_rows").orderBy("kto_id").offset(1).createOrReplaceTempView("_kto_less_one")
    with spark_export_tables(spark) as tables:
        tables._con.register("fct_kto_rows", spark.table("_kto_less_one").toArrow())
        assert write_parquet(tables["kto"], tmp_path / "kto.parquet") != manifest["files"]["kto"]


def test_the_published_models_are_not_empty(both):
    con, _, _, _ = both
    assert con.sql("select count(*) from main.fct_preference_pairs").fetchall()[0][0] > 0
    assert con.sql("select count(*) from main.fct_kto_rows").fetchall()[0][0] > 0


def test_an_unordered_listagg_is_caught(both):
    """dbt-spark's stock listagg drops the ORDER BY: a response key aggregated without the
    position order (here in hash order) changes content keys, and the comparison sees it."""
    con, spark, _, _ = both
    stock = spark.sql("""
        select c.record_id, k.responses_key
        from prefline.int_events__canonical c
        join (select record_id, array_join(array_sort(collect_list(response_hash)), ',') as responses_key
              from prefline.normalized_responses group by record_id) k on k.record_id = c.record_id
    """).toPandas()
    ordered = con.sql("select record_id, responses_key from main.int_events__canonical").df()
    assert _canonical(stock) != _canonical(ordered)
