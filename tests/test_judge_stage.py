"""The judge labeling stage over the warehouse: the accuracy floor, audit flags and
self-preference flags, with the judge's metrics stored for the manifest."""

from __future__ import annotations

from datetime import date

import duckdb
import orjson

from pipeline.core.hashing import md5_hex
from pipeline.judge_labeling.judges import Judge, Verdict
from pipeline.judge_labeling.labeling import label_pairs

PROMPT = orjson.dumps([{"role": "user", "content": "q"}]).decode()


def _candidates(con, n_human=40, n_unlabeled=10):
    con.execute("""create table int_pairs__candidates (pair_id varchar, prompt_messages varchar, a_content varchar,
                   b_content varchar, a_model varchar, b_model varchar, needs_judge boolean, label_source varchar,
                   split varchar, capped boolean, partition_date date, superseded_by_rule varchar)""")
    rows = [(f"h{i}", PROMPT, f"short {i}", f"a much longer answer {i}", "acme-chat-7b", "orca-3b", False,
             "human_pairwise", "test" if i % 4 == 0 else "train", False, "2026-10-01") for i in range(n_human)]
    # The last unlabeled pair is over its cluster's cap: it is never sent to the judge.
    rows += [(f"u{i}", PROMPT, f"x {i}", f"y but longer {i}", "acme-chat-7b", "orca-3b", True, "ai_judge", "train",
              i == n_unlabeled - 1, "2026-10-01") for i in range(n_unlabeled)]
    if rows:
        con.executemany("insert into int_pairs__candidates values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)", rows)


class LongerJudge(Judge):
    judge_id, judge_version = "openai:acme-chat-judge", "1"

    def compare_batch(self, items):
        return [Verdict("a" if len(i.response_a) > len(i.response_b) else "b", 0.9) for i in items]


class Factory:
    def __init__(self, judge, accuracy=None):
        self.judge, self.accuracy = judge, accuracy

    def build(self, train_pairs):
        if self.accuracy is not None:
            self.judge.evaluate = lambda pairs: {"accuracy": self.accuracy, "brier": 0.25, "n": len(pairs)}
        return self.judge


def test_a_judge_below_the_accuracy_floor_labels_nothing():
    con = duckdb.connect()
    _candidates(con)
    metrics = label_pairs(con, Factory(LongerJudge(), accuracy=0.5), accuracy_floor=0.55)
    reasons = {r[0] for r in con.execute("select distinct reason from judge_verdicts").fetchall()}
    assert reasons == {"judge_below_accuracy_floor"}
    assert con.execute("select count(*) from judge_verdicts where winner is not null").fetchone()[0] == 0
    assert any("below the floor" in n for n in metrics["notes"])


def test_disagreeing_human_labels_and_self_preference_are_flagged_not_flipped():
    con = duckdb.connect()
    _candidates(con)
    metrics = label_pairs(con, Factory(LongerJudge()), accuracy_floor=0.55)
    flags = dict(con.execute("select pair_id, audit_flag from judge_verdicts").fetchall())
    # humans chose the short answer; the judge prefers the longer one, same family as a response
    assert flags["h0"] == "judge_disagrees,self_preference"
    assert flags["u0"] == "self_preference"
    assert "u9" not in flags, "a capped pair was judged"
    assert metrics["human_labels_flagged"] == 10 and metrics["judge_human_agreement"] == 0.0
    stored = dict(con.execute("select metric, value from judge_metrics").fetchall())
    assert stored["judge_id"] == "openai:acme-chat-judge"


def _reward_model_day(con, day: str, n_human: int, n_unlabeled: int) -> None:
    """Human pairs where the answer naming its steps wins, and unlabeled pairs, first seen on ``day``."""
    # Pair ids are content hashes: a new day's pairs enter the lowest-id sample.
    rows = [(md5_hex(f"{day}-h{i}"), PROMPT, f"first step {i}, then step {i + 1} ({day})", f"no idea {i} ({day})", "m1", "m2",
             False, "human_rating", "train", False, day) for i in range(n_human)]
    rows += [(md5_hex(f"{day}-u{i}"), PROMPT, f"step {i} first ({day})", f"dunno {i} ({day})", "m1", "m2", True, "ai_judge",
              "train", False, day) for i in range(n_unlabeled)]
    con.executemany("insert into int_pairs__candidates values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, null)", rows)


def test_between_refit_boundaries_a_new_day_reuses_the_judge_and_its_verdicts(tmp_path):
    from pipeline.judge_labeling.judges import RewardModelJudge

    class RewardModels:
        def build(self, train_pairs):
            return RewardModelJudge(n_features=2**10).fit(train_pairs, cache_dir=tmp_path)

    con = duckdb.connect()
    _candidates(con, n_human=0, n_unlabeled=0)
    # Monday 2026-10-05 is a refit boundary.
    assert date(2026, 10, 5).weekday() == 0
    for day in ("2026-10-03", "2026-10-04", "2026-10-05"):
        _reward_model_day(con, day, n_human=30, n_unlabeled=5)
    first = label_pairs(con, RewardModels(), accuracy_floor=0.0, max_train_pairs=40, refit_every_days=7)
    assert first["judge_trained_before"] == "2026-10-05"
    assert first["judge_calls"] == 2 * 15

    _reward_model_day(con, "2026-10-06", n_human=30, n_unlabeled=5)
    nightly = label_pairs(con, RewardModels(), accuracy_floor=0.0, max_train_pairs=40, refit_every_days=7)
    assert nightly["judge_version"] == first["judge_version"]
    assert nightly["judge_calls"] == 2 * 5, "only the new day's pairs are judged"

    # Every build whose human pairs changed refits when there is no cadence ...
    refit = label_pairs(con, RewardModels(), accuracy_floor=0.0, max_train_pairs=40, refit_every_days=0)
    assert refit["judge_trained_before"] == "latest" and refit["judge_version"] != first["judge_version"]
    # ... and so does a cadence whose sample history before the boundary cannot fill.
    small = label_pairs(con, RewardModels(), accuracy_floor=0.0, max_train_pairs=1000, refit_every_days=7)
    assert small["judge_trained_before"] == "latest" and small["human_train_pairs"] == 120


def test_the_established_judge_never_learns_from_the_newest_day(tmp_path):
    from pipeline.judge_labeling.judges import RewardModelJudge

    class RewardModels:
        def build(self, train_pairs):
            return RewardModelJudge(n_features=2**10).fit(train_pairs, cache_dir=tmp_path)

    con = duckdb.connect()
    _candidates(con, n_human=0, n_unlabeled=0)
    for day in ("2026-10-06", "2026-10-07", "2026-10-08"):
        _reward_model_day(con, day, n_human=30, n_unlabeled=5)
    first = label_pairs(con, RewardModels(), accuracy_floor=0.0, max_train_pairs=1000,
                        established_min_train_pairs=50)
    assert first["judge_trained_before"] == "2026-10-08" and first["human_train_pairs"] == 60

    # The newest day's labels swapped A/B upstream: the judge that audits them is the same one,
    # and its verdicts are served from the cache.
    con.execute("""update int_pairs__candidates set a_content = b_content, b_content = a_content
                   where partition_date = date '2026-10-08' and not needs_judge""")
    swapped = label_pairs(con, RewardModels(), accuracy_floor=0.0, max_train_pairs=1000,
                          established_min_train_pairs=50)
    assert swapped["judge_version"] == first["judge_version"]
    assert swapped["judge_calls"] == 0 and swapped["cache_hits"] == first["judge_calls"] == 2 * 15

    # Too little history before the newest day: the whole window trains the judge.
    short = label_pairs(con, RewardModels(), accuracy_floor=0.0, max_train_pairs=1000,
                        established_min_train_pairs=61)
    assert short["judge_trained_before"] == "latest" and short["human_train_pairs"] == 90
    assert short["judge_version"] != first["judge_version"]
