"""The realistic mode of the generator: deterministic files whose prompts and replies are nearly
all distinct, composed from the bundled real text with its lengths and vocabulary, a product's
event mix, a few % of re-asked prompts, every template family, PII and junk in small shares,
and records that meet the contract except the ones broken on purpose."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa
import pytest

from pipeline.capture.landing import capture_day
from pipeline.dedup import minhash
from pipeline.synth.generate import write_landing
from pipeline.synth.generate_realistic import CHAIN_KINDS, GREETINGS, chains
from pipeline.synth.textgen import build_chains, key
from pipeline.template_normalization import pii
from pipeline.template_normalization.templates import TEMPLATE_FAMILIES, parse_prompt

N = 4000
DAYS = ("2026-11-01", "2026-11-02")
WORD = re.compile(r"\S+")


def _files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    home = tmp_path_factory.mktemp("realistic")
    summary = write_landing(home / "landing", n=N, days=len(DAYS), start=date.fromisoformat(DAYS[0]), seed=3,
                            mode="realistic")
    captured = {d: capture_day(home / "landing", d) for d in DAYS}
    return home, summary, captured


def _events(captured) -> list[dict]:
    """The captured events of a day, one per (event_id, content): redeliveries counted once."""
    table = captured.events.select(["event_id", "content_hash", "event_type", "prompt_json", "category",
                                    "label_edited_content", "record_id"])
    responses = captured.responses.to_pylist()
    by_record: dict[str, list[str]] = {}
    for r in responses:
        by_record.setdefault(r["record_id"], []).append(r["content"])
    seen, out = set(), []
    for row in table.to_pylist():
        if (row["event_id"], row["content_hash"]) in seen:
            continue
        seen.add((row["event_id"], row["content_hash"]))
        row["messages"] = parse_prompt(orjson.loads(row["prompt_json"])).messages
        row["responses"] = by_record[row["record_id"]]
        out.append(row)
    return out


@pytest.fixture(scope="module")
def day_one(home):
    return _events(home[2][DAYS[0]])


def test_same_arguments_give_identical_files(home, tmp_path):
    root, _, _ = home
    write_landing(tmp_path / "landing", n=N, days=len(DAYS), start=date.fromisoformat(DAYS[0]), seed=3,
                  mode="realistic")
    assert _files(root) == _files(tmp_path)
    write_landing(tmp_path / "other", n=N, days=1, start=date.fromisoformat(DAYS[0]), seed=4, mode="realistic")
    name = Path(DAYS[0]) / "events-000.jsonl"
    assert (root / "landing" / name).read_bytes() != (tmp_path / "other" / name).read_bytes()


def test_texts_depend_on_their_key_alone():
    model = chains()
    kinds = np.arange(len(keys := key(5, np.arange(2000)))) % len(CHAIN_KINDS)
    texts = model.texts(model.generate(kinds, keys)).to_pylist()
    subset = np.arange(0, 2000, 7)[::-1]
    again = model.texts(model.generate(kinds[subset], keys[subset])).to_pylist()
    assert again == [texts[i] for i in subset]


def test_every_record_but_the_broken_ones_meets_the_contract(home):
    root, summary, captured = home
    quarantined = sum(c.quarantine.num_rows for c in captured.values())
    assert quarantined == summary["malformed"] > 0
    assert sum(c.events.num_rows for c in captured.values()) + quarantined == summary["records"]
    reasons = {r for c in captured.values() for r in c.quarantine.column("reason").to_pylist()}
    assert reasons == {"json_invalid", "schema:user_id", "schema:consent_training", "schema:event_type"}


def test_prompts_and_replies_are_nearly_all_distinct(day_one):
    prompts = [orjson.dumps(e["messages"]) for e in day_one]
    replies = [r for e in day_one for r in e["responses"]]
    assert len(set(prompts)) / len(prompts) >= 0.9
    assert len(set(replies)) / len(replies) >= 0.9


def test_a_product_event_mix(day_one):
    kinds = Counter(e["event_type"] for e in day_one)
    share = {k: v / len(day_one) for k, v in kinds.items()}
    assert share["thumbs"] + share["regenerate"] > 0.65
    assert share["thumbs"] > share["regenerate"] > share["pairwise"]
    assert 0.03 < share["pairwise"] < 0.15 and share["rating"] > 0.03 and share["edit"] > 0.03
    categories = Counter(e["category"] for e in day_one)
    assert categories["general"] > categories["safety"] > categories["creative"] > 0


def _real_messages(side: str, source: str) -> list[str]:
    """Real user turns or replies of HH-RLHF or OASST, read from the bundled files."""
    from pipeline.synth.generate import OASST_PROMPTS, _oasst_groups
    from pipeline.synth.hh_rlhf import read_pairs, split_pair

    out: set[str] = set()
    if source == "hh":
        for record in read_pairs():
            prompt, chosen, rejected = split_pair(record["chosen"], record["rejected"])
            out |= {m["content"] for m in prompt if m["role"] == "user"} if side == "user" else {chosen, rejected}
        return sorted(out)
    for messages, replies, _ in _oasst_groups():
        out |= {m["content"] for m in messages if m["role"] == "user"} if side == "user" else set(replies)
    if side == "user":
        out |= {orjson.loads(line) for line in OASST_PROMPTS.read_bytes().splitlines() if line.strip()}
    return sorted(out)


@pytest.mark.parametrize("side", ["user", "assistant"])
@pytest.mark.parametrize("source", ["hh", "oasst"])
def test_lengths_and_vocabulary_follow_the_real_text(day_one, side, source):
    events = [e for e in day_one if (e["category"] == "safety") == (source == "hh")
              and e["messages"][-1]["content"] not in GREETINGS]
    generated = ([e["messages"][-1]["content"] for e in events] if side == "user"
                 else [r for e in events for r in e["responses"] if r])
    generated = [t for t in generated if len(t) < 32_000]
    real = _real_messages(side, source)
    lengths = np.array([len(WORD.findall(t)) for t in generated])
    real_lengths = np.array([len(WORD.findall(t)) for t in real])
    for q in (0.25, 0.5, 0.75, 0.9):
        assert 0.75 < np.quantile(lengths, q) / np.quantile(real_lengths, q) < 1.3, q
    # Texts of both sources continue in each other's text of the same side (user or assistant).
    vocabulary = {w for src in ("hh", "oasst") for t in _real_messages(side, src) for w in WORD.findall(t)}
    words = [w for t in generated for w in WORD.findall(t)]
    assert sum(w in vocabulary for w in words) / len(words) > 0.99


def test_every_template_family_appears_and_parses(home):
    _, _, captured = home
    events = captured[DAYS[1]].events
    families = Counter(parse_prompt(orjson.loads(p)).template_id for p in events.column("prompt_json").to_pylist())
    assert set(families) == {"messages", *TEMPLATE_FAMILIES}


def test_a_few_prompts_are_asked_again(home, day_one):
    # Exactly: the same conversation under another event (the same day or later).
    day_two = _events(home[2][DAYS[1]])
    first = {orjson.dumps(e["messages"]): e["event_id"] for e in day_one}
    again = [e for e in day_two if orjson.dumps(e["messages"]) in first]
    assert 0 < len(again) / len(day_two) < 0.05
    # With a few words changed: near-duplicate clusters of distinct last user turns.
    turns = sorted({e["messages"][-1]["content"] for e in day_one if len(WORD.findall(e["messages"][-1]["content"])) >= 12})
    config = minhash.MinHashConfig()
    labels, edges, _ = minhash.cluster(minhash.signatures(pa.array(turns), config), config)
    near = sum(c for c in Counter(labels).values() if c > 1)
    assert 0.002 < near / len(turns) < 0.06


def test_pii_and_junk_come_in_small_shares(day_one):
    prompts = pa.array([e["messages"][-1]["content"] for e in day_one], pa.large_string())
    kinds = pii.scan_batch(prompts).column("kinds").to_pylist()
    found = Counter(k for ks in kinds for k in ks)
    assert {"EMAIL", "PHONE", "SECRET"} <= set(found)
    assert 0.008 < sum(bool(ks) for ks in kinds) / len(kinds) < 0.04
    replies = pa.array([e["responses"][0] for e in day_one], pa.large_string())
    assert 0 < sum(bool(ks) for ks in pii.scan_batch(replies).column("kinds").to_pylist()) / len(replies) < 0.02
    texts = prompts.to_pylist()
    assert 0.004 < sum(t in GREETINGS for t in texts) / len(texts) < 0.03
    assert any(len(t) > 32_000 for t in texts), "a pasted wall of text over the length limit"
    assert any(e["responses"][0] == "" for e in day_one), "an empty reply"


def test_edits_rewrite_part_of_the_shown_reply(day_one):
    edits = [e for e in day_one if e["event_type"] == "edit" and len(WORD.findall(e["responses"][0])) >= 10]
    assert len(edits) > 50
    for e in edits:
        shown, edited = WORD.findall(e["responses"][0]), WORD.findall(e["label_edited_content"])
        assert edited != shown and len(edited) >= len(shown) * 0.8
        assert len(set(shown) & set(edited)) >= 0.5 * len(set(shown))


def test_chains_restart_a_paragraph_after_a_message_end_and_end_on_a_sentence():
    corpus = ["The cat sat on the mat.", "The dog sat on the sofa. It was warm on the sofa.",
              "A bird sat on the fence and sang.", "The cat and the dog ran."]
    model = build_chains({"k": corpus})
    spans = model.generate(np.zeros(500, int), key(1, np.arange(500)))
    texts = [orjson.loads(f'"{t}"') for t in model.texts(spans).to_pylist()]
    assert all(t == t.strip() for t in texts)
    assert sum(t.endswith(".") for t in texts) / len(texts) > 0.8
    assert any("\n\n" in t for t in texts), "a message end met early starts a new paragraph"
    assert set(WORD.findall(" ".join(texts))) <= {w for t in corpus for w in WORD.findall(t)}
    first = spans.offsets[:-1]
    opening = spans.position[first]
    assert (spans.length[first] < model.message_end[opening] - opening).all(), "the first run leaves its message"
    assert len(set(texts)) > 100
