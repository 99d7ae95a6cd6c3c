"""The judge labeling stage over the warehouse: the accuracy floor, audit flags and
self-preference flags, with the judge's metrics stored for the manifest."""

from __future__ import annotations

import duckdb
import orjson

from pipeline.lib.judge import Judge, Verdict
from pipeline.lib.judge_stage import label_pairs

PROMPT = orjson.dumps([{"role": "user", "content": "q"}]).decode()


def _candidates(con, n_human=40, n_unlabeled=10):
    con.execute("""create table int_pairs__candidates (pair_id varchar, prompt_messages varchar, a_content varchar,
                   b_content varchar, a_model varchar, b_model varchar, needs_judge boolean, label_source varchar,
                   split varchar, capped boolean)""")
    rows = [(f"h{i}", PROMPT, f"short {i}", f"a much longer answer {i}", "acme-chat-7b", "orca-3b", False,
             "human_pairwise", "test" if i % 4 == 0 else "train", False) for i in range(n_human)]
    # The last unlabeled pair is over its cluster's cap: it is never sent to the judge.
    rows += [(f"u{i}", PROMPT, f"x {i}", f"y but longer {i}", "acme-chat-7b", "orca-3b", True, "ai_judge", "train",
              i == n_unlabeled - 1) for i in range(n_unlabeled)]
    con.executemany("insert into int_pairs__candidates values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)


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
