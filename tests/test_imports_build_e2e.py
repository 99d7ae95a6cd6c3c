"""Imports built end to end with `prefline build --all` and no config edits: an export spanning
several months lands in many days and publishes rows from every month; a published prefline
version and an OpenAI preference file come back through their importers with chosen the same
side; MT-Bench's question.jsonl dropped into evalsets/ as published drops the prompts it contains
as eval_contamination."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from tests.homes import pointed_at

pytestmark = pytest.mark.slow

DATA = Path(__file__).parent / "data"
VERSION = DATA / "importers" / "trl" / "prefline-version"
ORCA = DATA / "importers" / "openai-preference" / "orca_dpo_pairs-validation.jsonl"
MT_BENCH = DATA / "evalsets" / "mt-bench" / "question.jsonl"
# Battles over three calendar months, on days that make two stretches of consecutive days (each
# stretch is one Dagster run: the test stays fast); the other imports land on the last day.
BATTLE_DAYS = ["2023-03-31", "2023-04-01", "2023-03-31", "2023-04-01", "2023-05-01", "2023-05-01", "2023-05-01",
               "2023-05-01"]
OTHER_DAY = "2023-05-02"


def _battles_over_months(path: Path) -> Path:
    """The arena importer's sample with each battle's Unix `tstamp` moved to its BATTLE_DAYS day."""
    from datetime import UTC, datetime

    rows = [orjson.loads(line) for line in (DATA / "importers" / "arena.jsonl").read_bytes().splitlines()
            if line.startswith(b"{")]
    for row, day in zip(rows, BATTLE_DAYS, strict=True):
        row["tstamp"] = datetime.fromisoformat(f"{day}T15:20:00+00:00").astimezone(UTC).timestamp()
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    return path


def _cli(*argv: str) -> int:
    from pipeline.cli.main import main

    return main(list(argv))


def _leaks(path: Path) -> tuple[Path, list[str]]:
    """TRL rows whose prompt pastes an MT-Bench question into a longer request."""
    questions = [json.loads(line)["turns"][0] for line in MT_BENCH.read_text().splitlines()[:2]]
    rows = [{"prompt": f"Could you help me with this one, it's for work. {q} Thanks in advance!",
             "chosen": "Sure. Here is a careful answer, point by point.", "rejected": "No."} for q in questions]
    path.write_bytes(b"".join(orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for r in rows))
    return path, [r["prompt"] for r in rows]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("imports")
    with pointed_at(work / "home") as home:
        (home / "evalsets" / "mt-bench").mkdir(parents=True)
        shutil.copy(MT_BENCH, home / "evalsets" / "mt-bench" / "question.jsonl")
        months = _battles_over_months(work / "arena-months.jsonl")
        leaks, leaked_prompts = _leaks(work / "leaks.jsonl")
        assert _cli("import", "arena", str(months), "--consent-training") == 0
        assert _cli("import", "trl", str(VERSION / "train.parquet"), "--date", OTHER_DAY) == 0
        assert _cli("import", "trl", str(VERSION / "kto.parquet"), "--date", OTHER_DAY) == 0
        assert _cli("import", "openai-preference", str(ORCA), "--date", OTHER_DAY) == 0
        assert _cli("import", "trl", str(leaks), "--date", OTHER_DAY) == 0
        assert _cli("build", "--all") == 0
        vdir = home / "datasets" / "preference_pairs" / (home / "datasets" / "preference_pairs" / "LATEST").read_text().strip()
        yield home, vdir, leaked_prompts


def _rows(vdir: Path, name: str) -> list[dict]:
    return pq.read_table(vdir / name).to_pylist()


def _published_events(vdir: Path) -> set[str]:
    return {e for row in _rows(vdir, "train.parquet") + _rows(vdir, "test.parquet") for e in row["source_event_ids"]} | {
        e for row in _rows(vdir, "kto.parquet") for e in (row.get("source_event_ids") or [])}


def _landed(home: Path, fmt: str) -> dict[str, dict]:
    return {e["event_id"]: e for path in sorted((home / "landing").glob(f"*/import-{fmt}-*.jsonl"))
            for e in map(orjson.loads, path.read_bytes().splitlines())}


def test_an_export_spanning_months_publishes_rows_from_every_month(built):
    home, vdir, _ = built
    arena = _landed(home, "arena")
    months = {e["created_at"][:7] for e in arena.values()}
    assert len(months) >= 3
    assert sorted(p.name for p in (home / "landing").iterdir() if not p.name.startswith(".")) == \
        sorted(set(BATTLE_DAYS) | {OTHER_DAY})
    published = _published_events(vdir)
    assert {e["created_at"][:7] for i, e in arena.items() if i in published} == \
        {e["created_at"][:7] for e in arena.values() if e["event_type"] == "pairwise"
         and "preferred" in e["label"]}


def _pairs_by_prompt(vdir: Path) -> dict[str, dict]:
    return {json.dumps(r["prompt"][-1]["content"]): r for r in _rows(vdir, "train.parquet") + _rows(vdir, "test.parquet")}


def test_a_published_version_round_trips_with_chosen_the_same_side(built):
    home, vdir, _ = built
    again = _pairs_by_prompt(vdir)
    source = _rows(VERSION, "train.parquet")
    for row in source:  # every pair of the version is published again, the same side chosen
        got = again[json.dumps(row["prompt"][-1]["content"])]
        assert got["chosen"][0]["content"] == row["chosen"][0]["content"]
        assert got["rejected"][0]["content"] == row["rejected"][0]["content"]
        assert got["label_source"] == ("ai_annotator" if row["label_source"].startswith("ai_") else "human_pairwise")
    kto = {(r["completion"][0]["content"], r["label"]) for r in _rows(vdir, "kto.parquet")}
    assert {(r["completion"][0]["content"], r["label"]) for r in _rows(VERSION, "kto.parquet")} <= kto


def test_openai_preference_publishes_the_preferred_output_as_chosen(built):
    home, vdir, _ = built
    again = _pairs_by_prompt(vdir)
    for line in ORCA.read_text().splitlines():
        row = json.loads(line)
        got = again[json.dumps(row["input"]["messages"][-1]["content"])]
        assert got["prompt"] == row["input"]["messages"]
        assert got["chosen"][0]["content"] == row["preferred_output"][0]["content"]
        assert got["rejected"][0]["content"] == row["non_preferred_output"][0]["content"]


def test_mt_bench_as_published_drops_the_prompts_it_contains(built):
    home, vdir, leaked = built
    rejected = [r for r in _rows(vdir, "rejected.parquet") if r["reason"] == "eval_contamination"]
    trl = _landed(home, "trl")
    leaked_ids = {i for i, e in trl.items() if e["prompt"].get("text") in leaked}
    assert len(leaked_ids) == 2
    assert {r["event_id"] for r in rejected} == leaked_ids
    assert all("mt-bench" in r["detail"] for r in rejected)
    assert not leaked_ids & _published_events(vdir)
