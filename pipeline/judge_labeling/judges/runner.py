"""Judge pairs in both orders with a verdict cache, keep only consistent verdicts, and
measure the judge's biases.

A pair is shown as (a, b) and as (b, a); the second verdict is mapped back to a/b terms.
Only when both agree is there a winner — a judge that always picks the first position
yields no labels at all (`judge_inconsistent`). Every single-order verdict is cached by
(judge id, judge version, rubric version, prompt hash, first response hash, second response
hash): a rebuild does not call the judge again, and a new judge version re-judges.
"""

from __future__ import annotations

from typing import Any

import duckdb
import orjson
import pyarrow as pa

from pipeline.core.hashing import content_id, md5_hex
from pipeline.judge_labeling.judges.base import Judge, JudgeItem, Verdict

CACHE_TABLE = "judge_cache"
SWAP = {"a": "b", "b": "a", "tie": "tie", None: None}


def cache_key(judge: Judge, prompt_hash: str, first: str, second: str) -> str:
    return content_id([judge.judge_id, judge.judge_version, judge.rubric_version, prompt_hash,
                       md5_hex(first), md5_hex(second)])


def _cached(con: duckdb.DuckDBPyConnection | None, keys: list[str]) -> dict[str, Verdict]:
    if con is None or not keys:
        return {}
    con.execute(f"create table if not exists {CACHE_TABLE} (cache_key varchar primary key, winner varchar, "
                "confidence double, detail varchar)")
    rows = con.execute(f"select cache_key, winner, confidence, detail from {CACHE_TABLE} "
                       "where cache_key in (select unnest(?))", [keys]).fetchall()
    return {k: Verdict(w, c, d or "") for k, w, c, d in rows}


def _store(con: duckdb.DuckDBPyConnection | None, fresh: dict[str, Verdict]) -> None:
    # Errors are not cached: the next build asks again.
    rows = [(k, v.winner, v.confidence, v.detail) for k, v in fresh.items() if v.winner is not None]
    if con is None or not rows:
        return
    table = pa.table({"cache_key": [r[0] for r in rows], "winner": [r[1] for r in rows],
                      "confidence": [r[2] for r in rows], "detail": [r[3] for r in rows]})
    con.register("_fresh_verdicts", table)
    con.execute(f"insert or replace into {CACHE_TABLE} select * from _fresh_verdicts")
    con.unregister("_fresh_verdicts")


def judge_pairs(judge: Judge, pairs: pa.Table, con: duckdb.DuckDBPyConnection | None = None) -> tuple[pa.Table, dict[str, Any]]:
    """``pairs``: pair_id, prompt_messages (JSON), response_a, response_b, human_winner ('a' or null).
    The judge never sees human_winner."""
    rows = pairs.to_pylist()
    prompt_hashes = [md5_hex(r["prompt_messages"]) for r in rows]
    keys_ab = [cache_key(judge, h, r["response_a"], r["response_b"]) for h, r in zip(prompt_hashes, rows)]
    keys_ba = [cache_key(judge, h, r["response_b"], r["response_a"]) for h, r in zip(prompt_hashes, rows)]
    known = _cached(con, keys_ab + keys_ba)
    todo: dict[str, JudgeItem] = {}
    for r, kab, kba in zip(rows, keys_ab, keys_ba):
        messages = orjson.loads(r["prompt_messages"])
        if kab not in known:
            todo.setdefault(kab, JudgeItem(messages, r["response_a"], r["response_b"]))
        if kba not in known:
            todo.setdefault(kba, JudgeItem(messages, r["response_b"], r["response_a"]))
    fresh = dict(zip(todo, judge.compare_batch(list(todo.values())))) if todo else {}
    _store(con, fresh)
    verdicts = {**known, **fresh}

    out: dict[str, list] = {k: [] for k in ("pair_id", "judge_id", "judge_version", "rubric_version", "verdict_ab",
                                            "verdict_ba", "winner", "confidence", "reason")}
    first_picks = decided = judge_longer = human_longer = human_n = agree = human_judged = 0
    for r, kab, kba in zip(rows, keys_ab, keys_ba):
        ab, ba_raw = verdicts[kab], verdicts[kba]
        ba = SWAP[ba_raw.winner]
        winner, reason = None, None
        if ab.winner is None or ba_raw.winner is None:
            reason = "judge_error:" + (ab.detail if ab.winner is None else ba_raw.detail)[:80]
        elif ab.winner != ba:
            reason = "judge_inconsistent"
        else:
            winner = ab.winner
        for v in (ab.winner, ba_raw.winner):
            if v in ("a", "b"):
                decided += 1
                first_picks += v == "a"
        a, b = len(r["response_a"]), len(r["response_b"])
        longer = "a" if a > b else "b" if b > a else None
        if winner in ("a", "b") and longer:
            judge_longer += winner == longer
        if r["human_winner"] in ("a", "b"):
            human_n += 1
            human_longer += longer == r["human_winner"]
            if winner in ("a", "b"):
                human_judged += 1
                agree += winner == r["human_winner"]
        out["pair_id"].append(r["pair_id"])
        out["judge_id"].append(judge.judge_id)
        out["judge_version"].append(judge.judge_version)
        out["rubric_version"].append(judge.rubric_version)
        out["verdict_ab"].append(ab.winner)
        out["verdict_ba"].append(ba)
        out["winner"].append(winner)
        out["confidence"].append(min(ab.confidence, ba_raw.confidence) if winner else None)
        out["reason"].append(reason)

    n = len(rows)
    consistent = sum(1 for w in out["winner"] if w is not None)
    decided_pairs = sum(1 for w in out["winner"] if w in ("a", "b"))
    metrics = {
        "pairs_judged": n,
        "judge_calls": len(fresh),
        "cache_hits": len(keys_ab) + len(keys_ba) - len(todo),
        "position_consistency": consistent / n if n else None,
        "first_position_rate": first_picks / decided if decided else None,
        "judge_longer_rate": judge_longer / decided_pairs if decided_pairs else None,
        "human_longer_rate": human_longer / human_n if human_n else None,
        "judge_human_agreement": agree / human_judged if human_judged else None,
        "human_pairs_judged": human_judged,
    }
    reasons: dict[str, int] = {}
    for reason in out["reason"]:
        if reason:
            key = reason.split(":")[0]
            reasons[key] = reasons.get(key, 0) + 1
    metrics["reasons"] = reasons
    return pa.table(out), metrics
