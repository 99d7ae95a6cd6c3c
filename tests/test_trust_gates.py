"""Label-trust gates as plain functions on small DuckDB tables: style bias beyond length,
trainer readiness (token counts with a tokenizer built here, and the chars/4 estimate), the
policy-version shift and the human-judge agreement drop. Each trips on a batch built to trip
it and passes its clean twin."""

from __future__ import annotations

import json

import duckdb
import pytest

from pipeline.core.config import load_config
from pipeline.core.gates import z_value
from pipeline.final_preference_set import gates_trust, style_bias
from pipeline.pair_construction.trainer_readiness import settings, token_counts


@pytest.fixture
def thresholds():
    return dict(load_config()["gates"])


def _pairs_table(rows: list[tuple[str, str, str]]) -> duckdb.DuckDBPyConnection:
    """rows: (day, chosen, rejected) as published pairs."""
    con = duckdb.connect()
    con.execute("""create table fct_preference_pairs (replica_index int, partition_date date, chosen_content varchar,
                   rejected_content varchar, policy_version varchar)""")
    con.executemany("insert into fct_preference_pairs values (0, cast(? as date), ?, ?, 'v1')", rows)
    return con


# --- style bias ---------------------------------------------------------------------------

@pytest.mark.parametrize("family,text", [
    ("flattery", "Great question! The answer is 4."),
    ("flattery", "You're absolutely right, it is 4."),
    ("flattery", "Certainly! Here it is."),
    ("hedging", "I think it might be 4."),
    ("hedging", "It's possible that the answer is 4."),
    ("markdown", "## Answer\nIt is 4."),
    ("markdown", "Steps:\n- add\n- check"),
    ("markdown", "The answer is **4**."),
])
def test_each_documented_marker_is_found_and_plain_text_is_not(family, text):
    con = _pairs_table([("2026-11-01", text, "The answer is 4.")])
    counts = style_bias.candidate_counts(con)["whole candidate"]
    assert counts[family]["chosen_only"] == 1
    assert all(counts[f]["rejected_only"] == 0 and counts[f]["both"] == 0 for f in style_bias.FAMILIES)
    assert sum(counts[f]["chosen_only"] for f in style_bias.FAMILIES) == 1  # the others stay silent


def test_an_opener_counts_only_at_the_start():
    con = _pairs_table([("2026-11-01", "The answer is 4. Great question though.", "It is 4.")])
    assert style_bias.candidate_counts(con)["whole candidate"]["flattery"]["chosen_only"] == 0


def test_paired_gap_interval_contains_the_gap_and_narrows_with_n():
    z = 1.96
    gap, low, high = style_bias.paired_gap(10, 30, 10, 200, z)
    assert gap == pytest.approx(0.1) and low < gap < high
    _, low_big, high_big = style_bias.paired_gap(100, 300, 100, 2000, z)
    assert high_big - low_big < high - low
    assert style_bias.paired_gap(0, 0, 0, 0, z) == (0.0, -1.0, 1.0)


def test_flattering_chosen_responses_block_a_day_and_balanced_ones_pass(thresholds):
    z = z_value(thresholds)
    clean = [("2026-11-01", f"The answer is {i}.", f"It is {i}, I think.") for i in range(200)]
    clean += [("2026-11-01", f"Great question! It is {i}.", f"It is {i}.") for i in range(5)]
    gate = style_bias.style_bias_gate(style_bias.candidate_counts(_pairs_table(clean)), thresholds, z)
    assert gate.passed, gate.summary()

    flattering = clean + [("2026-11-02", f"Great question! It is {i}.", f"It is {i}.") for i in range(150)]
    gate = style_bias.style_bias_gate(style_bias.candidate_counts(_pairs_table(flattering)), thresholds, z)
    assert not gate.passed and "flattery" in gate.detail and "2026-11-02" in gate.detail, gate.summary()
    assert gate.low > thresholds["style_flattery_gap_max"]


def test_a_few_flattering_pairs_are_too_few_to_block(thresholds):
    def gate(n):
        rows = [("2026-11-01", f"Certainly! It is {i}.", f"It is {i}.") for i in range(n)]
        return style_bias.style_bias_gate(style_bias.candidate_counts(_pairs_table(rows)), thresholds,
                                          z_value(thresholds))
    few = gate(thresholds["mix_min_rows"] - 1)
    assert few.observed == 1.0 and few.passed and few.breach_without_evidence
    assert not gate(thresholds["mix_min_rows"]).passed


# --- trainer readiness --------------------------------------------------------------------

def _candidates(rows: list[tuple[str, str, str, str]]) -> duckdb.DuckDBPyConnection:
    """rows: (pair_id, prompt text, a, b) as candidate pairs."""
    con = duckdb.connect()
    con.execute("create table int_pairs__candidates (pair_id varchar, prompt_messages varchar, a_content varchar, "
                "b_content varchar, capped boolean)")
    con.executemany("insert into int_pairs__candidates values (?, ?, ?, ?, false)",
                    [(pid, json.dumps([{"role": "user", "content": p}]), a, b) for pid, p, a, b in rows])
    return con


ROWS = [
    ("ok", "What is two plus two?", "It is four.", "Four, I believe."),
    ("long", "word " * 400, "It is four.", "Four."),
    ("same", "What is two plus two?", "It is four and " + "more words " * 300 + "end A",
     "It is four and " + "more words " * 300 + "end B"),
]


def test_chars_per_token_estimate_ledgers_a_long_prompt_and_a_pair_identical_within_budget():
    table = token_counts(_candidates(ROWS), None, 100, None).to_pylist()
    reasons = {r["pair_id"]: r["reason"] for r in table}
    assert reasons == {"ok": None, "long": "prompt_exceeds_max_length", "same": "identical_within_max_length"}
    long_row = next(r for r in table if r["pair_id"] == "long")
    assert long_row["prompt_tokens"] == -(-len("user: " + "word " * 400) // 4)
    # With room for the whole responses, the pair that differs at its end is fine.
    assert {r["pair_id"]: r["reason"] for r in token_counts(_candidates(ROWS), None, 5000, None).to_pylist()}[
        "same"] is None


def test_a_tokenizer_json_counts_real_tokens(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers, trainers

    tok = Tokenizer(models.WordLevel(unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    tok.train_from_iterator([p + " " + a + " " + b for _, p, a, b in ROWS] + ["user :"],
                            trainers.WordLevelTrainer(special_tokens=["[UNK]"], show_progress=False))
    path = tmp_path / "tokenizer.json"
    tok.save(str(path))
    table = token_counts(_candidates(ROWS), str(path), 100, None).to_pylist()
    by_id = {r["pair_id"]: r for r in table}
    # "user: What is two plus two?" -> user, :, What, is, two, plus, two, ?
    assert by_id["ok"]["prompt_tokens"] == 8 and by_id["ok"]["a_tokens"] == 4
    assert by_id["ok"]["counted_by"] == "tokenizer:tokenizer.json"
    assert {k: v["reason"] for k, v in by_id.items()} == {
        "ok": None, "long": "prompt_exceeds_max_length", "same": "identical_within_max_length"}
    # max_prompt_length cuts the prompt first, as TRL does: the long prompt then leaves room.
    cut = {r["pair_id"]: r for r in token_counts(_candidates(ROWS), str(path), 100, 50).to_pylist()}
    assert cut["long"]["reason"] is None and cut["long"]["budget"] == 50


def test_a_bad_tokenizer_file_or_max_length_is_one_clear_error(tmp_path):
    bad = tmp_path / "tokenizer.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="not a readable tokenizer.json"):
        token_counts(_candidates(ROWS), str(bad), 100, None)
    with pytest.raises(ValueError, match="trainer.max_length must be a positive"):
        settings({"trainer": {"max_length": 0}})


def _labeled(day_reasons: dict[str, list[str | None]]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("create table int_pairs__labeled (partition_date date, reason varchar)")
    con.executemany("insert into int_pairs__labeled values (cast(? as date), ?)",
                    [(d, r) for d, reasons in day_reasons.items() for r in reasons])
    return con


def _unready_gate(con, thresholds):
    result = next(g for g in gates_trust.compute_trust_gates(_with_empty_marts(con), thresholds, None,
                                                             z_value(thresholds))
                  if g.name == "trainer_unready_share")
    return result


def _with_empty_marts(con):
    for ddl in ("create table if not exists fct_preference_pairs (replica_index int, partition_date date, "
                "chosen_content varchar, rejected_content varchar, policy_version varchar)",
                "create table if not exists fct_kto_rows (record_id varchar, policy_version varchar)",
                "create table if not exists fct_event_outcomes (record_id varchar, partition_date date)"):
        con.execute(ddl)
    return con


def test_a_day_of_unready_pairs_blocks_and_a_day_with_a_few_passes(thresholds):
    clean = {"2026-11-01": [None] * 300 + ["identical_within_max_length"] * 3}
    assert _unready_gate(_labeled(clean), thresholds).passed
    bad = {**clean, "2026-11-02": [None] * 100 + ["prompt_exceeds_max_length"] * 100}
    gate = _unready_gate(_labeled(bad), thresholds)
    assert not gate.passed and "2026-11-02" in gate.detail, gate.summary()
    # split votes and capped pairs never had a chance to publish: not in the denominator
    capped = {"2026-11-01": [None] * 10 + ["duplicate_near"] * 500 + ["annotators_disagree"] * 50}
    assert gates_trust.trainer_readiness(_labeled(capped))["all"]["pairs"] == 10


# --- policy version shift -----------------------------------------------------------------

def test_a_new_rubric_version_shifts_the_mix_and_blocks_unless_accepted(thresholds):
    previous = {"rubric-v1": 400}
    now = {"2026-11-01": {"rubric-v1": 300}, "2026-11-02": {"rubric-v2": 100},
           "all": {"rubric-v1": 300, "rubric-v2": 100}}
    gate = gates_trust.policy_version_shift(now, previous, thresholds["policy_version_shift_max"], 30)
    assert not gate.passed and gate.observed == 1.0 and "2026-11-02" in gate.detail, gate.summary()

    from pipeline.core.gates import apply_accepts

    apply_accepts([gate], [{"gate": "policy_version_shift", "reason": "rubric v2 rolled out"}])
    assert gate.passed and gate.status == "accepted"

    same = {"2026-11-01": {"rubric-v1": 300}, "all": {"rubric-v1": 300}}
    assert gates_trust.policy_version_shift(same, previous, thresholds["policy_version_shift_max"], 30).passed
    small = {"2026-11-02": {"rubric-v2": 5}, "all": {"rubric-v1": 300, "rubric-v2": 5}}
    assert gates_trust.policy_version_shift(small, previous, thresholds["policy_version_shift_max"], 30).passed
    assert gates_trust.policy_version_shift(now, None, thresholds["policy_version_shift_max"], 30).passed
    # a day of app feedback given under no rubric is not a rubric change
    thumbs = {"2026-11-02": {"unversioned": 300}, "all": {"rubric-v1": 300, "unversioned": 300}}
    assert gates_trust.policy_version_shift(thumbs, previous, thresholds["policy_version_shift_max"], 30).passed


# --- label agreement drop -----------------------------------------------------------------

def _judged(days: dict[str, tuple[int, int]]) -> duckdb.DuckDBPyConnection:
    """days: day -> (human pairs judged, of which the judge agreed with)."""
    con = duckdb.connect()
    con.execute("create table int_pairs__candidates (pair_id varchar, partition_date date, needs_judge boolean, "
                "label_source varchar)")
    con.execute("create table judge_verdicts (pair_id varchar, winner varchar)")
    for day, (n, agree) in days.items():
        for i in range(n):
            pid = f"{day}-{i}"
            con.execute("insert into int_pairs__candidates values (?, cast(? as date), false, 'human_pairwise')",
                        [pid, day])
            con.execute("insert into judge_verdicts values (?, ?)", [pid, "a" if i < agree else "b"])
    return con


def test_a_swapped_day_disagrees_with_the_judge_and_blocks(thresholds):
    z = z_value(thresholds)
    limit = thresholds["label_agreement_drop_max"]
    clean = gates_trust.human_judge_agreement(_judged({"2026-11-01": (200, 140), "2026-11-02": (200, 136),
                                                       "2026-11-03": (200, 130)}))
    assert clean["all"] == {"judged": 600, "agree": 406}
    assert gates_trust.label_agreement_drop(clean, None, limit, z).passed

    swapped = gates_trust.human_judge_agreement(_judged({"2026-11-01": (200, 140), "2026-11-02": (200, 136),
                                                         "2026-11-03": (200, 60)}))
    gate = gates_trust.label_agreement_drop(swapped, None, limit, z)
    assert not gate.passed and "2026-11-03" in gate.detail, gate.summary()
    assert gate.previous == pytest.approx(276 / 400)

    few = gates_trust.human_judge_agreement(_judged({"2026-11-01": (200, 140), "2026-11-02": (6, 1)}))
    assert gates_trust.label_agreement_drop(few, None, limit, z).passed  # 6 pairs are no evidence


def test_the_whole_candidate_is_compared_with_latest(thresholds):
    z = z_value(thresholds)
    one_day = gates_trust.human_judge_agreement(_judged({"2026-11-04": (300, 90)}))
    gate = gates_trust.label_agreement_drop(one_day, {"judged": 600, "agree": 420},
                                            thresholds["label_agreement_drop_max"], z)
    assert not gate.passed and "LATEST" in gate.detail
    assert gates_trust.label_agreement_drop(one_day, None, thresholds["label_agreement_drop_max"], z).passed
