"""Eval-set decontamination: benchmark prompts never reach a training set, embedded or not."""

from __future__ import annotations

import gzip
import hashlib
import json
import random
import re
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipeline.dedup import decontam
from pipeline.dedup.decontam import DecontamConfig, EvalItem, detect_contamination, load_evalsets, match_texts
from pipeline.synth.sample import START, benchmark_leaks, copy_evalsets

GSM = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
       "for her friends every day with four. She sells the remainder at the farmers' market daily for $2 "
       "per fresh duck egg. How much in dollars does she make every day at the farmers' market?")
SHORT = "Describe five key principles in evolutionary biology briefly."  # 8 words, under 13
ITEMS = [EvalItem("gsm8k", "test-0", GSM), EvalItem("mt-bench", "101-turn1", SHORT),
         EvalItem("tiny", "t-1", "What is love, baby?")]  # 4 words: under min_short_words
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "evalsets"
SHIPPED_COUNTS = {"arena-hard": 500, "gsm8k": 1319, "humaneval": 164, "mt-bench": 160, "self-instruct": 252}


def test_a_benchmark_prompt_embedded_in_a_longer_prompt_is_caught():
    whole, part = match_texts([
        f"hey can you help me with my homework: {GSM.upper()} thanks a lot!!",
        # 13 consecutive words of the question, nothing more
        "so, she eats three for breakfast every morning and bakes muffins for her friends every day, right?",
    ], ITEMS)
    assert whole[:2] == ("gsm8k", "test-0") and whole[2].startswith("Janet's ducks lay 16 eggs")
    assert len(whole[2]) <= decontam.SNIPPET_CHARS and whole[2].endswith("…")
    # the snippet is the overlapping benchmark text, in the benchmark's own spelling
    assert part == ("gsm8k", "test-0", "She eats three for breakfast every morning and bakes muffins for her friends every day")


def test_a_short_benchmark_question_is_caught_whole_but_not_in_part():
    assert match_texts([
        "For my class: describe five key principles in evolutionary biology, briefly!",
        "Describe five key principles in evolutionary biology.",  # 7 of its 8 words
        "What is love, baby? I keep wondering.",  # a whole benchmark prompt under min_short_words
        "She sells the remainder at the farmers' market daily, right?",  # 9 shared words, under 13
        "Ducks lay eggs every day; how much does she make at the market?",  # a few shared words
        "",
    ], ITEMS) == [("mt-bench", "101-turn1", SHORT), None, None, None, None, None]
    # min_short_words is a setting
    assert match_texts(["What is love, baby?"], ITEMS, DecontamConfig(min_short_words=4))[0][:2] == ("tiny", "t-1")


def test_the_smallest_benchmark_item_wins_and_order_does_not_matter():
    items = [EvalItem("zeta", "z-1", GSM), EvalItem("alpha", "b-2", GSM), EvalItem("alpha", "b-10", SHORT)]
    texts = [f"{SHORT} Also: {GSM}", f"Only this: {GSM}", "nothing here at all"]
    first = match_texts(texts, items)
    assert [r and r[:2] for r in first] == [("alpha", "b-10"), ("alpha", "b-2"), None]
    assert match_texts(texts[::-1], items[::-1]) == first[::-1]


def test_windows_never_span_two_prompts():
    words = re.findall(r"[^\W_]+", GSM)
    # one prompt ends with the first 7 words of a 13-gram, the next starts with the other 6
    texts = [f"intro {' '.join(words[:7])}", f"{' '.join(words[7:13])} outro"]
    assert match_texts(texts, ITEMS) == [None, None]


def _brute_force(texts: list[str], items: list[EvalItem], config: DecontamConfig) -> list[tuple[str, str] | None]:
    def words(text: str) -> list[str]:
        return re.findall(r"[^\W_]+", text.lower())

    def grams(w: list[str], n: int) -> set[tuple[str, ...]]:
        return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}

    out = []
    for text in texts:
        tw = words(text)
        hits = []
        for item in items:
            iw = words(item.prompt)
            if len(iw) >= config.ngram and grams(iw, config.ngram) & grams(tw, config.ngram):
                hits.append((item.benchmark, item.item_id))
            elif config.min_short_words <= len(iw) < config.ngram and tuple(iw) in grams(tw, len(iw)):
                hits.append((item.benchmark, item.item_id))
        out.append(min(hits) if hits else None)
    return out


def test_matches_equal_a_brute_force_reference_across_batch_and_chunk_boundaries(monkeypatch):
    rng = random.Random(3)
    vocab = [f"w{i}" for i in range(12)]  # a tiny vocabulary: many near misses
    items = [EvalItem("b", f"i{k}", " ".join(rng.choices(vocab, k=rng.choice([4, 6, 7, 9, 12, 13, 20]))))
             for k in range(30)]
    texts = []
    for _ in range(400):
        text = rng.choices(vocab, k=rng.randint(0, 40))
        if rng.random() < 0.3:  # paste a piece of an item, whole or cut
            piece = rng.choice(items).prompt.split()
            cut = rng.randint(0, 3)
            text[rng.randint(0, len(text)):0] = piece[cut:] if rng.random() < 0.5 else piece
        texts.append(" ".join(text))
    monkeypatch.setattr(decontam, "CHUNK_WORDS", 64)
    monkeypatch.setattr(decontam, "BATCH_PROMPTS", 37)
    config = DecontamConfig()
    got = [r and r[:2] for r in match_texts(texts, items, config)]
    assert got == _brute_force(texts, items, config)
    assert sum(r is not None for r in got) > 50


def _warehouse(texts: list[str]) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.register("_rows", pa.table({"prompt_hash": [hashlib.md5(t.encode()).hexdigest() for t in texts],
                                    "prompt_text": texts}))
    con.execute("create or replace table normalized_events as select * from _rows")
    con.unregister("_rows")
    return con


def _evalsets(folder: Path, items=ITEMS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = "".join(json.dumps({"benchmark": i.benchmark, "item_id": i.item_id, "prompt": i.prompt}) + "\n" for i in items)
    (folder / "bench.jsonl.gz").write_bytes(gzip.compress(lines.encode(), mtime=0))
    return folder


def test_detection_names_the_benchmark_and_checks_each_prompt_once(tmp_path):
    folder = _evalsets(tmp_path / "evalsets")
    texts = [f"Please solve: {GSM}", "Write a haiku about autumn leaves falling in the quiet park at dusk.",
             f"Please solve: {GSM}"]  # the same prompt twice: one check
    con = _warehouse(texts)
    stats = detect_contamination(con, folder)
    assert stats == {"eval_items": 3, "prompts": 2, "checked": 2, "contaminated_prompts": 1,
                     "contaminated_share": 0.5, "per_benchmark": {"gsm8k": 1}}
    # the detail the dedup model writes for a dropped event
    detail = con.sql("select benchmark || ':' || item_id || ' matched \"' || matched_text || '\"' "
                     "from prompt_contamination").fetchall()[0][0]
    assert detail.startswith('gsm8k:test-0 matched "Janet\'s ducks lay 16 eggs per day.')
    before = con.sql("select * from prompt_contamination").fetchall()
    again = detect_contamination(con, folder)
    assert again["checked"] == 0 and con.sql("select * from prompt_contamination").fetchall() == before
    # a new prompt: only it is checked
    con.execute("insert into normalized_events values ('new', ?)", [f"{SHORT} Thanks!"])
    grown = detect_contamination(con, folder)
    assert grown["checked"] == 1 and grown["per_benchmark"] == {"gsm8k": 1, "mt-bench": 1}
    # changed eval sets or settings: everything is checked again
    _evalsets(folder, ITEMS[1:])
    changed = detect_contamination(con, folder)
    assert changed["checked"] == 3 and changed["per_benchmark"] == {"mt-bench": 1}
    stricter = detect_contamination(con, folder, {"min_short_words": 9})
    assert stricter["checked"] == 3 and stricter["contaminated_prompts"] == 0


def test_prompts_gone_from_the_window_leave_prompt_contamination(tmp_path):
    folder = _evalsets(tmp_path / "evalsets")
    con = _warehouse([f"Please solve: {GSM}", "hello there"])
    assert detect_contamination(con, folder)["contaminated_prompts"] == 1
    con.execute("delete from normalized_events where prompt_text like 'Please solve%'")
    stats = detect_contamination(con, folder)
    assert stats["contaminated_prompts"] == 0 and stats["checked"] == 0
    assert con.sql("select count(*) from prompt_contamination").fetchall() == [(0,)]


def test_disabled_decontamination_drops_nothing(tmp_path):
    con = _warehouse([GSM])
    stats = detect_contamination(con, _evalsets(tmp_path / "e"), {"enabled": False})
    assert stats["contaminated_prompts"] == 0 and stats["eval_items"] == 0


def test_no_eval_sets_drop_nothing(tmp_path):
    stats = detect_contamination(_warehouse([GSM]), tmp_path / "absent")
    assert stats["eval_items"] == 0 and stats["contaminated_prompts"] == 0 and stats["checked"] == 1


def test_a_malformed_evalset_line_is_a_clear_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.jsonl").write_text('{"benchmark": "b", "text": "p"}\n')
    with pytest.raises(ValueError, match=r"x.jsonl:1: no eval-set rule reads this line \(keys: benchmark, text\)"):
        load_evalsets(folder)


def test_the_shipped_evalsets_load_with_their_licences():
    items = load_evalsets(SHIPPED)
    counts: dict[str, int] = {}
    for item in items:
        counts[item.benchmark] = counts.get(item.benchmark, 0) + 1
    assert counts == SHIPPED_COUNTS
    assert len({(i.benchmark, i.item_id) for i in items}) == len(items)
    assert all(i.prompt.strip() for i in items)
    assert all((SHIPPED / f"{b}.LICENSE").exists() for b in counts)
    assert sum(p.stat().st_size for p in SHIPPED.iterdir()) < 2_000_000
    readme = (SHIPPED / "README.md").read_text()
    assert all(f"| {n:,} |" in readme for n in counts.values())


def test_every_benchmark_leak_of_the_sample_is_caught():
    leaks = [e for events in benchmark_leaks(3, START).values() for e in events]
    texts = [e["prompt"]["messages"][0]["content"] for e in leaks]
    found = match_texts(texts, load_evalsets(SHIPPED))
    assert len(texts) == 27 and all(found)
    assert {f[0] for f in found} == set(SHIPPED_COUNTS)
    assert benchmark_leaks(3, START) == benchmark_leaks(3, START)


def test_the_sample_installs_the_shipped_evalsets_once(tmp_path):
    target = tmp_path / "evalsets"
    assert copy_evalsets(target) == [f"{b}.jsonl.gz" for b in sorted(SHIPPED_COUNTS)]
    (target / "gsm8k.jsonl.gz").write_bytes(b"")  # a deployment's own edit
    assert copy_evalsets(target) == []
    assert (target / "gsm8k.jsonl.gz").read_bytes() == b""
    assert {i.benchmark for i in load_evalsets(target)} == set(SHIPPED_COUNTS) - {"gsm8k"}
