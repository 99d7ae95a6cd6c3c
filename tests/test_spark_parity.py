"""The same project on Apache Spark: the bundled sample's warehouse inputs, built by dbt on
local Spark (local[2], temp warehouse and metastore), give every dbt model the same rows as
the DuckDB build, so the published pairs and KTO rows are equal."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import duckdb
import pandas as pd
import pytest

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


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory):
    from dbt.cli.main import dbtRunner

    from pipeline.cli.build import run_build
    from pipeline.core.config import load_config
    from pipeline.core.dbt_vars import dbt_vars
    from pipeline.core.spark import load_sources_from_duckdb, local_session
    from pipeline.synth.generate import write_landing

    root = tmp_path_factory.mktemp("spark_parity")
    home = root / "home"
    with pointed_at(home):
        write_landing(home / "landing", n=400, days=len(DAYS), start=date.fromisoformat(DAYS[0]), seed=11)
        outcome = run_build(DAYS)
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        spark = local_session(root / "spark")
        load_sources_from_duckdb(spark, home / "warehouse.duckdb")
        project = Path(__file__).parents[1] / "dbt_project"
        result = dbtRunner().invoke([
            "build", "--project-dir", str(project), "--profiles-dir", str(project), "--target", "spark",
            "--target-path", str(root / "dbt"), "--log-path", str(root / "dbt"),
            "--vars", json.dumps(dbt_vars(load_config(), (DAYS[0], DAYS[-1]))),
        ])
        assert result.success, result.exception
        yield duckdb.connect(str(home / "warehouse.duckdb"), read_only=True), spark
        spark.stop()


@pytest.mark.parametrize("model", _models())
def test_every_dbt_model_has_the_same_rows_on_spark(both, model):
    con, spark = both
    on_duckdb = _canonical(con.sql(f"select * from main.{model}").df())
    on_spark = _canonical(spark.table(f"prefline.{model}").toPandas())
    assert len(on_duckdb) == len(on_spark)
    assert on_duckdb == on_spark


def test_the_published_models_are_not_empty(both):
    con, _ = both
    assert con.sql("select count(*) from main.fct_preference_pairs").fetchall()[0][0] > 0
    assert con.sql("select count(*) from main.fct_kto_rows").fetchall()[0][0] > 0


def test_an_unordered_listagg_is_caught(both):
    """dbt-spark's stock listagg drops the ORDER BY: a response key aggregated without the
    position order (here in hash order) changes content keys, and the comparison sees it."""
    con, spark = both
    stock = spark.sql("""
        select c.record_id, k.responses_key
        from prefline.int_events__canonical c
        join (select record_id, array_join(array_sort(collect_list(response_hash)), ',') as responses_key
              from prefline.normalized_responses group by record_id) k on k.record_id = c.record_id
    """).toPandas()
    ordered = con.sql("select record_id, responses_key from main.int_events__canonical").df()
    assert _canonical(stock) != _canonical(ordered)
