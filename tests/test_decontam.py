"""Eval-set decontamination: benchmark prompts never reach a training set, embedded or not."""

from __future__ import annotations

import gzip
import hashlib
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from pipeline.lib.decontam import DecontamConfig, EvalItem, detect_contamination, load_evalsets, match_prompts

GSM = ("Janet's ducks lay 16 eggs per day. She eats three for breakfast every morning and bakes muffins "
       "for her friends every day with four. She sells the remainder at the farmers' market daily for $2 "
       "per fresh duck egg. How much in dollars does she make every day at the farmers' market?")
SHORT = "Describe five key principles in evolutionary biology briefly."  # 8 words, under 13
ITEMS = [EvalItem("gsm8k", "test-0", GSM), EvalItem("mt-bench", "101-turn1", SHORT),
         EvalItem("tiny", "t-1", "What is love?")]
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "evalsets"


def test_a_benchmark_prompt_embedded_in_a_longer_prompt_is_caught():
    prompts = [
        f"hey can you help me with my homework: {GSM.upper()} thanks a lot!!",
        # 13 consecutive words of the question, nothing more
        "so, she eats three for breakfast every morning and bakes muffins for her friends every day, right?",
    ]
    matched = match_prompts(prompts, ITEMS, DecontamConfig())
    assert [ITEMS[i].item_id for i in matched] == ["test-0", "test-0"]


def test_a_short_benchmark_question_is_caught_whole_but_not_in_part():
    prompts = [
        "For my class: describe five key principles in evolutionary biology, briefly!",
        "Describe five key principles in evolutionary biology.",  # 7 of its 8 words
        "What is love?",  # a benchmark item under min_short_words: too common to match on
        "She sells the remainder at the farmers' market daily.",  # 9 shared words, under 13
    ]
    matched = match_prompts(prompts, ITEMS, DecontamConfig())
    assert matched.tolist()[0] == 1 and matched.tolist()[1:] == [-1, -1, -1]


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
    texts = [f"Please solve: {GSM}", "Write a haiku about autumn leaves falling in the quiet park at dusk."]
    con = _warehouse(texts)
    stats = detect_contamination(con, folder)
    rows = con.execute("select benchmark, item_id, matched_text from prompt_contamination").fetchall()
    assert rows == [("gsm8k", "test-0", GSM[:200])]
    assert stats["contaminated_prompts"] == 1 and stats["contaminated_share"] == 0.5 and stats["checked"] == 2
    again = detect_contamination(con, folder)
    assert again["checked"] == 0 and again["contaminated_prompts"] == 1
    # New eval sets: everything is checked again.
    _evalsets(folder, ITEMS[1:])
    changed = detect_contamination(con, folder)
    assert changed["checked"] == 2 and changed["contaminated_prompts"] == 0


def test_disabled_decontamination_drops_nothing(tmp_path):
    con = _warehouse([GSM])
    stats = detect_contamination(con, _evalsets(tmp_path / "e"), {"enabled": False})
    assert stats["contaminated_prompts"] == 0 and stats["eval_items"] == 0


def test_a_malformed_evalset_line_is_a_clear_error(tmp_path):
    folder = tmp_path / "bad"
    folder.mkdir()
    (folder / "x.jsonl").write_text('{"benchmark": "b", "prompt": "p"}\n')
    with pytest.raises(ValueError, match=r"x.jsonl:1: .*item_id"):
        load_evalsets(folder)


def test_the_shipped_evalsets_load():
    items = load_evalsets(SHIPPED)
    counts = {}
    for item in items:
        counts[item.benchmark] = counts.get(item.benchmark, 0) + 1
    assert counts == {"arena-hard": 500, "gsm8k": 1319, "humaneval": 164, "mt-bench": 160, "self-instruct": 252}
    assert all((SHIPPED / f"{b}.LICENSE").exists() for b in counts)
