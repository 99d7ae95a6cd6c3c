"""A GX suite over a window table reads it in bounded chunks and still judges the whole table:
a repeated key in rows far apart fails, and every row is read exactly once. (A check asks
DuckDB first; these tables break their suites, so GX reads them: test_sql_suite.py.)"""

from __future__ import annotations

import json

import duckdb

from pipeline.core.checks import suite_check, warehouse_frames
from pipeline.core.gx import run_suite

DEDUPED_SQL = "select record_id, prompt_hash, reason, decision_consistent from deduped"


def _deduped(rows: int, repeat_first_id_at: int | None = None) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(
        """create table deduped as
           select printf('%032x', i) as record_id, md5(i::varchar) as prompt_hash,
                  null::varchar as reason, true as decision_consistent
           from range(?) t(i)""",
        [rows],
    )
    if repeat_first_id_at is not None:
        con.execute("update deduped set record_id = printf('%032x', 0) where record_id = printf('%032x', ?)",
                    [repeat_first_id_at])
    return con


def test_a_window_table_is_read_in_chunks_that_hold_every_row_once(prefline_home):
    con = _deduped(1_000)
    frames = list(warehouse_frames(con, DEDUPED_SQL, [], "int_events__deduped", chunk_rows=300))
    assert len(frames) == 4
    assert max(len(f) for f in frames) < 1_000
    ids = [i for f in frames for i in f["record_id"]]
    assert sorted(ids) == sorted(r for (r,) in con.execute("select record_id from deduped").fetchall())

    # GX itself on the chunks (a passing check is decided in DuckDB without them: test_sql_suite.py)
    result = run_suite("int_events__deduped", warehouse_frames(con, DEDUPED_SQL, [], "int_events__deduped",
                                                               chunk_rows=300))
    assert result.success and result.rows == 1_000 and result.chunks == 4


def test_a_key_repeated_rows_apart_fails_uniqueness_across_chunks(prefline_home):
    con = _deduped(1_000, repeat_first_id_at=999)
    check = suite_check("int_events__deduped", warehouse_frames(con, DEDUPED_SQL, [], "int_events__deduped",
                                                               chunk_rows=300))
    assert not check.passed
    (failure,) = check.metadata["failures"].value
    assert failure["expectation"] == "expect_column_values_to_be_unique"
    assert failure["unexpected_count"] == 2


def test_failures_in_several_chunks_add_up(prefline_home):
    con = _deduped(1_000)
    con.execute("update deduped set prompt_hash = 'not-a-hash' where (hash(record_id) % 7) = 0")
    bad = con.execute("select count(*) from deduped where prompt_hash = 'not-a-hash'").fetchall()[0][0]
    check = suite_check("int_events__deduped", warehouse_frames(con, DEDUPED_SQL, [], "int_events__deduped",
                                                               chunk_rows=300))
    assert not check.passed and check.metadata["chunks"].value == 4
    (failure,) = check.metadata["failures"].value
    assert failure["column"] == "prompt_hash" and failure["unexpected_count"] == bad > 0


def test_a_suite_with_a_share_threshold_reads_its_rows_whole(prefline_home, tmp_path, monkeypatch):
    # `mostly` is a share of all rows: per chunk it would mean something else.
    from pipeline.core import paths

    (tmp_path / "stage" / "expectations").mkdir(parents=True)
    (tmp_path / "stage" / "expectations" / "shares.json").write_text(json.dumps({"name": "shares", "expectations": [
        {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "max_value": 900, "mostly": 0.95}}]}))
    monkeypatch.setattr(paths, "PACKAGE_DIR", tmp_path)
    con = duckdb.connect()
    con.execute("create table t as select i as x from range(1000) t(i)")
    frames = list(warehouse_frames(con, "select * from t", [], "shares", chunk_rows=100))
    assert len(frames) == 1 and len(frames[0]) == 1_000


def test_a_backfill_range_is_checked_day_by_day(prefline_home):
    # Day 2 has 2 of 50 events created after the day following their landing day: the suite
    # reads one day at a time and still finds them.
    from pipeline.capture.checks import CAPTURE_FRAME_SQL
    from pipeline.core.checks import day_frames

    con = duckdb.connect()
    con.execute(
        """create table raw_feedback_events as
           select md5(i::varchar) as record_id, 'e' || i as event_id, 'rating' as event_type, 'u' as user_id,
                  true as consent_training, null::varchar as annotator_kind, 3 as label_score,
                  md5('c' || i) as content_hash,
                  case when i < 200 then date '2026-11-01' else date '2026-11-02' end as partition_date,
                  case when i >= 248 then timestamp '2026-11-09' else timestamp '2026-09-01 12:00' end as created_at
           from range(250) t(i)"""
    )
    days = ["2026-11-01", "2026-11-02"]
    per_day = suite_check("raw_feedback_events", day_frames(con, CAPTURE_FRAME_SQL, days, "raw_feedback_events"))
    assert not per_day.passed and per_day.metadata["chunks"].value == 2
    (failure,) = per_day.metadata["failures"].value
    assert failure["column"] == "days_before_partition" and failure["unexpected_count"] == 2
