"""Distribution gates as plain functions: regressions against the last published version,
train/test leakage, and the documented escape hatch for a known shift."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.config import load_config
from pipeline.lib.gates import compute_gates


def _warehouse(pairs: list[tuple], kto_clusters: list[tuple] = ()) -> duckdb.DuckDBPyConnection:
    """pairs: (label_source, category, split, cluster_id, chosen, rejected)."""
    con = duckdb.connect()
    con.execute("""create table fct_preference_pairs (pair_id varchar, replica_index int, label_source varchar,
                   category varchar, split varchar, cluster_id varchar, chosen_content varchar,
                   rejected_content varchar, partition_date date)""")
    con.executemany("insert into fct_preference_pairs values (?, 0, ?, ?, ?, ?, ?, ?, date '2026-11-01')",
                    [(f"p{i}", *p) for i, p in enumerate(pairs)])
    con.execute("create table fct_kto_rows (kto_id varchar, cluster_id varchar, split varchar)")
    if kto_clusters:
        con.executemany("insert into fct_kto_rows values (?, ?, ?)", [(f"k{i}", *k) for i, k in enumerate(kto_clusters)])
    con.execute("""create table fct_event_outcomes as select 'r' || i as record_id, date '2026-11-01' as partition_date,
                   'published' as place, null::varchar as reason from range(100) t(i)""")
    con.execute("create table normalized_events as select date '2026-11-01' as partition_date from range(100)")
    con.execute("create table normalization_rejections (partition_date date, reason varchar)")
    return con


def _pairs(n, source="human_pairwise", category="general", split="train"):
    return [(source, category, split, f"c{i}-{source}-{category}", "chosen text here", "rejected text") for i in range(n)]


def _gate(results, name):
    return next(r for r in results if r.name == name)


@pytest.fixture
def thresholds():
    return dict(load_config()["gates"])


def test_a_cluster_in_both_splits_is_leakage(thresholds):
    pairs = _pairs(50) + [("human_pairwise", "general", "test", "c0-human_pairwise-general", "x", "y")]
    gate = _gate(compute_gates(_warehouse(pairs), thresholds, None), "train_test_leakage")
    assert gate.observed == 1 and not gate.passed
    clean = _gate(compute_gates(_warehouse(_pairs(50)), thresholds, None), "train_test_leakage")
    assert clean.passed


def test_row_count_collapse_vs_previous_version(thresholds):
    previous = {"stats": {"pairs": {"train": 900, "test": 100}, "kto": {"desirable": 0}}}
    gate = _gate(compute_gates(_warehouse(_pairs(500)), thresholds, previous), "row_count_drop")
    assert gate.observed == pytest.approx(0.5) and not gate.passed and gate.previous == 1000
    assert _gate(compute_gates(_warehouse(_pairs(950)), thresholds, previous), "row_count_drop").passed


def test_label_source_and_category_mix_shift_vs_previous(thresholds):
    previous = {"stats": {"pairs": {"train": 100}, "kto": {},
                          "label_source_mix": {"human_pairwise": 100}, "category_mix": {"general": 100}}}
    shifted = _pairs(50) + _pairs(50, source="human_thumbs", category="coding")
    results = compute_gates(_warehouse(shifted), thresholds, previous)
    assert _gate(results, "label_source_shift").observed == pytest.approx(0.5)
    assert not _gate(results, "label_source_shift").passed
    assert not _gate(results, "category_shift").passed


def test_an_accepted_shift_passes_with_its_reason_recorded(thresholds):
    previous = {"stats": {"pairs": {"train": 100}, "kto": {}, "category_mix": {"general": 100},
                          "label_source_mix": {"human_pairwise": 100}}}
    thresholds["accept"] = [{"gate": "category_shift", "reason": "coding surface launched 2026-11-01"}]
    results = compute_gates(_warehouse(_pairs(50) + _pairs(50, category="coding")), thresholds, previous)
    gate = _gate(results, "category_shift")
    assert not gate.within and gate.passed and gate.accepted == "coding surface launched 2026-11-01"
    assert "ACCEPTED" in gate.summary()


def test_ai_label_share_over_the_cap_blocks(thresholds):
    results = compute_gates(_warehouse(_pairs(60) + _pairs(40, source="ai_judge")), thresholds, None)
    gate = _gate(results, "ai_label_share")
    assert gate.observed == pytest.approx(0.4) and not gate.passed


def test_judge_gates_bite_only_when_ai_labels_are_published(thresholds):
    con = _warehouse(_pairs(50) + _pairs(10, source="ai_judge"))
    con.execute("create table judge_metrics (metric varchar, value varchar)")
    con.execute("insert into judge_metrics values ('position_consistency', '0.4'), ('judge_human_agreement', '0.8')")
    results = compute_gates(con, thresholds, None)
    assert not _gate(results, "judge_position_consistency").passed
    assert _gate(results, "judge_human_agreement").passed
    human_only = compute_gates(_warehouse(_pairs(50)), thresholds, None)
    assert _gate(human_only, "judge_position_consistency").passed
