"""The Argilla importer on exports written by Argilla's own SDK (tests/data/importers/argilla/,
SOURCE.md): 1.x records list and format_as("datasets") jsonl/parquet, 2.x records.to_json and
to_list(flatten=True), with ranking, label and rating questions and a chat field. Each shape's events
are counted and checked vote by vote against the source file, read here independently of the
importer; two real builds publish them, and every published pair's chosen side is the side the
source's submitted answers preferred."""

from __future__ import annotations

import itertools
import json
from collections import Counter, defaultdict
from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest

from pipeline.capture.contract import validate_record
from pipeline.capture.landing import capture_file
from pipeline.importers import import_file
from pipeline.template_normalization.templates import parse_prompt
from tests.homes import pointed_at

DATA = Path(__file__).parent / "data" / "importers" / "argilla"
DAY = "2024-05-07"

# file -> (records read, events written, skipped by reason)
SHAPES = {
    "v1-records.json": (9, 21, {"no_responses": 1, "response_discarded": 1, "response_draft": 2}),
    "v1-datasets.jsonl": (9, 21, {"no_responses": 1, "response_discarded": 1, "response_draft": 2}),
    "v1-datasets.parquet": (9, 21, {"no_responses": 1, "response_discarded": 1, "response_draft": 2}),
    # Argilla 2.x to_json writes no response status: the 3 drafts and discards are read as submitted
    "v2-pandalm.json": (9, 24, {"no_responses": 1}),
    "v2-pandalm-flat.jsonl": (9, 21, {"no_responses": 1, "response_discarded": 1, "response_draft": 2}),
    "v2-oasst-chat.json": (8, 17, {}),
    "v2-oasst-chat-flat.jsonl": (8, 11, {"response_discarded": 3, "response_draft": 1}),
}


def imported(name: str, landing: Path) -> tuple:
    summary = import_file("argilla", DATA / name, landing, DAY)
    events = [orjson.loads(line) for out in summary.outputs.values() for line in out.read_bytes().splitlines()]
    return summary, events


# --- the source file, read without the importer ---------------------------------------------------

def _source_rows(name: str) -> list[dict]:
    path = DATA / name
    if name.endswith(".parquet"):
        return pq.read_table(path).to_pylist()
    if name.endswith(".jsonl"):
        return [json.loads(line) for line in path.read_text().splitlines()]
    return json.loads(path.read_text())


def _answers(name: str, row: dict) -> tuple[dict, list[tuple]]:
    """(fields, [(question, user, value, status)]) of one source row, per export shape."""
    if name.startswith("v1-records"):
        return row["fields"], [(q, r["user_id"], v["value"], r["status"])
                               for r in row["responses"] for q, v in r["values"].items()]
    if name.startswith("v1-datasets"):
        fields = {k: row[k] for k in ("prompt", "response1", "response2")}
        return fields, [("preference", a["user_id"], dict(zip(a["value"]["value"], a["value"]["rank"], strict=True)),
                         a["status"]) for a in row["preference"]]
    if name.endswith("-flat.jsonl"):
        answers = [(key.removesuffix(".responses"), u, v, s) for key in row if key.endswith(".responses") and row[key]
                   for v, u, s in zip(row[key], row[f"{key}.users"], row[f"{key}.status"], strict=True)]
        return {k: v for k, v in row.items() if "." not in k}, answers
    return row["fields"], [(q, a["user_id"], a["value"], None) for q, given in row["responses"].items() for a in given]


def source_votes(name: str) -> Counter:
    """Every submitted judgement in the source: ('pref', user, better text, worse text),
    ('tie', user, {texts}) or ('rating', user, text, score, prompt)."""
    votes: Counter = Counter()
    for row in _source_rows(name):
        fields, answers = _answers(name, row)
        for question, user, value, status in answers:
            if status not in (None, "submitted"):
                continue
            if isinstance(value, int):
                target = question.removeprefix("rating_")
                prompt = json.dumps(fields["chat"])  # the rated records have a chat field
                votes["rating", user, fields[target], value, prompt] += 1
                continue
            if isinstance(value, str):  # a label: response1 / response2 / tie
                sides = [fields["response1"], fields["response2"]]
                if value == "tie":
                    votes["tie", user, frozenset(sides)] += 1
                else:
                    votes["pref", user, fields[value], next(s for s in sides if s != fields[value])] += 1
                continue
            if isinstance(value, list) and isinstance(value[0], dict):  # 1.x records: [{value, rank}]
                value = {v["value"]: v["rank"] for v in value}
            ranks = value if isinstance(value, dict) else {n: i for i, n in enumerate(value)}  # 2.x: best first
            for a, b in itertools.combinations(sorted(ranks), 2):
                if ranks[a] == ranks[b]:
                    votes["tie", user, frozenset((fields[a], fields[b]))] += 1
                else:
                    good, bad = (a, b) if ranks[a] < ranks[b] else (b, a)
                    votes["pref", user, fields[good], fields[bad]] += 1
    return votes


def event_votes(events: list[dict]) -> Counter:
    votes: Counter = Counter()
    for e in events:
        user, texts = e["annotator"]["id"], {r["response_id"]: r["content"] for r in e["responses"]}
        if e["event_type"] == "rating":
            votes["rating", user, *texts.values(), e["label"]["score"], json.dumps(e["prompt"]["messages"])] += 1
        elif e["label"].get("tie"):
            votes["tie", user, frozenset(texts.values())] += 1
        else:
            good = texts.pop(e["label"]["preferred"])
            for bad in texts.values():
                votes["pref", user, good, bad] += 1
    return votes


# --- import ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SHAPES))
def test_each_export_imports_with_its_skips_counted(name, tmp_path):
    summary, events = imported(name, tmp_path)
    assert (summary.records_read, summary.events_written, summary.skipped) == SHAPES[name]
    assert len({e["event_id"] for e in events}) == len(events)
    for e in events:
        validate_record(e)
        parse_prompt(e["prompt"])
        assert e["source"] == "import:argilla" and e["consent_training"] is True
        assert e["created_at"] == f"{DAY}T00:00:00Z"  # none of these exports carries a time
    assert sum(capture_file(out).quarantine.num_rows for out in summary.outputs.values()) == 0


@pytest.mark.parametrize("name", list(SHAPES))
def test_every_event_is_a_submitted_judgement_of_the_source_and_every_one_is_imported(name, tmp_path):
    _, events = imported(name, tmp_path)
    assert event_votes(events) == source_votes(name)


def test_the_three_v1_shapes_land_the_same_events(tmp_path):
    landed = {}
    for name in ("v1-records.json", "v1-datasets.jsonl", "v1-datasets.parquet"):
        summary, _ = imported(name, tmp_path / name)
        landed[name] = b"".join(out.read_bytes() for out in summary.outputs.values())
    assert len(set(landed.values())) == 1


def test_v2_to_json_has_no_response_status_so_it_keeps_what_the_flat_export_skips(tmp_path):
    _, nested = imported("v2-pandalm.json", tmp_path / "n")
    _, flat = imported("v2-pandalm-flat.jsonl", tmp_path / "f")
    nested_ids, flat_ids = {e["event_id"] for e in nested}, {e["event_id"] for e in flat}
    assert flat_ids < nested_ids
    # the three responses the flat export names draft or discarded, by record and user
    not_submitted = {(row["id"], u) for row in _source_rows("v2-pandalm-flat.jsonl") if row["preference.responses"]
                     for u, s in zip(row["preference.responses.users"], row["preference.responses.status"], strict=True)
                     if s != "submitted"}
    assert {eid.removesuffix("-preference") for eid in nested_ids - flat_ids} == \
        {f"argilla-{rid}-{u}" for rid, u in not_submitted}
    assert len(not_submitted) == 3


def test_chat_field_is_the_prompt_and_several_annotators_are_several_votes(tmp_path):
    _, chat = imported("v2-oasst-chat-flat.jsonl", tmp_path / "c")
    multi = [e for e in chat if len(e["prompt"]["messages"]) > 1]
    assert multi and all(e["prompt"]["messages"][-1]["role"] == "user" for e in chat)
    assert {m["role"] for e in multi for m in e["prompt"]["messages"]} == {"user", "assistant"}
    assert Counter(e["event_type"] for e in chat) == {"pairwise": 5, "rating": 6}
    _, pandalm = imported("v1-records.json", tmp_path / "p")
    by_record = defaultdict(set)
    for e in pandalm:
        by_record[e["event_id"].split("-")[2]].add(e["annotator"]["id"])
    assert len(by_record["0"]) == 3 and len(set().union(*by_record.values())) == 3


def test_a_ranking_of_three_gives_three_pairs_and_a_label_outside_the_responses_is_skipped(tmp_path):
    _, events = imported("v2-oasst-chat.json", tmp_path)
    three = [e for e in events if e["event_id"].startswith("argilla-oasst-054e1df3") and e["event_type"] == "pairwise"]
    assert len(three) == 3
    record = json.loads((DATA / "v2-oasst-chat.json").read_text())[0]
    record["responses"] = {"ranking": [{"value": "helpful", "user_id": "u1"}], "topic": [{"value": ["a", "b"],
                                                                                          "user_id": "u1"}]}
    doc = tmp_path / "odd.json"
    doc.write_bytes(orjson.dumps([record]))
    summary = import_file("argilla", doc, tmp_path / "odd", DAY)
    assert summary.events_written == 0
    assert summary.skipped == {"label_unknown": 1, "question_not_preference": 1}


# --- through the build ----------------------------------------------------------------------------

# two homes, each with two exports of disjoint content (the same records in two shapes would be
# the same votes twice); a third with the 2.x to_json of the
# PandaLM records alone, whose drafts and discarded responses the file cannot tell apart
HOMES = {"a": ("v1-records.json", "v2-oasst-chat-flat.jsonl"), "b": ("v2-pandalm-flat.jsonl", "v2-oasst-chat.json"),
         "c": ("v2-pandalm.json",)}


@pytest.fixture(scope="module", params=list(HOMES))
def built(request, tmp_path_factory):
    home = tmp_path_factory.mktemp(f"argilla-{request.param}") / "home"
    for name in HOMES[request.param]:
        import_file("argilla", DATA / name, home / "landing", DAY)
    with pointed_at(home):
        from pipeline.cli.build import run_build

        outcome = run_build([DAY])
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        vdir = home / "datasets" / "preference_pairs" / outcome.version_id
        pairs = pq.read_table(vdir / "train.parquet").to_pylist() + pq.read_table(vdir / "test.parquet").to_pylist()
        kto = pq.read_table(vdir / "kto.parquet").to_pylist()
        rejected = pq.read_table(vdir / "rejected.parquet").to_pylist()
    yield request.param, pairs, kto, rejected


def _expected_pairs(names: tuple[str, ...]) -> tuple[dict, dict]:
    """From the sources: {(better, worse): votes} for every comparison a strict majority of its
    distinct voters decided, and {(higher, lower)} for every two differently rated responses of one
    prompt (the rating_gap rule, gap >= 1)."""
    pref, ratings = Counter(), defaultdict(dict)
    for name in names:
        votes = source_votes(name)
        for key in votes:  # a repeat by the same voter counts once
            if key[0] == "pref":
                pref[key[1:]] = 1
            elif key[0] == "rating":
                ratings[key[4]][key[2]] = key[3]
    tally = Counter()
    for (_, good, bad) in pref:
        tally[good, bad] += 1
    decided = {(g, b): tally[g, b] + tally[b, g] for (g, b) in tally if tally[g, b] > tally[b, g]}
    rated = {(x, y) for by_prompt in ratings.values() for x, y in itertools.permutations(by_prompt, 2)
             if by_prompt[x] > by_prompt[y]}
    return decided, rated


@pytest.mark.slow
def test_published_pairs_are_the_source_majorities_and_rating_orders(built):
    home, pairs, kto, _ = built
    decided, rated = _expected_pairs(HOMES[home])
    published = {(r["chosen"][0]["content"], r["rejected"][0]["content"]): r for r in pairs}
    pairwise = {k: r for k, r in published.items() if r["label_source"] == "human_pairwise"}
    by_rating = {k for k, r in published.items() if r["label_source"] == "human_rating"}
    assert set(pairwise) == set(decided)
    assert by_rating == rated
    for key, row in pairwise.items():
        assert row["votes"] == decided[key]
    assert len(kto) == 0  # every rated response is in a rating pair; pairwise events make no KTO rows
    expected = {"a": (12, 9, 3), "b": (18, 12, 6), "c": (6, 6, 0)}[home]
    assert (len(pairs), len(pairwise), len(by_rating)) == expected


@pytest.mark.slow
def test_the_chosen_side_is_the_preferred_one_in_the_source(built):
    home, pairs, _, _ = built
    votes = Counter()
    ratings = {}
    for name in HOMES[home]:
        for key in source_votes(name):
            if key[0] == "pref":
                votes[key[2], key[3]] += 1
            elif key[0] == "rating":
                ratings[key[2]] = key[3]
    for row in pairs:
        chosen, rejected = row["chosen"][0]["content"], row["rejected"][0]["content"]
        if row["label_source"] == "human_rating":
            assert ratings[chosen] > ratings[rejected]
        else:
            assert votes[chosen, rejected] > votes[rejected, chosen]


@pytest.mark.slow
def test_what_is_not_published_is_ledgered_with_its_reason(built):
    home, _, _, rejected = built
    reasons = Counter((r["stage"], r["reason"]) for r in rejected)
    # PandaLM 91: all three annotators tie (one tie ledgered, the two identical ties are exact
    # duplicates); 3: the same comparison as 1 by the same three annotators (PandaLM lists it twice).
    expected = {("pair_construction", "tie"): 1, ("dedup", "duplicate_exact"): 5}
    if home != "c":
        # 88 and 111: one vote of three was a draft or discarded and the other two split; in the
        # 2.x to_json (home c) that vote is read as submitted and decides the pair
        expected[("pair_construction", "annotators_disagree")] = 4
        split = {r["event_id"].split("-")[2] for r in rejected if r["reason"] == "annotators_disagree"}
        assert split == {"88", "111"}
    assert reasons == expected
    assert {r["event_id"].split("-")[2] for r in rejected if r["reason"] == "duplicate_exact"} == {"3", "91"}


def test_a_response_time_dates_its_events_in_that_day(tmp_path):
    # a 1.x record fetched from a server carries times; here added to the SDK-written record
    record = json.loads((DATA / "v1-records.json").read_text())[0]
    record["inserted_at"] = "2023-04-17T08:00:00"
    record["responses"][0]["updated_at"] = "2023-06-02T10:30:00"
    doc = tmp_path / "timed.json"
    doc.write_bytes(orjson.dumps([record]))
    summary = import_file("argilla", doc, tmp_path / "landing", DAY)
    assert summary.per_day == {"2023-04-17": 2, "2023-06-02": 1}


def test_a_chat_field_ending_with_the_assistant_is_skipped_with_the_normalization_reason(tmp_path):
    record = json.loads((DATA / "v2-oasst-chat.json").read_text())[0]
    record["fields"]["chat"].append({"role": "assistant", "content": "An answer already given."})
    doc = tmp_path / "chat.json"
    doc.write_bytes(orjson.dumps([record]))
    summary = import_file("argilla", doc, tmp_path / "landing", DAY)
    assert (summary.events_written, summary.skipped) == (0, {"prompt_last_turn_not_user": 1})
