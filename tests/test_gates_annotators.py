"""The annotator gates as plain functions on small warehouse tables: each blocks a slice built
to trip it (a day, or the whole candidate), passes a clean one, and will not block on a
handful of labels (the Wilson rule)."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.core.config import load_config
from pipeline.core.gates import z_value
from pipeline.final_preference_set.gates import GATE_NAMES
from pipeline.final_preference_set.gates_annotators import ANNOTATOR_GATE_NAMES, annotator_gates

DAY1, DAY2 = "2026-11-01", "2026-11-02"


def _warehouse(events: list[tuple], votes: list[tuple] = ()) -> duckdb.DuckDBPyConnection:
    """events: (day, user_id, annotator_id, annotator_kind, saw_draft); votes: (day, annotator_id, chose_first)."""
    con = duckdb.connect()
    con.execute("""create table int_events__deduped (record_id varchar, kept boolean, partition_date date,
                   user_id varchar, annotator_id varchar, annotator_kind varchar, annotator_saw_model_draft boolean)""")
    if events:
        con.executemany("insert into int_events__deduped values (?, true, ?, ?, ?, ?, ?)",
                        [(f"e{i}", *e) for i, e in enumerate(events)])
    con.execute("""create table int_annotators__votes (record_id varchar, partition_date date, annotator_id varchar,
                   chose_first boolean)""")
    if votes:
        con.executemany("insert into int_annotators__votes values (?, ?, ?, ?)",
                        [(f"v{i}", *v) for i, v in enumerate(votes)])
    return con


def _gates(con, **overrides):
    thresholds = {**load_config()["gates"], **overrides}
    return {g.name: g for g in annotator_gates(con, thresholds, z_value(thresholds))}


def _spread(n: int, day: str = DAY1, saw: bool = False, annotators: int = 10) -> list[tuple]:
    """n events from n users and `annotators` annotators, in turn."""
    return [(day, f"u-{day}-{i}", f"ann-{i % annotators}", "annotator", saw) for i in range(n)]


def test_the_gates_are_registered_with_the_distribution_gates():
    assert set(ANNOTATOR_GATE_NAMES) <= set(GATE_NAMES)
    assert set(_gates(_warehouse(_spread(10)))) == set(ANNOTATOR_GATE_NAMES)


def test_saw_draft_share_blocks_a_day_of_labels_given_after_the_draft():
    clean = _spread(200, DAY1)
    bad = _gates(_warehouse(clean + _spread(200, DAY2, saw=True)))["saw_draft_share"]
    assert not bad.passed and bad.observed == 1.0 and f"day {DAY2}" in bad.detail
    assert _gates(_warehouse(clean + _spread(200, DAY2)))["saw_draft_share"].passed
    # 3 of 3 labels after the draft is too few rows to block; AI labels are not counted
    ai = [(DAY2, "ai", "judge-x", "ai", True)] * 50
    few = _gates(_warehouse(clean + _spread(3, DAY2, saw=True) + ai))
    assert few["saw_draft_share"].passed and few["saw_draft_share"].n == 3


def _users(n: int, day: str = DAY1) -> list[tuple]:
    return [(day, f"u-{day}-{i % (n // 4 or 1)}", None, "end_user" if i % 2 else None, None) for i in range(n)]


def test_user_concentration_blocks_a_day_one_user_fills():
    flood = [(DAY2, "u-bot", None, None, None)] * 150 + [(DAY2, f"u-{i}", None, None, None) for i in range(50)]
    bad = _gates(_warehouse(_users(200) + flood))["user_concentration"]
    assert not bad.passed and bad.observed == pytest.approx(0.75)
    assert "u-bot holds 150 of 200" in bad.detail and f"day {DAY2}" in bad.detail
    assert _gates(_warehouse(_users(200) + _users(200, DAY2)))["user_concentration"].passed


def test_user_concentration_leaves_out_annotators_and_the_importers_no_user_placeholder():
    # an HH-RLHF or UltraFeedback import names no user (`import:<format>`); annotators have their own gate
    imported = [(DAY2, "import:hh-rlhf", None, "annotator", None)] * 300 + [(DAY2, "import:x", None, None, None)] * 300
    one_annotator = [(DAY2, "ann-1", "ann-1", "annotator", False)] * 30 + [(DAY2, "ai-1", "ai-1", "ai", None)] * 300
    gate = _gates(_warehouse(_users(200) + imported + one_annotator))["user_concentration"]
    assert gate.passed and gate.n == 200


def test_annotator_concentration_counts_annotator_labels_only():
    one = [(DAY2, f"u-{i}", "ann-solo", "annotator", False) for i in range(100)]
    thumbs = [(DAY2, f"t-{i}", f"t-{i}", "end_user", None) for i in range(400)]  # end users are not annotators
    # a day one annotator fills, in a project of several annotators, blocks
    bad = _gates(_warehouse(_spread(200) + one + thumbs))["annotator_concentration"]
    assert not bad.passed and bad.observed == 1.0 and "ann-solo" in bad.detail and bad.n == 100
    # a project one annotator labels alone (Label Studio's RLHF tutorial export) is not gated
    alone = _gates(_warehouse(one))["annotator_concentration"]
    assert alone.passed and alone.n == 0
    assert _gates(_warehouse(_spread(200) + _spread(100, DAY2) + thumbs))["annotator_concentration"].passed
    few = _gates(_warehouse(_spread(200) + one[:5]))["annotator_concentration"]
    assert few.passed and few.breach_without_evidence


def test_position_bias_blocks_an_annotator_who_follows_display_position_either_way():
    fair = [(DAY1, f"ann-{a}", i % 2 == 0) for a in range(5) for i in range(60)]
    for always_first in (True, False):
        stamp = [(DAY2, "ann-stamp", always_first)] * 60
        bad = _gates(_warehouse(_spread(10), fair + stamp))["annotator_position_bias"]
        assert not bad.passed and bad.observed == 1.0 and "ann-stamp" in bad.detail
        assert ("first" if always_first else "second") in bad.detail
    assert _gates(_warehouse(_spread(10), fair))["annotator_position_bias"].passed
    # fewer labels than annotator_position_min_labels are not judged at all
    short = _gates(_warehouse(_spread(10), fair + [(DAY2, "ann-new", True)] * 19))["annotator_position_bias"]
    assert short.passed and "ann-new" not in short.detail
    # a bias spread over days is caught on the whole candidate
    spread = [(d, "ann-slow", True) for d in (DAY1, DAY2) for _ in range(15)]
    whole = _gates(_warehouse(_spread(10), fair + spread), annotator_position_min_labels=30)["annotator_position_bias"]
    assert not whole.passed and "whole candidate annotator ann-slow" in whole.detail


def test_thresholds_come_from_the_gates_config():
    con = _warehouse(_spread(200) + _spread(200, DAY2, saw=True))
    assert _gates(con, saw_draft_share_max=1.0)["saw_draft_share"].passed
    assert not _gates(con, saw_draft_share_max=0.5)["saw_draft_share"].passed


def test_a_warehouse_without_label_tables_has_nothing_to_gate():
    gates = _gates(duckdb.connect())
    assert all(g.passed and "nothing to gate" in g.detail for g in gates.values())
