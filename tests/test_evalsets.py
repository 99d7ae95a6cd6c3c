"""Eval sets read as the benchmarks publish them: each file's own shape, benchmark and item id
from the folder, file and line where the file has none, and one clear error for a line no rule
reads. The files under tests/data/evalsets are the first lines of the published files
(SOURCE.md); the whole files are checked too when ../shared/data/evalsets is on this machine."""

from __future__ import annotations

import gzip
import json
import shutil
from collections import Counter
from pathlib import Path

import pytest

from pipeline.dedup.decontam import EvalItem, load_evalsets, match_texts

PUBLISHED = Path(__file__).parent / "data" / "evalsets"
UPSTREAM = Path(__file__).resolve().parents[2] / "shared" / "data" / "evalsets"
SHIPPED = Path(__file__).resolve().parents[1] / "data" / "evalsets"


def _lines(path: Path) -> list[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def _by_key(items: list[EvalItem]) -> dict[tuple[str, str], str]:
    return {(i.benchmark, i.item_id): i.prompt for i in items}


def test_each_published_shape_reads_with_its_own_ids():
    items = _by_key(load_evalsets(PUBLISHED))
    mt = _lines(PUBLISHED / "mt-bench" / "question.jsonl")
    for q in mt:  # MT-Bench: one item a turn, the question's own id
        for k, turn in enumerate(q["turns"], 1):
            assert items[("mt-bench", f"{q['question_id']}-turn{k}")] == turn
    for q in _lines(PUBLISHED / "arena-hard" / "question-v0.1.jsonl"):  # {uid, prompt}
        assert items[("arena-hard", q["uid"])] == q["prompt"]
    for q in _lines(PUBLISHED / "arena-hard" / "question-v0.1-d989e6f.jsonl"):  # {question_id, turns[{content}]}
        assert items[("arena-hard", f"{q['question_id']}-turn1")] == q["turns"][0]["content"]
    for q in _lines(PUBLISHED / "humaneval" / "HumanEval.jsonl.gz"):
        assert items[("humaneval", q["task_id"])] == q["prompt"]
    for n, q in enumerate(_lines(PUBLISHED / "gsm8k" / "test.jsonl"), 1):  # no id: file stem and line
        assert items[("gsm8k", f"test:{n}")] == q["question"]
    for q in _lines(PUBLISHED / "self-instruct" / "user_oriented_instructions.jsonl"):
        assert items[("self-instruct", q["id"])] == q["instruction"]
        for k, inst in enumerate(q["instances"], 1):
            assert items[("self-instruct", f"{q['id']}-instance{k}")] == f"{q['instruction']}\n\n{inst['input']}"
    assert Counter(b for b, _ in items) == {"mt-bench": 16, "arena-hard": 8, "humaneval": 3, "gsm8k": 6,
                                            "self-instruct": 8}


def test_a_flat_file_is_named_by_its_stem_and_the_explicit_shape_still_reads(tmp_path):
    shutil.copy(PUBLISHED / "mt-bench" / "question.jsonl", tmp_path / "mt-bench.jsonl")
    (tmp_path / "mine.jsonl").write_text(
        json.dumps({"benchmark": "gsm8k", "item_id": "test-0", "prompt": "Janet's ducks"}) + "\n\n"
        + json.dumps({"prompt": "one prompt a line, nothing else"}) + "\n")
    items = _by_key(load_evalsets(tmp_path))
    assert items[("gsm8k", "test-0")] == "Janet's ducks"
    assert items[("mine", "mine:3")] == "one prompt a line, nothing else"  # line numbers count blank lines
    assert sum(b == "mt-bench" for b, _ in items) == 16


@pytest.mark.parametrize(("line", "says"), [
    ('{"text": "hello"}', r"no eval-set rule reads this line \(keys: text\)"),
    ('{"turns": [1, 2]}', r"no eval-set rule reads this line \(keys: turns\)"),
    ('{"prompt": ""}', r"no eval-set rule reads this line \(keys: prompt\)"),
    ('["a list"]', r"a line must be a JSON object, not list"),
    ('{"prompt": "cut', r"not JSON \("),
])
def test_a_line_no_rule_reads_is_one_error_naming_file_and_line(tmp_path, line, says):
    folder = tmp_path / "bench"
    folder.mkdir()
    (folder / "q.jsonl").write_text('{"prompt": "fine"}\n' + line + "\n")
    with pytest.raises(ValueError, match=r"^eval set .*bench/q\.jsonl:2: " + says) as info:
        load_evalsets(tmp_path)
    assert "\n" not in str(info.value)


def test_dot_folders_and_other_files_are_not_eval_sets(tmp_path):
    (tmp_path / ".import-x").mkdir()
    (tmp_path / ".import-x" / "half.jsonl").write_text("not json\n")
    (tmp_path / "README.md").write_text("# notes\n")
    (tmp_path / "LICENSE.jsonl.txt").write_text("x\n")
    assert load_evalsets(tmp_path) == []


def test_a_prompt_from_each_published_file_is_caught():
    items = load_evalsets(PUBLISHED)
    pasted = [f"quick question for you. {_lines(PUBLISHED / 'gsm8k' / 'test.jsonl')[2]['question']} thanks",
              "hi! " + _lines(PUBLISHED / "mt-bench" / "question.jsonl")[0]["turns"][0],
              _lines(PUBLISHED / "humaneval" / "HumanEval.jsonl.gz")[1]["prompt"] + "\n    # finish this",
              "please: " + _lines(PUBLISHED / "arena-hard" / "question-v0.1.jsonl")[3]["prompt"]]
    found = match_texts(pasted, items)
    assert [f[0] for f in found] == ["gsm8k", "mt-bench", "humaneval", "arena-hard"]
    assert found[0][1] == "test:3"


@pytest.mark.skipif(not UPSTREAM.is_dir(), reason="the whole upstream files are not on this machine")
def test_the_whole_published_files_read_as_the_shipped_prompts():
    """Dropped into evalsets/ as published, every benchmark gives the prompts prefline ships
    (Self-Instruct adds its instances' inputs)."""
    home = _by_key(load_evalsets(UPSTREAM))
    shipped = _by_key(load_evalsets(SHIPPED))
    counts = Counter(b for b, _ in home)
    # Self-Instruct: 252 instructions, and 208 of their 252 instances have an input
    assert counts == {"mt-bench": 160, "arena-hard": 500, "humaneval": 164, "gsm8k": 1319, "self-instruct": 252 + 208}
    for bench in ("mt-bench", "arena-hard", "humaneval", "gsm8k"):
        assert sorted(p for (b, _), p in home.items() if b == bench) == \
            sorted(p for (b, _), p in shipped.items() if b == bench)
    assert {k: v for k, v in home.items() if k[0] in ("mt-bench", "arena-hard", "humaneval")} == \
        {k: v for k, v in shipped.items() if k[0] in ("mt-bench", "arena-hard", "humaneval")}


def test_build_refuses_unreadable_evalsets_in_one_line_before_starting(tmp_path, monkeypatch, capsys):
    from pipeline.cli.main import main

    home = tmp_path / "home"
    (home / "landing" / "2024-05-07").mkdir(parents=True)
    (home / "evalsets" / "mine").mkdir(parents=True)
    (home / "evalsets" / "mine" / "q.jsonl").write_text('{"prompt": "fine"}\n{"text": "hello"}\n')
    monkeypatch.setenv("PREFLINE_HOME", str(home))
    monkeypatch.setenv("DAGSTER_HOME", str(home / "dagster"))
    assert main(["build", "--all"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("not started: eval set ") and "mine/q.jsonl:2: no eval-set rule" in err
    assert not (home / "dagster").exists() and not (home / "warehouse.duckdb").exists()
