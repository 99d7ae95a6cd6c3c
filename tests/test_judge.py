"""Judge labeling: both orders, consistent verdicts only, a verdict cache, an HTTP judge that
never loses a pair, and a reward model that learns from human pairs."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import duckdb
import orjson
import pyarrow as pa
import pytest

from pipeline.importers.hh_rlhf import split_pair
from pipeline.judge_labeling.judges import (
    Judge,
    JudgeItem,
    OpenAICompatibleJudge,
    RewardModelJudge,
    Verdict,
    judge_pairs,
    parse_verdict,
)
from pipeline.synth.hh_rlhf import read_pairs

PROMPT = orjson.dumps([{"role": "user", "content": "Which is better?"}]).decode()


def _pairs(n: int, human: bool = False) -> pa.Table:
    return pa.table({
        "pair_id": [f"p{i}" for i in range(n)],
        "prompt_messages": [PROMPT] * n,
        "response_a": [f"short {i}" for i in range(n)],
        "response_b": [f"a much longer answer number {i}" for i in range(n)],
        "human_winner": ["a" if human else None] * n,
    })


class AlwaysFirst(Judge):
    judge_id, judge_version = "fake:first", "1"

    def compare_batch(self, items):
        return [Verdict("a", 1.0) for _ in items]


class PrefersLonger(Judge):
    judge_id, judge_version = "fake:longer", "1"

    def __init__(self):
        self.calls = 0

    def compare_batch(self, items):
        self.calls += len(items)
        return [Verdict("a" if len(i.response_a) > len(i.response_b) else "b", 0.9) for i in items]


def test_a_judge_that_always_picks_position_a_labels_nothing():
    verdicts, metrics = judge_pairs(AlwaysFirst(), _pairs(20))
    assert verdicts.column("winner").to_pylist() == [None] * 20
    assert set(verdicts.column("reason").to_pylist()) == {"judge_inconsistent"}
    assert metrics["position_consistency"] == 0.0
    assert metrics["first_position_rate"] == 1.0


def test_an_order_consistent_judge_gives_mirrored_verdicts():
    verdicts, metrics = judge_pairs(PrefersLonger(), _pairs(5))
    rows = verdicts.to_pylist()
    assert all(r["verdict_ab"] == r["verdict_ba"] == r["winner"] == "b" for r in rows)
    assert metrics["position_consistency"] == 1.0
    assert metrics["judge_longer_rate"] == 1.0


def test_verdicts_are_cached_and_a_new_judge_version_rejudges():
    con = duckdb.connect()
    judge = PrefersLonger()
    judge_pairs(judge, _pairs(10), con)
    assert judge.calls == 20  # both orders
    _, metrics = judge_pairs(judge, _pairs(10), con)
    assert judge.calls == 20 and metrics["cache_hits"] == 20
    judge.judge_version = "2"
    judge_pairs(judge, _pairs(10), con)
    assert judge.calls == 40


def test_agreement_with_humans_is_measured_blind():
    verdicts, metrics = judge_pairs(PrefersLonger(), _pairs(8, human=True))
    assert metrics["judge_human_agreement"] == 0.0  # humans chose the short answer every time
    assert metrics["human_longer_rate"] == 0.0


@pytest.mark.parametrize("text, expected", [
    ("[[A]]", "a"), ("[[b]]", "b"), ("[[TIE]]", "tie"), ("A", "a"), ("B. Because it is concise.", "b"),
    ('{"winner": "B"}', "b"), ("Response A is better.", "a"), ("Both are equally good: tie", "tie"),
    ("I cannot decide.", None), ("", None), ("[[A]] or maybe [[B]]", None),
])
def test_parser_tolerates_messy_replies(text, expected):
    assert parse_verdict(text) == expected


class _ChatServer:
    """A local OpenAI-compatible endpoint answering from a script of behaviours."""

    def __init__(self, script):
        self.script = list(script)
        self.requests = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests += 1
                kind = outer.script.pop(0) if outer.script else "ok"
                if kind == "429":
                    self.send_response(429)
                    self.send_header("Retry-After", "0.05")
                    self.end_headers()
                    return
                if kind == "sleep":
                    time.sleep(1.0)
                content = "[[B]]" if kind in ("ok", "sleep") else "I refuse to pick."
                body = json.dumps({"id": "cmpl-1", "object": "chat.completion", "model": "judge",
                                   "choices": [{"index": 0, "finish_reason": "stop",
                                                "message": {"role": "assistant", "content": content}}],
                                   "usage": {"prompt_tokens": 10, "completion_tokens": 3, "total_tokens": 13}}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


ITEM = JudgeItem([{"role": "user", "content": "hi"}], "one", "two")


def test_http_judge_retries_a_429_then_answers():
    with _ChatServer(["429", "ok"]) as server:
        judge = OpenAICompatibleJudge(server.url, "judge", concurrency=1, backoff_s=0.01, timeout_s=2)
        assert judge.compare_batch([ITEM])[0].winner == "b"
        assert server.requests == 2


def test_http_judge_timeout_and_unparsable_replies_keep_the_pair():
    with _ChatServer(["sleep", "sleep", "garbage"]) as server:
        judge = OpenAICompatibleJudge(server.url, "judge", concurrency=1, max_retries=1, backoff_s=0.01, timeout_s=0.3)
        timed_out, unparsable = judge.compare_batch([ITEM, ITEM])
    assert timed_out.winner is None and timed_out.detail.startswith("judge_unavailable")
    assert unparsable.winner is None and unparsable.detail.startswith("judge_unparsable")
    pairs = pa.table({"pair_id": ["p1"], "prompt_messages": [PROMPT], "response_a": ["x"], "response_b": ["y"],
                      "human_winner": [None]})
    with _ChatServer(["garbage"] * 4) as server:
        verdicts, metrics = judge_pairs(OpenAICompatibleJudge(server.url, "judge", max_retries=0), pairs)
    assert verdicts.num_rows == 1 and verdicts.column("reason")[0].as_py().startswith("judge_error")
    assert metrics["reasons"] == {"judge_error": 1}


def _hh_pairs(limit: int):
    out = []
    for record in read_pairs():
        try:
            out.append(split_pair(record["chosen"], record["rejected"]))
        except ValueError:
            continue
        if len(out) == limit:
            break
    return [p for p in out if p[1] and p[2]]


def test_reward_model_is_deterministic_and_learns_its_training_pairs():
    pairs = _hh_pairs(300)
    a, b = RewardModelJudge().fit(pairs), RewardModelJudge().fit(list(reversed(pairs)))
    assert a.judge_version == b.judge_version
    assert a.evaluate(pairs)["accuracy"] > 0.7
    items = [JudgeItem(p[0], p[1], p[2]) for p in pairs[:20]]
    swapped = [JudgeItem(p[0], p[2], p[1]) for p in pairs[:20]]
    mirrored = {"a": "b", "b": "a", "tie": "tie"}
    assert [v.winner for v in a.compare_batch(items)] == [mirrored[v.winner] for v in a.compare_batch(swapped)]


def test_reward_model_refuses_too_few_pairs():
    with pytest.raises(ValueError):
        RewardModelJudge().fit(_hh_pairs(5))


def test_a_reward_model_fit_on_the_same_pairs_is_loaded_not_retrained(tmp_path):
    pairs = _hh_pairs(200)
    first = RewardModelJudge().fit(pairs, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("reward-model-*.npz"))) == 1
    again = RewardModelJudge().fit(pairs, cache_dir=tmp_path)
    items = [JudgeItem(p[0], p[1], p[2]) for p in pairs[:30]]
    assert again.judge_version == first.judge_version
    assert [v.winner for v in again.compare_batch(items)] == [v.winner for v in first.compare_batch(items)]
