"""Distribution gates as plain functions: regressions against the last published version,
train/test leakage, and the documented escape hatch for a known shift."""

from __future__ import annotations

import duckdb
import pytest

from pipeline.core.config import load_config
from pipeline.final_preference_set.gates import compute_gates


def _warehouse(pairs: list[tuple], kto_clusters: list[tuple] = ()) -> duckdb.DuckDBPyConnection:
    """pairs: (label_source, category, split, cluster_id, chosen, rejected)."""
    con = duckdb.connect()
    con.execute("""create table fct_preference_pairs (pair_id varchar, replica_index int, label_source varchar,
                   category varchar, split varchar, cluster_id varchar, chosen_content varchar,
                   rejected_content varchar, partition_date date, policy_version varchar default 'v1')""")
    if pairs:
        con.executemany("insert into fct_preference_pairs by position "
                        "select ?, 0, ?, ?, ?, ?, ?, ?, date '2026-11-01', 'v1'",
                        [(f"p{i}", *p) for i, p in enumerate(pairs)])
    con.execute("create table fct_kto_rows (kto_id varchar, cluster_id varchar, split varchar, "
                "record_id varchar, policy_version varchar default 'v1')")
    if kto_clusters:
        con.executemany("insert into fct_kto_rows (kto_id, cluster_id, split) values (?, ?, ?)",
                        [(f"k{i}", *k) for i, k in enumerate(kto_clusters)])
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


def test_the_wilson_interval_of_one_pair_is_wide_and_of_500_narrow():
    from pipeline.core.gates import wilson

    assert wilson(1, 1, 1.96) == pytest.approx((0.2065, 1.0), abs=1e-4)
    low, high = wilson(475, 500, 1.96)
    assert 0.92 < low < 0.95 < high < 0.97
    assert wilson(0, 0, 1.96) == (0.0, 1.0)


def _length_biased(n):
    return [("human_thumbs", "general", "train", f"c{i}", "a long and thorough answer " * 8, "short.")
            for i in range(n)]


def test_one_length_biased_pair_is_not_evidence_but_500_are(thresholds):
    one = compute_gates(_warehouse(_length_biased(1)), thresholds, None)
    for name in ("chosen_longer_share", "length_ratio"):
        gate = _gate(one, name)
        assert gate.passed and gate.breach_without_evidence, gate.summary()
        assert "too few rows to block" in gate.summary()
    many = compute_gates(_warehouse(_length_biased(500)), thresholds, None)
    for name in ("chosen_longer_share", "length_ratio"):
        gate = _gate(many, name)
        assert not gate.passed and "BLOCKED" in gate.summary(), gate.summary()


def test_a_slightly_high_share_on_a_small_day_does_not_block_but_on_a_big_one_does(thresholds):
    from pipeline.capture.checks import quarantine_share_gate

    assert quarantine_share_gate({"2026-11-01": (3, 20)}, thresholds).passed  # 15% of 20 records
    gate = quarantine_share_gate({"2026-11-01": (30, 2000), "2026-11-02": (300, 2000)}, thresholds)
    assert not gate.passed and "worst day 2026-11-02" in gate.summary()


def test_every_gate_honours_accept_the_same_way_including_quarantine(thresholds):
    from pipeline.capture.checks import quarantine_share_gate

    thresholds["accept"] = [{"gate": "quarantine_share", "reason": "vendor feed replayed, ticket DATA-9"},
                            {"gate": "gate_ai_label_share", "reason": "judge pilot"}]
    gate = quarantine_share_gate({"2026-11-01": (300, 1000)}, thresholds)
    assert gate.passed and gate.status == "accepted" and gate.metadata()["accepted_reason"].startswith("vendor")
    results = compute_gates(_warehouse(_pairs(60) + _pairs(40, source="ai_judge")), thresholds, None)
    ai = _gate(results, "ai_label_share")
    assert ai.status == "accepted" and "ACCEPTED: judge pilot" in ai.summary()


def test_an_empty_candidate_blocks(thresholds):
    gate = _gate(compute_gates(_warehouse([]), thresholds, None), "published_rows")
    assert gate.observed == 0 and not gate.passed and "nothing would be published" in gate.summary()
    thresholds["accept"] = []
    assert _gate(compute_gates(_warehouse(_pairs(1)), thresholds, None), "published_rows").passed
