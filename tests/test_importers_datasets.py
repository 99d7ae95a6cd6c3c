"""Dataset importers (PandaLM, OpenAssistant, Chatbot Arena, UltraFeedback, HelpSteer2): what each
imports from its sample, what it skips and why, and, through one real build, what it publishes,
with chosen checked against the source file."""

from __future__ import annotations

import copy
import gzip
import json
from collections import Counter
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest

from pipeline.capture.contract import validate_record
from pipeline.importers import import_file
from pipeline.importers.common import Skip
from pipeline.importers.helpsteer2 import prompt_messages
from pipeline.importers.ultrafeedback import mean_score
from tests.homes import pointed_at

DATA = Path(__file__).parent / "data" / "importers"
DAY = "2024-05-07"
PANDALM = DATA / "pandalm" / "testset-v1-first170.json"
OASST = DATA / "oasst" / "en_100_message-first12.jsonl"
BATTLES = DATA / "arena" / "clean_battle_conv.json"
ARENA_55K = DATA / "arena" / "human-preference-55k.csv"
ULTRA = DATA / "ultrafeedback.jsonl"
HELPSTEER = DATA / "helpsteer2" / "helpsteer2-sample.jsonl"
SHARED = Path("/work/shared/data")


def events_of(summary) -> list[dict]:
    return [orjson.loads(line) for out in summary.outputs.values() for line in out.read_bytes().splitlines()]


def imported(fmt: str, path: Path, tmp_path: Path, **kwargs):
    summary = import_file(fmt, path, tmp_path / "landing", DAY, **kwargs)
    events = events_of(summary)
    for e in events:
        validate_record(e)
    return summary, events


def text(event: dict, response_id: str) -> str:
    return next(r["content"] for r in event["responses"] if r["response_id"] == response_id)


def oasst_messages(path: Path) -> dict[str, dict]:
    """Every message of the trees by id, with its parent's id."""
    out: dict[str, dict] = {}

    def walk(m: dict) -> None:
        out[m["message_id"]] = m
        for r in m["replies"]:
            walk(r)

    for line in path.read_text().splitlines():
        walk(json.loads(line))
    return out


# ---------------------------------------------------------------- PandaLM


def test_pandalm_three_votes_a_record_as_the_file_says(tmp_path):
    summary, events = imported("pandalm", PANDALM, tmp_path)
    records = {r["idx"]: r for r in json.loads(PANDALM.read_text())}
    assert (summary.records_read, summary.events_written) == (170, 492)
    assert summary.skipped == {"response_not_text": 6}  # idx 157..164: a response is JSON `true`
    by_record: dict[int, list[dict]] = {}
    for e in events:
        by_record.setdefault(int(e["event_id"].split("-")[1]), []).append(e)
    assert len(by_record) == 164 and all(len(v) == 3 for v in by_record.values())
    for idx, votes in by_record.items():
        source = records[idx]
        assert len({orjson.dumps((e["prompt"], e["responses"])) for e in votes}) == 1  # one comparison
        assert [e["annotator"] for e in votes] == [{"kind": "annotator", "id": f"annotator{k}"} for k in (1, 2, 3)]
        for k, e in enumerate(votes, start=1):
            label = source[f"annotator{k}"]
            if label == 0:
                assert e["label"] == {"tie": True}
            else:
                assert text(e, e["label"]["preferred"]) == source[f"response{label}"]
        prompt = votes[0]["prompt"]["messages"][0]["content"]
        assert prompt.startswith(source["instruction"]) and prompt.endswith(source["input"])
        assert [r.get("model") for r in votes[0]["responses"]] == source["cmp_key"].split("_", 1)


@pytest.mark.skipif(not (SHARED / "pandalm" / "testset-v1.json").exists(), reason="the full PandaLM file is not here")
def test_pandalm_whole_published_file(tmp_path):
    summary, events = imported("pandalm", SHARED / "pandalm" / "testset-v1.json", tmp_path)
    assert (summary.records_read, summary.events_written) == (999, 2976)
    assert summary.skipped == {"missing_field": 1, "response_not_text": 6}  # idx 466: instruction " "
    assert Counter("tie" in e["label"] for e in events) == {False: 2654, True: 322}


# ---------------------------------------------------------------- OpenAssistant


def test_oasst_ranks_are_pairs_preferring_the_lower_rank(tmp_path):
    summary, events = imported("oasst", OASST, tmp_path)
    messages = oasst_messages(OASST)
    assert (summary.records_read, summary.events_written) == (12, 88)
    assert summary.skipped == {"emoji_votes_tied": 2, "emojis_on_prompt": 24, "parent_skipped": 7, "synthetic": 2}
    pairs = [e for e in events if e["event_type"] == "pairwise"]
    assert len(pairs) == 56
    for e in pairs:
        winner, loser = e["event_id"].removeprefix("oasst-").split("-over-")
        w, lo = messages[winner], messages[loser]
        assert w["parent_id"] == lo["parent_id"] and w["rank"] < lo["rank"]
        assert text(e, e["label"]["preferred"]) == w["text"]
        assert {r["content"] for r in e["responses"]} == {w["text"], lo["text"]}
        assert e["prompt"]["messages"][-1] == {"role": "user", "content": messages[w["parent_id"]]["text"]}
    # every ranked group of n usable replies gives n(n-1)/2 pairs
    groups = Counter(messages[e["event_id"].removeprefix("oasst-").split("-over-")[0]]["parent_id"] for e in pairs)
    for parent, n_pairs in groups.items():
        n = sum(1 for r in messages[parent]["replies"] if r["rank"] is not None)
        assert n_pairs == n * (n - 1) // 2


def test_oasst_emoji_counts_are_thumbs(tmp_path):
    _, events = imported("oasst", OASST, tmp_path)
    messages = oasst_messages(OASST)
    thumbs = [e for e in events if e["event_type"] == "thumbs"]
    assert Counter(e["label"]["value"] for e in thumbs) == {"up": 28, "down": 4}
    for e in thumbs:
        m = messages[e["event_id"].removeprefix("oasst-").removesuffix("-emojis")]
        up, down = m["emojis"].get("+1", 0), m["emojis"].get("-1", 0)
        assert e["label"]["value"] == ("up" if up > down else "down") and up != down
        assert (e["tags"]["emoji_up"], e["tags"]["emoji_down"]) == (str(up), str(down))
        assert e["responses"][0]["content"] == m["text"] and m["role"] == "assistant"


def test_oasst_synthetic_deleted_and_failed_review_are_skipped_with_their_subtree(tmp_path):
    kept, _ = imported("oasst", OASST, tmp_path / "keep", options={"synthetic": "keep"})
    assert kept.events_written == 97 and "synthetic" not in kept.skipped
    trees = [json.loads(line) for line in OASST.read_text().splitlines()]
    tree = copy.deepcopy(trees[1])  # a real tree; flags set on a copy (the export has none of them)
    tree["replies"][0]["deleted"] = True
    tree["replies"][1]["review_result"] = False
    edited = tmp_path / "edited.jsonl"
    edited.write_text(json.dumps(tree) + "\n")
    summary, events = imported("oasst", edited, tmp_path / "edited")
    assert summary.skipped["deleted"] == summary.skipped["review_failed"] == 1
    gone = [*subtree(tree["replies"][0]), *subtree(tree["replies"][1])]
    assert 1 + 1 + summary.skipped.get("parent_skipped", 0) == len(gone) > 2
    texts = {r["content"] for e in events for r in e["responses"]}
    assert not texts & {m["text"] for m in gone}


def subtree(message: dict) -> list[dict]:
    return [message, *(m for r in message["replies"] for m in subtree(r))]


# ---------------------------------------------------------------- Chatbot Arena


def test_arena_clean_battle_rows_winner_and_moderation(tmp_path):
    battles = {b.get("question_id"): b for b in json.loads(BATTLES.read_text())}
    summary, events = imported("arena", BATTLES, tmp_path / "default")
    assert (summary.records_read, summary.events_written) == (8, 4)
    assert summary.skipped == {"history_differs": 1, "missing_field": 1, "moderation_flagged": 2}
    assert set(summary.per_day) == {"2023-04-24"}  # each event in the day of its own tstamp
    for e in events:
        b = battles[e["event_id"].removeprefix("arena-")]
        last = {"a": b["conversation_a"][-1]["content"], "b": b["conversation_b"][-1]["content"]}
        if b["winner"] in ("model_a", "model_b"):
            assert text(e, e["label"]["preferred"]) == last[b["winner"][-1]]
        else:
            assert e["label"] == {"tie": True}
            assert e["tags"].get("tie_kind") == ("both_bad" if b["winner"] == "tie (bothbad)" else None)
        assert e["user_id"] == b["judge"] and not e["consent_training"]
    assert "options: moderation=skip (default)" in summary.render()
    kept, kept_events = imported("arena", BATTLES, tmp_path / "keep", options={"moderation": "keep"})
    assert "options: moderation=keep;" in kept.render()
    assert kept.events_written == 6 and "moderation_flagged" not in kept.skipped
    flagged = {e["event_id"]: e["tags"] for e in kept_events if e["event_id"] not in {x["event_id"] for x in events}}
    assert set(flagged) == {"arena-adf27e819a3c494cb6e993f0c660e097", "arena-c0fc42c6f5f14f2aa5a89f71f8553730"}
    assert flagged["arena-adf27e819a3c494cb6e993f0c660e097"]["moderation_flagged"] == "true"
    assert flagged["arena-c0fc42c6f5f14f2aa5a89f71f8553730"]["toxic_chat"] == "true"


def test_arena_human_preference_55k_rows(tmp_path):
    summary, events = imported("arena", ARENA_55K, tmp_path / "csv")
    assert (summary.records_read, summary.events_written) == (6, 3)
    assert summary.skipped == {"history_differs": 1, "label_unknown": 1, "missing_field": 1}
    rows = {str(r["id"]): r for r in pcsv.read_csv(ARENA_55K).to_pylist()}
    for e in events:
        r = rows[e["event_id"].removeprefix("arena-")]
        assert e["prompt"]["messages"] == [{"role": "user", "content": json.loads(r["prompt"])[0]}]
        if r["winner_tie"]:
            assert e["label"] == {"tie": True}
        else:
            side = "a" if r["winner_model_a"] else "b"
            assert text(e, e["label"]["preferred"]) == json.loads(r[f"response_{side}"])[0]
            assert [x["model"] for x in e["responses"]] == [r["model_a"], r["model_b"]]
    # the same rows gzip-compressed, and as parquet with the turn lists as real lists, read the same
    gz = tmp_path / "train.csv.gz"
    gz.write_bytes(gzip.compress(ARENA_55K.read_bytes()))
    assert events_of(import_file("arena", gz, tmp_path / "gz", DAY)) == events
    table = pcsv.read_csv(ARENA_55K).to_pylist()
    for r in table:
        for column in ("prompt", "response_a", "response_b"):
            r[column] = json.loads(r[column])
    parquet = tmp_path / "train.parquet"
    pq.write_table(pa.Table.from_pylist(table), parquet)
    assert events_of(import_file("arena", parquet, tmp_path / "pq", DAY)) == events


# ---------------------------------------------------------------- UltraFeedback


def test_ultrafeedback_pairs_by_exact_mean_gap(tmp_path):
    summary, events = imported("ultrafeedback", ULTRA, tmp_path)
    rows = [json.loads(line) for line in ULTRA.read_text().splitlines()]
    assert (summary.records_read, summary.events_written) == (3, 4)
    assert summary.skipped == {"missing_field": 1, "no_rating": 1}
    means = {c["response"]: mean_score(c["annotations"]) for r in rows for c in r["completions"]
             if any(isinstance(a, dict) and a.get("Rating", "N/A") != "N/A" for a in c["annotations"].values())}
    for e in events:
        chosen = text(e, e["label"]["preferred"])
        rejected = next(r["content"] for r in e["responses"] if r["response_id"] != e["label"]["preferred"])
        assert means[chosen] - means[rejected] >= 1
        assert (float(e["tags"]["mean_chosen"]), float(e["tags"]["mean_rejected"])) == (means[chosen], means[rejected])
        assert e["annotator"] == {"kind": "ai", "id": "gpt-4"} and e["event_type"] == "pairwise"
    assert sorted(float(e["tags"]["mean_chosen"]) for e in events) == [3.75, 13 / 3, 5.0, 5.0]


def test_ultrafeedback_mean_is_not_rounded_and_the_gap_follows_the_config(tmp_path, monkeypatch):
    def aspects(*ratings):
        return dict(zip(("helpfulness", "honesty", "instruction_following", "truthfulness"),
                        ({"Rating": r} for r in ratings)))

    assert mean_score(aspects("2", "3", "N/A", "N/A")) == 2.5
    assert mean_score(aspects("4", "4", "4", "5")) == 4.25
    assert mean_score({"helpfulness": [{"Rating": "4"}], "honesty": {"Rating": 2}}) == 3.0
    with pytest.raises(Skip) as info:
        mean_score(aspects("N/A", "N/A", "N/A", "N/A"))
    assert info.value.reason == "no_rating"
    # means 4.25 and 4.75: rounding would make 4 and 5, a gap of 1; the exact gap 0.5 makes no pair
    row = {"instruction": "Say hi.", "completions": [
        {"model": "m1", "response": "Hi.", "annotations": aspects("4", "4", "4", "5")},
        {"model": "m2", "response": "Hello!", "annotations": aspects("5", "5", "5", "4")},
        {"model": "m3", "response": "...", "annotations": aspects("2", "2", "2", "2")}]}
    path = tmp_path / "uf.jsonl"
    path.write_text(json.dumps(row) + "\n")
    config = tmp_path / "prefline.yaml"
    monkeypatch.setenv("PREFLINE_CONFIG", str(config))
    summary = import_file("ultrafeedback", path, tmp_path / "gap1", DAY)
    assert (summary.events_written, summary.skipped) == (2, {"mean_gap_below_min": 1})
    config.write_text("pairs:\n  rating_min_gap: 2.5\n")
    summary = import_file("ultrafeedback", path, tmp_path / "gap25", DAY)
    assert (summary.events_written, summary.skipped) == (1, {"mean_gap_below_min": 2})  # only 4.75 over 2


# ---------------------------------------------------------------- HelpSteer2


def test_helpsteer2_helpfulness_is_the_score_and_attributes_ride_along(tmp_path):
    summary, events = imported("helpsteer2", HELPSTEER, tmp_path)
    rows = [json.loads(line) for line in HELPSTEER.read_text().splitlines()]
    assert (summary.records_read, summary.events_written) == (7, 6)
    assert summary.skipped == {"label_unknown": 1}  # helpfulness 5 is outside 0..4
    for e, r in zip(events, rows):
        assert e["label"] == {"score": r["helpfulness"] + 1} and e["responses"][0]["content"] == r["response"]
        assert {k: int(e["tags"][k]) for k in ("helpfulness", "correctness", "coherence", "complexity",
                                                "verbosity")} == {k: r[k] for k in e["tags"] if k != "dataset"}
    turns = events[4]["prompt"]["messages"]
    assert [m["role"] for m in turns] == ["user", "assistant", "user"] and turns[-1]["content"] == "And 17 times 4?"
    assert prompt_messages("plain") == [{"role": "user", "content": "plain"}]


# ---------------------------------------------------------------- through a build


def _published(home: Path, version: str):
    vdir = home / "datasets" / "preference_pairs" / version
    rows = pq.read_table(vdir / "train.parquet").to_pylist() + pq.read_table(vdir / "test.parquet").to_pylist()
    kto = pq.read_table(vdir / "kto.parquet").to_pylist()
    rejected = pq.read_table(vdir / "rejected.parquet").to_pylist()
    return rows, kto, rejected


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    home = tmp_path_factory.mktemp("datasets") / "home"
    with pointed_at(home):
        from pipeline.cli.build import run_build
        from pipeline.core import paths

        summaries = {}
        for key, fmt, path, kwargs in [
            ("pandalm", "pandalm", PANDALM, {}), ("oasst", "oasst", OASST, {}),
            ("arena", "arena", BATTLES, {"consent": True}), ("arena-55k", "arena", ARENA_55K, {"consent": True}),
            ("ultrafeedback", "ultrafeedback", ULTRA, {}), ("helpsteer2", "helpsteer2", HELPSTEER, {}),
        ]:
            summaries[key] = import_file(fmt, path, paths.landing_dir(), DAY, **kwargs)
        days = sorted(p.name for p in paths.landing_dir().iterdir() if not p.name.startswith("."))
        outcome = run_build(days)
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        yield summaries, *_published(home, outcome.version_id)


def _by_format(ids) -> str:
    return ids[0].split("-")[0]


@pytest.mark.slow
def test_published_counts_per_format(build):
    summaries, rows, kto, rejected = build
    assert {k: s.events_written for k, s in summaries.items()} == {
        "pandalm": 492, "oasst": 88, "arena": 4, "arena-55k": 3, "ultrafeedback": 4, "helpsteer2": 6}
    assert Counter(_by_format(r["source_event_ids"]) for r in rows) == {
        "pandalm": 129, "oasst": 56, "arena": 4, "ultrafeedback": 4, "helpsteer2": 2}
    assert Counter(_by_format(r["source_event_ids"]) for r in kto) == {"oasst": 23, "helpsteer2": 2}
    ledger = Counter((r["event_id"].split("-")[0], r["reason"]) for r in rejected)
    assert ledger == {("pandalm", "duplicate_exact"): 63, ("pandalm", "tie"): 23, ("pandalm", "response_empty"): 6,
                      ("arena", "tie"): 3, ("oasst", "comparison_superseded"): 9}
    assert not any(r["reason"] == "annotators_disagree" for r in rejected)


@pytest.mark.slow
def test_no_comparison_is_published_twice_or_both_ways(build):
    # OpenAssistant ranks sibling replies and also thumbs them: the ranking decides, and the
    # thumbs pairs on the same two replies (agreeing or reversed) are ledgered, not published.
    _, rows, _, rejected = build
    comparisons = Counter((json.dumps(r["prompt"], sort_keys=True), frozenset((json.dumps(r["chosen"], sort_keys=True),
                                                                             json.dumps(r["rejected"], sort_keys=True))))
                          for r in rows)
    assert max(comparisons.values()) == 1
    superseded = [r for r in rejected if r["reason"] == "comparison_superseded"]
    assert superseded and all(r["stage"] == "pair_construction" for r in superseded)
    assert all("pairwise_preferred" in r["detail"] for r in superseded)


@pytest.mark.slow
def test_pandalm_chosen_is_the_majority_of_the_file(build):
    _, rows, _, rejected = build
    records = {r["idx"]: r for r in json.loads(PANDALM.read_text())}
    for row in (r for r in rows if r["source_event_ids"][0].startswith("pandalm-")):
        idx = {int(e.split("-")[1]) for e in row["source_event_ids"]}
        source = records[min(idx)]
        votes = Counter(source[f"annotator{k}"] for k in (1, 2, 3) if source[f"annotator{k}"] != 0)
        (majority, n), *rest = votes.most_common()
        assert not rest or rest[0][1] < n
        assert row["chosen"][-1]["content"] == source[f"response{majority}"]
        assert row["rejected"][-1]["content"] == source[f"response{3 - majority}"]
        assert row["agreement"] == pytest.approx(n / sum(votes.values()))
    # a repeat of one comparison under another model pairing is the same annotator voting twice
    dup = next(r for r in rejected if r["reason"] == "duplicate_exact")
    first = dup["detail"].rsplit(" ", 1)[-1]
    assert dup["event_id"].rsplit("-", 1)[-1] == first.rsplit("-", 1)[-1]


@pytest.mark.slow
def test_oasst_chosen_is_the_better_ranked_or_thumbed_reply(build):
    _, rows, kto, _ = build
    messages = oasst_messages(OASST)
    by_text = {m["text"]: m for m in messages.values()}
    n_rank = n_thumbs = 0
    for row in (r for r in rows if r["source_event_ids"][0].startswith("oasst-")):
        chosen, rejected = by_text[row["chosen"][-1]["content"]], by_text[row["rejected"][-1]["content"]]
        if all("-over-" in e for e in row["source_event_ids"]):
            n_rank += 1
            assert chosen["rank"] < rejected["rank"] and chosen["parent_id"] == rejected["parent_id"]
        else:
            n_thumbs += 1
            score = lambda m: m["emojis"].get("+1", 0) - m["emojis"].get("-1", 0)  # noqa: E731
            assert score(chosen) > 0 > score(rejected)
    assert (n_rank, n_thumbs) == (56, 0)  # the 6 thumbs pairs compare ranked siblings: superseded
    for row in (r for r in kto if r["source_event_ids"][0].startswith("oasst-")):
        m = by_text[row["completion"][-1]["content"]]
        assert row["label"] == (m["emojis"]["+1"] > m["emojis"].get("-1", 0))


@pytest.mark.slow
def test_arena_ultrafeedback_and_helpsteer2_chosen_match_the_source(build):
    _, rows, kto, _ = build
    battles = {b.get("question_id"): b for b in json.loads(BATTLES.read_text())}
    ultra = {c["response"]: mean_score(c["annotations"]) for line in ULTRA.read_text().splitlines()
             for c in json.loads(line)["completions"] if c.get("annotations")
             and any(a.get("Rating", "N/A") != "N/A" for a in c["annotations"].values() if isinstance(a, dict))}
    helpful = {json.loads(line)["response"]: json.loads(line)["helpfulness"] for line in HELPSTEER.read_text().splitlines()}
    hp = {str(r["id"]): r for r in pcsv.read_csv(ARENA_55K).to_pylist()}
    seen = Counter()
    for row in rows:
        fmt = _by_format(row["source_event_ids"])
        chosen, rejected = row["chosen"][-1]["content"], row["rejected"][-1]["content"]
        if fmt == "arena":
            qid = row["source_event_ids"][0].removeprefix("arena-")
            if qid in battles:
                b = battles[qid]
                side = b["winner"][-1]
                assert chosen == b[f"conversation_{side}"][-1]["content"]
                assert rejected == b[f"conversation_{'b' if side == 'a' else 'a'}"][-1]["content"]
            else:
                r = hp[qid]
                side = "a" if r["winner_model_a"] else "b"
                assert chosen == json.loads(r[f"response_{side}"])[0]
            assert "kills everyone" not in row["prompt"][-1]["content"]  # moderation-flagged: never published
        elif fmt == "ultrafeedback":
            assert ultra[chosen] - ultra[rejected] >= 1
            assert row["label_source"] == "ai_annotator"
        elif fmt == "helpsteer2":
            assert helpful[chosen] > helpful[rejected]
        seen[fmt] += 1
    assert seen["arena"] == 4 and seen["ultrafeedback"] == 4 and seen["helpsteer2"] == 2
    for row in (r for r in kto if r["source_event_ids"][0].startswith("helpsteer2-")):
        assert row["label"] == (helpful[row["completion"][-1]["content"]] >= 3)


def test_samples_are_committed_with_their_source():
    for folder in ("pandalm", "oasst", "arena", "helpsteer2"):
        assert (DATA / folder / "SOURCE.md").read_text().strip()
    for folder in ("pandalm", "oasst"):
        assert "Apache License" in (DATA / folder / "LICENSE").read_text()
