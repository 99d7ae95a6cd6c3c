"""Label Studio importer on exports Label Studio itself wrote (tests/data/importers/label-studio,
see SOURCE.md): JSON, JSON_MIN and CSV of the RLHF human-preference and the pairwise-classification
templates, with three annotators, a skip and an empty annotation, and the 2023 RLHF tutorial export.

Every check of which side is chosen reads the export file on its own (the json and csv modules,
not the importer), so a mistake in the importer cannot agree with itself."""

from __future__ import annotations

import csv
import json
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from pipeline.importers import ImportSummary, import_file
from tests.homes import pointed_at

DATA = Path(__file__).parent / "data" / "importers" / "label-studio"
SIDES = {"comparison": ("answer1", "answer2"), "pw": ("pairText1", "pairText2")}
# sample -> (records read, events written, skipped by reason)
EXPECTED = {
    "rlhf-json.json": (6, 17, {"annotation_cancelled": 1}),
    "rlhf-json-min.json": (17, 17, {}),
    "rlhf-csv.csv": (17, 17, {}),
    "pairwise-json.json": (4, 8, {"no_choice": 1}),
    "pairwise-json-min.json": (9, 8, {"no_choice": 1}),
    "pairwise-csv.csv": (9, 8, {"no_choice": 1}),
    "rlhf-tutorial-2023.json": (32, 32, {}),
}


def source_votes(path: Path) -> dict[str, tuple[str, str, str, str]]:
    """event id -> (prompt, chosen text, rejected text, annotator) as the export file says:
    `selected: left` prefers the template's left field."""
    votes = {}

    def add(task_id, annotation_id, data, control, selected, annotator):
        left, right = SIDES[control]
        chosen, rejected = (data[left], data[right]) if selected == "left" else (data[right], data[left])
        votes[f"label-studio-{task_id}-{annotation_id}"] = (data["prompt"], chosen, rejected, f"label-studio:{annotator}")

    if path.suffix == ".csv":
        with open(path, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                control = next(c for c in SIDES if c in row)
                if row[control]:
                    add(row["id"], row["annotation_id"], row, control, json.loads(row[control])[0]["selected"],
                        row["annotator"])
        return votes
    doc = json.loads(path.read_text())
    for item in doc:
        if "annotations" in item:  # JSON: tasks
            for a in item["annotations"]:
                for r in a["result"]:
                    if r["type"] == "pairwise" and not a["was_cancelled"]:
                        add(item["id"], a["id"], item["data"], r["from_name"], r["value"]["selected"], a["completed_by"])
        else:  # JSON_MIN: one row an annotation
            control = next((c for c in SIDES if c in item), None)
            if control:
                add(item["id"], item["annotation_id"], item, control, item[control][0]["selected"], item["annotator"])
    return votes


def run(name: str, landing: Path) -> tuple[ImportSummary, list[dict]]:
    summary = import_file("label-studio", DATA / name, landing)
    events = [json.loads(line) for out in summary.outputs.values() for line in out.read_text().splitlines()]
    return summary, events


def content(event: dict, response_id: str) -> str:
    return next(r["content"] for r in event["responses"] if r["response_id"] == response_id)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_export_imports_its_votes_with_skips_counted(name, tmp_path):
    read, written, skipped = EXPECTED[name]
    summary, events = run(name, tmp_path)
    assert (summary.records_read, summary.events_written, summary.skipped) == (read, written, skipped)
    assert len(events) == written == len({e["event_id"] for e in events})
    text = summary.render()
    for reason, n in skipped.items():
        assert f"{reason} {n}" in text


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_chosen_is_the_side_the_annotator_selected_in_the_file(name, tmp_path):
    _, events = run(name, tmp_path)
    votes = source_votes(DATA / name)
    assert {e["event_id"] for e in events} == set(votes)
    for e in events:
        prompt, chosen, rejected, annotator = votes[e["event_id"]]
        (other,) = {r["response_id"] for r in e["responses"]} - {e["label"]["preferred"]}
        assert (e["prompt"]["text"], content(e, e["label"]["preferred"]), content(e, other)) == (prompt, chosen, rejected)
        assert e["user_id"] == e["annotator"]["id"] == annotator and e["annotator"]["kind"] == "annotator"


@pytest.mark.parametrize("project", ["rlhf", "pairwise"])
def test_the_three_exports_of_one_project_give_the_same_votes(project, tmp_path):
    """Same event ids, times and labels whichever export a user downloaded; only JSON carries the
    skip, which Label Studio leaves out of JSON_MIN and CSV."""
    def key(e):
        return e["created_at"], e["user_id"], content(e, e["label"]["preferred"])

    got = {fmt: {e["event_id"]: key(e) for e in run(f"{project}-{fmt}", tmp_path / fmt)[1]}
           for fmt in ("json.json", "json-min.json", "csv.csv")}
    assert got["json.json"] == got["json-min.json"] == got["csv.csv"]


def test_the_2023_tutorial_export_lands_on_its_own_day(tmp_path):
    summary, events = run("rlhf-tutorial-2023.json", tmp_path)
    assert summary.per_day == {"2023-04-17": 32}
    assert {e["user_id"] for e in events} == {"label-studio:2"}
    assert Counter(e["label"]["preferred"].rsplit("-", 1)[1] for e in events) == {"answer1": 18, "answer2": 14}


def test_an_email_annotator_is_hashed_never_written(tmp_path):
    """Older JSON_MIN exports name the annotator by e-mail address."""
    rows = json.loads((DATA / "rlhf-json-min.json").read_text())
    for row in rows:
        row["annotator"] = f"Annotator{row['annotator']}@Example.org"
    path = tmp_path / "old-min.json"
    path.write_text(json.dumps(rows))
    summary = import_file("label-studio", path, tmp_path / "landing")
    written = b"".join(p.read_bytes() for p in summary.outputs.values())
    assert b"example.org" not in written.lower()
    users = {json.loads(line)["user_id"] for line in written.splitlines()}
    assert len(users) == 3 and all(u.startswith("label-studio:email-") for u in users)


# --- through the real build: one build per export type ------------------------------------------

def majority(votes: dict[str, tuple[str, str, str, str]]) -> dict[str, tuple[str, str, int]]:
    """prompt -> (majority chosen, rejected, votes) from the export file's own votes."""
    by_prompt: dict[str, Counter] = defaultdict(Counter)
    for prompt, chosen, rejected, _ in votes.values():
        by_prompt[prompt][(chosen, rejected)] += 1
    out = {}
    for prompt, tally in by_prompt.items():
        (top, n), *rest = tally.most_common()
        assert not rest or rest[0][1] < n, "the samples hold no evenly split comparison"
        out[prompt] = (*top, sum(tally.values()))
    return out


def build_home(home: Path, files: list[str]) -> tuple[list[ImportSummary], list[dict], list[dict], list[dict]]:
    """Import the files into a fresh home, build every landing day, and read the published version:
    (import summaries, pairs, rejected rows, lineage rows)."""
    summaries = [import_file("label-studio", DATA / name, home / "landing") for name in files]
    days = sorted({d for s in summaries for d in s.per_day})
    with pointed_at(home):
        from pipeline.cli.build import run_build

        outcome = run_build(days)
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        vdir = home / "datasets" / "preference_pairs" / outcome.version_id
        rows = pq.read_table(vdir / "train.parquet").to_pylist() + pq.read_table(vdir / "test.parquet").to_pylist()
        rejected = pq.read_table(vdir / "rejected.parquet").to_pylist()
        lineage = pq.read_table(vdir / "lineage.parquet").to_pylist()
        assert pq.read_metadata(vdir / "kto.parquet").num_rows == 0  # pairwise votes make pairs only
    return summaries, rows, rejected, lineage


def published(rows: list[dict]) -> dict[str, tuple[str, str, int]]:
    return {r["prompt"][-1]["content"]: (r["chosen"][-1]["content"], r["rejected"][-1]["content"], r["votes"])
            for r in rows}


@pytest.fixture(scope="module", params=["json.json", "json-min.json", "csv.csv"])
def built(request, tmp_path_factory):
    fmt = request.param
    files = [f"rlhf-{fmt}", f"pairwise-{fmt}"]
    home = tmp_path_factory.mktemp(f"ls-{fmt.split('.')[0]}") / "home"
    votes = {k: v for name in files for k, v in source_votes(DATA / name).items()}
    yield (fmt, *build_home(home, files), votes)


@pytest.mark.slow
def test_a_build_publishes_one_pair_per_task_chosen_by_the_annotators_majority(built):
    fmt, summaries, rows, rejected, lineage, votes = built
    assert sum(s.events_written for s in summaries) == 25
    expected = majority(votes)
    assert len(expected) == 10
    assert published(rows) == expected, fmt
    split = [r for r in rows if r["votes"] == 3 and r["agreement"] < 1]
    assert len(split) == 2 and all(r["agreement"] == pytest.approx(2 / 3) for r in split)
    # Every imported vote, majority and minority, is in a published pair's lineage; none is dropped.
    assert {r["event_id"] for r in lineage if r["row_kind"] == "pair"} == set(votes)
    assert Counter(r["vote"] for r in lineage if r["row_kind"] == "pair") == {"majority": 23, "minority": 2}
    assert not [r for r in rejected if r["event_id"].startswith("label-studio-")]


@pytest.mark.slow
def test_the_2023_tutorial_export_builds_as_it_is(tmp_path):
    """Label Studio's own RLHF tutorial export, dated 2023-04-17, builds with no config edits."""
    summaries, rows, rejected, _ = build_home(tmp_path / "home", ["rlhf-tutorial-2023.json"])
    votes = source_votes(DATA / "rlhf-tutorial-2023.json")
    expected = majority(votes)
    got = published(rows)
    assert got and all(got[prompt] == expected[prompt] for prompt in got)
    dropped = {r["event_id"]: r["reason"] for r in rejected}
    assert len(got) + len(dropped) == len(votes) == 32, dropped
    # Every vote not published says why: the two tasks with an empty answer.
    empty = [eid for eid, (_, chosen, rejected_text, _) in votes.items() if not chosen.strip() or not rejected_text.strip()]
    assert sorted(dropped) == sorted(empty) and len(empty) == 2 and set(dropped.values()) == {"response_empty"}
    assert summaries[0].per_day == {"2023-04-17": 32} and len(got) == 30


def test_a_gzipped_csv_export_reads_like_the_plain_one(tmp_path):
    import gzip

    packed = tmp_path / "rlhf-csv.csv.gz"
    packed.write_bytes(gzip.compress((DATA / "rlhf-csv.csv").read_bytes()))
    plain = run("rlhf-csv.csv", tmp_path / "a")[1]
    summary = import_file("label-studio", packed, tmp_path / "b")
    assert [json.loads(line) for out in summary.outputs.values() for line in out.read_text().splitlines()] == plain


def test_a_task_of_another_template_is_skipped_with_its_reason(tmp_path):
    """A task with neither template's answer fields (say the LLM ranker's `items`) is refused by name."""
    task = json.loads((DATA / "rlhf-json.json").read_text())[0]
    task["data"] = {"prompt": task["data"]["prompt"], "items": [{"id": "a", "body": "x"}]}
    path = tmp_path / "ranker.json"
    path.write_text(json.dumps([task]))
    summary = import_file("label-studio", path, tmp_path / "landing")
    assert summary.events_written == 0 and summary.skipped == {"missing_field": 1}
