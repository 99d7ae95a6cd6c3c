"""DuckDB decides a suite only when GX would pass it: on tables built to break (or just
escape) each row-level rule, DuckDB's verdict is GX's, and a check on bad rows still fails
with GX's detailed result and its Data Docs."""

from __future__ import annotations

import json
import math

import duckdb
import pandas as pd
import pytest

from pipeline.core.checks import suite_check, warehouse_frames
from pipeline.core.gx import run_suite
from pipeline.core.sql_suite import verdict

SUITE = {"name": "rules", "expectations": [
    {"type": "expect_column_values_to_be_unique", "kwargs": {"column": "id"}},
    {"type": "expect_compound_columns_to_be_unique", "kwargs": {"column_list": ["a", "b"]}},
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "must"}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "kind", "value_set": ["x", "y"]}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "flag", "value_set": [True]}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "score", "min_value": 0, "max_value": 1}},
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "n", "min_value": 0, "strict_min": True}},
    {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "h", "regex": "^[0-9a-f]{4}$"}},
    {"type": "expect_column_value_lengths_to_be_between", "kwargs": {"column": "s", "min_value": 1, "max_value": 3}},
]}

GOOD = {"id": ["1", "2", "3"], "a": ["p", "p", None], "b": ["q", "r", None], "must": ["m", "m", "m"],
        "kind": ["x", "y", None], "flag": [True, True, None], "score": [0.0, 1.0, math.nan], "n": [1, 2, None],
        "h": ["00af", "beef", None], "s": ["a", "abc", None]}

# (column, values): each a small change to GOOD; every one of these GX passes or fails on its own
CASES = [
    ("id", ["1", "1", "3"]), ("id", ["1", None, None]),
    ("a", [None, None, None]), ("b", ["q", "q", None]), ("a", ["p", "p", "p"]),
    ("must", ["m", None, "m"]), ("score", [0.0, 1.0, None]),
    ("kind", ["x", "z", None]), ("kind", ["x", "X", "y"]),
    ("flag", [True, False, None]),
    ("score", [0.0, 1.5, math.nan]), ("score", [-0.1, 1.0, 0.5]), ("score", [math.nan, math.nan, math.nan]),
    ("n", [1, 0, None]), ("n", [1, -3, 5]),
    ("h", ["00af", "BEEF", None]), ("h", ["00af", "beefy", None]), ("h", ["x00af", "beef", None]),
    ("s", ["", "abc", None]), ("s", ["a", "abcd", None]), ("s", ["é", "日本語", None]),
]


def _frame(column: str | None = None, values: list | None = None) -> pd.DataFrame:
    data = dict(GOOD)
    if column is not None:
        data[column] = values
    frame = pd.DataFrame(data)
    return frame.astype({"n": "Int64"})


def _gx(frame: pd.DataFrame, tmp_path) -> bool:
    (tmp_path / "rules.json").write_text(json.dumps(SUITE))
    return run_suite("rules", frame, folder=tmp_path).success


@pytest.mark.parametrize("case", [None, *CASES], ids=lambda c: "good" if c is None else f"{c[0]}={c[1]}")
def test_duckdb_decides_as_gx_does(prefline_home, tmp_path, case):
    frame = _frame(*case) if case else _frame()
    con = duckdb.connect()
    con.register("frame", frame)
    con.execute("create table t0 as select * from frame")
    decided = verdict(con, SUITE, "select * from t0", [])
    assert decided is not None and decided[1] == 3
    assert decided[0] == _gx(frame, tmp_path)


def test_the_cases_break_rules(prefline_home, tmp_path):
    assert sum(not _gx(_frame(*case), tmp_path) for case in CASES) >= 15


@pytest.mark.parametrize("exp", [
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "x", "max_value": 9, "mostly": 0.9}},
    {"type": "expect_column_mean_to_be_between", "kwargs": {"column": "x", "min_value": 0}},
    {"type": "expect_column_values_to_be_in_set", "kwargs": {"column": "x", "value_set": ["1"]}},  # str set, int column
    {"type": "expect_column_values_to_be_between", "kwargs": {"column": "s", "min_value": 1}},  # number vs text
    {"type": "expect_column_values_to_not_be_null", "kwargs": {"column": "missing"}},
])
def test_what_duckdb_cannot_decide_goes_to_gx(exp):
    con = duckdb.connect()
    con.execute("create table t as select 1 as x, 'a' as s")
    assert verdict(con, {"name": "one", "expectations": [exp]}, "select * from t", []) is None


def _deduped(con: duckdb.DuckDBPyConnection, bad: bool) -> None:
    con.execute("""create table deduped as select printf('%032x', i) as record_id, md5(i::varchar) as prompt_hash,
                   null::varchar as reason, true as decision_consistent from range(1000) t(i)""")
    if bad:
        con.execute("update deduped set prompt_hash = 'not-a-hash' where record_id < printf('%032x', 3)")


def test_a_passing_check_is_decided_in_duckdb_and_a_failing_one_by_gx(prefline_home):
    from pipeline.core import paths

    sql = "select record_id, prompt_hash, reason, decision_consistent from deduped"
    good = duckdb.connect()
    _deduped(good, bad=False)
    check = suite_check("int_events__deduped", warehouse_frames(good, sql, [], "int_events__deduped"))
    assert check.passed and check.metadata["decided_by"].value == "duckdb"
    assert check.metadata["rows"].value == 1000 and "gx_validation" not in check.metadata

    bad = duckdb.connect()
    _deduped(bad, bad=True)
    check = suite_check("int_events__deduped", warehouse_frames(bad, sql, [], "int_events__deduped"))
    assert not check.passed and check.metadata["decided_by"].value == "great_expectations"
    (failure,) = check.metadata["failures"].value
    assert failure["column"] == "prompt_hash" and failure["unexpected_count"] == 3
    assert (paths.gx_docs_dir() / "int_events__deduped" / "index.html").exists()
    # the next passing run removes the failure's docs
    suite_check("int_events__deduped", warehouse_frames(good, sql, [], "int_events__deduped"))
    assert not (paths.gx_docs_dir() / "int_events__deduped").exists()
