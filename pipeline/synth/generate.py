"""A seeded generator of feedback events for samples, tests and benchmarks.

Text comes from the bundled real data, recombined deterministically: HH-RLHF prompts with
their chosen/rejected replies (category `safety`), OASST conversation trees with their ranked
replies, OASST lottery prompts, templated coding tasks and arithmetic problems with right and
wrong answers. Every reply carries a quality (HH chosen over rejected, OASST rank, correct
arithmetic), so labels carry a learnable signal: preferences, ratings and thumbs follow quality
with annotator noise.

Each day mixes every event type and template family, and the messes a production feed has:
at-least-once redeliveries (some a day late), the same conversation logged again in another
chat format under a new id, an event id reused with different content, opt-outs, users who
later ask for deletion, and malformed records. The same arguments give byte-identical files.

Speed: random choices are drawn per day as numpy arrays, and records are assembled with Arrow
string kernels from pre-encoded JSON fragments (prompts in every rendering, replies, labels),
so no Python code runs per event.
"""

from __future__ import annotations

import csv
import gzip
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from pipeline.importers.hh_rlhf import split_pair
from pipeline.synth.hh_rlhf import read_pairs
from pipeline.template_normalization.templates import TEMPLATE_FAMILIES, render_prompt

SAMPLE_DIR = Path(__file__).resolve().parents[2] / "data" / "sample"
OASST_TREES = SAMPLE_DIR / "oasst" / "en_100_message.jsonl"
OASST_PROMPTS = SAMPLE_DIR / "oasst" / "prompt_lottery_en_250_text.jsonl"

CATEGORIES = ("general", "coding", "math", "safety", "creative")
CATEGORY_WEIGHTS = (0.60, 0.20, 0.10, 0.07, 0.03)
KINDS = ("pairwise", "rating", "thumbs", "edit", "regenerate")
# A group is one pairwise/edit/regenerate event, or 1-4 ratings or thumbs of replies to one prompt.
GROUP_WEIGHTS = (0.40, 0.20, 0.22, 0.10, 0.08)
GROUP_SIZES = (1, 2, 3, 4)
RENDERINGS = ("messages",) + TEMPLATE_FAMILIES
MODELS = ("acme-chat-7b", "acme-chat-70b", "orca-mini-3b", "qwen-like-14b")
KIND_SOURCES = ("app:compare", "app:chat", "app:chat", "app:editor", "app:chat")
ANNOTATION_SOURCE = "annotation:batch-7"
ANNOTATION_POLICY = "rubric-2026-10"
ANNOTATOR_KINDS = ("end_user", "annotator", "ai")
AI_LABELER = "labeler-bot-v2"

ANNOTATED_SHARE = 0.30  # of pairwise events, from an annotation job
AI_SHARE = 0.03  # of pairwise events, labeled by an AI labeler
TIE_SHARE, UNLABELED_SHARE, LABEL_AGREEMENT = 0.08, 0.17, 0.85
OPT_OUT_SHARE = 0.03
RERENDER_SHARE = 0.02
CONFLICT_SHARE = 0.001
REDELIVERY_SHARE = 0.02
LATE_SHARE = 0.30  # of redeliveries, arriving with the next day's files
MALFORMED_SHARE = 0.015
DELETED_USERS = 3
# gzip is the slowest writer by far: it gets the smallest share.
FORMAT_SHARES = {"jsonl": 0.45, "jsonl.gz": 0.10, "parquet": 0.30, "csv": 0.15}
CHUNK_ROWS = 20_000  # records assembled at a time: bounded memory, and buffers small enough to reuse
LINE_FORMATS = ("jsonl", "jsonl.gz")  # malformed records can only be expressed as broken lines
NESTED_COLUMNS = ("prompt", "responses", "label", "annotator", "tags")
CONTRACT_COLUMNS = ("event_id", "event_type", "created_at", "source", "user_id", "consent_training",
                    "prompt", "responses", "label", "annotator", "policy_version", "tags")
RECOMBINED_PROMPTS = 800
OPENER_REPLY_CHARS = 600  # recombined conversations quote a short earlier answer, as chats mostly do
POOL_SEED = 20261101  # the recombined text pools are fixed; the run seed picks from them

SYSTEM_PROMPTS = (
    "You are a helpful assistant.",
    "You are a concise assistant. Answer in a few sentences.",
    "You are a friendly tutor who explains step by step.",
    "You are an assistant for a customer support team.",
)
CODING_TASKS = ("reverses a linked list", "parses an ISO 8601 date", "merges two sorted lists",
                "counts word frequencies in a file", "checks whether a string is a palindrome",
                "computes a moving average", "flattens a nested list", "retries an HTTP call with backoff")
CODING_LANGUAGES = ("Python", "Rust", "TypeScript", "Go")
EDIT_NOTES = ("", "\n\nPlease double-check the details before relying on this.")

_CODING = re.compile(r"```|\b(python|javascript|typescript|java|c\+\+|rust|golang|sql|code|coding|function|"
                     r"program|script|bash|regex|api|html|css|compile|debug)\b", re.I)
_MATH = re.compile(r"\b(calculate|equation|solve|integral|derivative|probability|math|algebra|"
                   r"arithmetic)\b|\d+\s*[-+*/×]\s*\d+", re.I)
_CREATIVE = re.compile(r"\b(story|poem|haiku|song|lyrics|joke|limerick|fiction|imagine|rap|fairy tale)\b", re.I)


def classify(text: str) -> str:
    if _CODING.search(text):
        return "coding"
    if _MATH.search(text):
        return "math"
    if _CREATIVE.search(text):
        return "creative"
    return "general"


# ---------------------------------------------------------------- text pools

@dataclass(frozen=True)
class Pools:
    """Pre-encoded JSON fragments. Entry e is one prompt conversation: its category, its prompt
    object in every rendering (prompt_json[e * len(RENDERINGS) + k]) and its candidate replies
    candidates[cand_start[e]: cand_start[e] + cand_len[e]] (indices into the reply arrays)."""

    category: np.ndarray
    category_entries: tuple[np.ndarray, ...]
    prompt_json: pa.Array
    cand_start: np.ndarray
    cand_len: np.ndarray
    candidates: np.ndarray
    quality: np.ndarray
    response_frag: tuple[pa.Array, pa.Array]  # '{"response_id":"rK","content":<text>,"model":"' for K = 0, 1
    edit_label: pa.Array  # '{"edited_content":<text + note>}'


class _PoolBuilder:
    def __init__(self) -> None:
        self.entries: list[tuple[str, list[dict[str, str]], int, int]] = []
        self.replies: list[str] = []
        self.quality: list[float] = []
        self.candidates: list[int] = []

    def add_replies(self, texts: Sequence[str], qualities: Sequence[float]) -> tuple[int, int]:
        """Register replies as one candidate range; returns (start, length)."""
        start = len(self.candidates)
        for text, q in zip(texts, qualities):
            self.candidates.append(len(self.replies))
            self.replies.append(text)
            self.quality.append(q)
        return start, len(texts)

    def add_entry(self, category: str, messages: list[dict[str, str]], cand: tuple[int, int]) -> None:
        if cand[1] >= 2:
            self.entries.append((category, messages, *cand))


def _rank_quality(ranks: list[int | None]) -> list[float]:
    known = [r for r in ranks if r is not None]
    top = max(known) if known else 0
    return [0.5 if r is None else 0.85 - 0.6 * r / top if top else 0.6 for r in ranks]


def _oasst_groups() -> Iterator[tuple[list[dict[str, str]], list[str], list[int | None]]]:
    """(conversation up to a prompter message, its assistant replies, their ranks)."""
    with open(OASST_TREES, "rb") as fh:
        roots = [orjson.loads(line) for line in fh if line.strip()]
    stack = [(root, []) for root in reversed(roots)]
    while stack:
        node, path = stack.pop()
        if node.get("deleted") or not node["text"].strip():
            continue
        role = "user" if node["role"] == "prompter" else "assistant"
        here = path + [{"role": role, "content": node["text"].strip()}]
        replies = [r for r in node.get("replies") or [] if not r.get("deleted") and r["text"].strip()]
        if role == "user" and replies:
            yield here, [r["text"].strip() for r in replies], [r.get("rank") for r in replies]
        stack.extend((r, here) for r in reversed(replies))


def _math_entries(builder: _PoolBuilder, rng: np.random.Generator, count: int) -> None:
    for a, b, shape, off in zip(rng.integers(2, 999, count), rng.integers(2, 99, count),
                                rng.integers(0, 3, count), rng.integers(1, 20, count)):
        a, b, off = int(a), int(b), int(off)
        if shape == 0:
            question, working, answer = f"What is {a} + {b}?", f"{a} + {b} = {a + b}", a + b
        elif shape == 1:
            question = f"A box holds {b} pencils. How many pencils are in {a} boxes?"
            working, answer = f"{a} boxes × {b} pencils = {a * b} pencils", a * b
        else:
            question = f"Sam had {a + b} stickers and gave {b} away. How many stickers are left?"
            working, answer = f"{a + b} − {b} = {a}", a
        replies = [f"{working}. The answer is {answer}.",
                   f"Let's work it out step by step: {working}. So the answer is {answer}.",
                   f"The answer is {answer + off}."]
        builder.add_entry("math", [{"role": "user", "content": question}],
                          builder.add_replies(replies, (0.85, 0.9, 0.15)))


@lru_cache(maxsize=1)
def text_pools() -> Pools:
    rng = np.random.default_rng(POOL_SEED)
    b = _PoolBuilder()
    for record in read_pairs():
        prompt, chosen, rejected = split_pair(record["chosen"], record["rejected"])
        if chosen.strip() and rejected.strip():
            b.add_entry("safety", prompt, b.add_replies((chosen, rejected), (0.75, 0.3)))
    shared_general: list[tuple[str, float]] = []
    shared_coding: list[tuple[str, float]] = []
    openers: list[tuple[list[dict[str, str]], str]] = []
    for messages, replies, ranks in _oasst_groups():
        qualities = _rank_quality(ranks)
        b.add_entry(classify(messages[-1]["content"]), messages, b.add_replies(replies, qualities))
        for text, q in zip(replies, qualities):
            (shared_coding if "```" in text else shared_general).append((text, q))
        if len(messages) == 1 and min(map(len, replies)) <= OPENER_REPLY_CHARS:
            short = [(q, t) for q, t in zip(qualities, replies) if len(t) <= OPENER_REPLY_CHARS]
            openers.append((messages, max(short)[1]))
    general = b.add_replies(*zip(*shared_general))
    coding = b.add_replies(*zip(*shared_coding))
    with open(OASST_PROMPTS, "rb") as fh:
        lottery = [t.strip() for t in (orjson.loads(line) for line in fh if line.strip()) if t.strip()]
    for text in lottery:
        category = classify(text)
        b.add_entry(category, [{"role": "user", "content": text}], coding if category == "coding" else general)
    for task in CODING_TASKS:
        for language in CODING_LANGUAGES:
            b.add_entry("coding", [{"role": "user", "content": f"Write a {language} function that {task}."}], coding)
    _math_entries(b, rng, 2_000)
    # Multi-turn recombinations: a real opener and its best reply, then a lottery prompt.
    for k in range(RECOMBINED_PROMPTS):
        opener, answer = openers[int(rng.integers(len(openers)))]
        follow = lottery[int(rng.integers(len(lottery)))]
        system = [{"role": "system", "content": SYSTEM_PROMPTS[k % len(SYSTEM_PROMPTS)]}] if k % 2 else []
        category = classify(follow)
        b.add_entry(category, system + opener + [{"role": "assistant", "content": answer},
                                                 {"role": "user", "content": follow}],
                    coding if category == "coding" else general)
    return _encode(b)


def _prompt_object(messages: list[dict[str, str]], rendering: str) -> dict[str, Any]:
    """The prompt as logged in ``rendering``; families that cannot hold the conversation (plain
    and alpaca hold one user turn, HH needs alternating turns) log it as chatml instead."""
    if rendering == "messages":
        return {"messages": messages}
    try:
        return {"text": render_prompt(messages, rendering), "template": rendering}
    except ValueError:
        return {"text": render_prompt(messages, "chatml"), "template": "chatml"}


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _encode(b: _PoolBuilder) -> Pools:
    category = np.array([CATEGORIES.index(c) for c, *_ in b.entries], dtype=np.int8)
    prompt_json = [_json_text(_prompt_object(m, r)) for _, m, *_ in b.entries for r in RENDERINGS]
    reply_json = [_json_text(t) for t in b.replies]
    return Pools(
        category=category,
        category_entries=tuple(np.flatnonzero(category == c) for c in range(len(CATEGORIES))),
        prompt_json=pa.array(prompt_json, pa.large_string()),
        cand_start=np.array([s for *_, s, _ in b.entries], dtype=np.int64),
        cand_len=np.array([n for *_, n in b.entries], dtype=np.int64),
        candidates=np.array(b.candidates, dtype=np.int64),
        quality=np.array(b.quality),
        response_frag=tuple(pa.array([f'{{"response_id":"r{k}","content":{t},"model":"' for t in reply_json],
                                     pa.large_string()) for k in (0, 1)),
        edit_label=pa.array([_json_text({"edited_content": t + EDIT_NOTES[i % 2]}) for i, t in enumerate(b.replies)],
                            pa.large_string()),
    )


# ---------------------------------------------------------------- event specs (numpy)

LABELS = ('{"preferred":"r0"}', '{"preferred":"r1"}', '{"tie":true}', '{"preferred":null}',
          '{"score":1}', '{"score":2}', '{"score":3}', '{"score":4}', '{"score":5}',
          '{"value":"up"}', '{"value":"down"}', '{"discarded":"r0"}', '{"discarded":"r1"}')
SCORE_LABEL, THUMB_LABEL, DISCARD_LABEL = 3, 9, 11  # LABELS[SCORE_LABEL + s] is {"score": s}


def _specs(pools: Pools, n: int, users: int, midnight: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random choices for ``n`` events as aligned arrays (one row per event)."""
    groups = n  # every group holds at least one event, so n groups always suffice
    g_kind = rng.choice(len(KINDS), size=groups, p=GROUP_WEIGHTS).astype(np.int8)
    g_size = np.where((g_kind == 1) | (g_kind == 2), rng.choice(GROUP_SIZES, size=groups), 1)
    g_cat = rng.choice(len(CATEGORIES), size=groups, p=CATEGORY_WEIGHTS)
    g_pick = rng.random(groups)
    g_entry = np.empty(groups, dtype=np.int64)
    for c, members in enumerate(pools.category_entries):
        mask = g_cat == c
        g_entry[mask] = members[(g_pick[mask] * len(members)).astype(np.int64)]
    g_render = rng.integers(0, len(RENDERINGS), size=groups)
    g_first = rng.random(groups)
    group = np.repeat(np.arange(groups), g_size)[:n]
    slot = np.arange(n) - (np.cumsum(g_size) - g_size)[group]  # position within the group

    kind, entry = g_kind[group], g_entry[group]
    start, length = pools.cand_start[entry], pools.cand_len[entry]
    # A group of ratings/thumbs walks the prompt's replies, so one prompt gets several replies judged.
    a = ((g_first[group] * length).astype(np.int64) + slot) % length
    b = (a + 1 + (rng.random(n) * (length - 1)).astype(np.int64)) % length
    r0, r1 = pools.candidates[start + a], pools.candidates[start + b]
    q0, q1 = pools.quality[r0], pools.quality[r1]
    better_first = (q0 >= q1) ^ (rng.random(n) > LABEL_AGREEMENT)  # annotators disagree with quality sometimes

    roll = rng.random(n)
    pairwise_label = np.where(roll < TIE_SHARE, 2, np.where(roll < TIE_SHARE + UNLABELED_SHARE, 3,
                                                             np.where(better_first, 0, 1)))
    score = np.clip(np.rint(1 + 4 * q0 + rng.normal(0, 0.8, n)), 1, 5).astype(np.int64)
    thumb_down = rng.random(n) >= 0.1 + 0.8 * q0
    label = np.select(
        [kind == 0, kind == 1, kind == 2, kind == 4],
        [pairwise_label, SCORE_LABEL + score, THUMB_LABEL + thumb_down, DISCARD_LABEL + better_first],
        -1,
    )
    # An edit shows the weaker reply and the user rewrites it into the stronger one.
    shown = np.where(q0 <= q1, r0, r1)
    edit_reply = np.where(kind == 3, np.where(q0 <= q1, r1, r0), -1)
    r0 = np.where(kind == 3, shown, r0)
    r1 = np.where((kind == 0) | (kind == 4), r1, -1)

    annot_roll = rng.random(n)
    annot = np.where(kind == 0, np.where(annot_roll < AI_SHARE, 2, np.where(annot_roll < ANNOTATED_SHARE, 1, 0)), 0)
    return {
        "seq": np.arange(n, dtype=np.int64),
        "kind": kind,
        "category": g_cat[group],
        "entry": entry,
        "rendering": g_render[group],
        "user": (users * rng.random(n) ** 2).astype(np.int64),  # a few heavy users, a long tail
        "stamp": midnight + rng.integers(0, 86_400, size=n),  # epoch seconds
        "day": np.full(n, midnight),
        "consent": rng.random(n) >= OPT_OUT_SHARE,
        "annot": annot.astype(np.int8),
        "annotator_no": rng.integers(0, 25, size=n),
        "saw_draft": (kind == 3) | (rng.random(n) < 0.1),
        "r0": r0, "r1": r1,
        "m0": rng.integers(0, len(MODELS), size=n), "m1": rng.integers(0, len(MODELS), size=n),
        "label": label,
        "edit_reply": edit_reply,
        "retry": np.zeros(n, dtype=bool),
        "broken": np.full(n, -1, dtype=np.int8),  # how the record is malformed, -1 when it is not
    }


def _take_rows(specs: dict[str, np.ndarray], rows: np.ndarray) -> dict[str, np.ndarray]:
    return {k: v[rows] for k, v in specs.items()}


def _concat(*parts: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _day_specs(mode: Mode, n: int, users: int, day: date, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``n`` events: fresh ones, the same conversation re-logged in another rendering under a new
    id, and event ids reused for different content (a client retry that changed the record)."""
    rerender, conflict = round(n * RERENDER_SHARE), round(n * CONFLICT_SHARE)
    midnight = int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())
    fresh = mode.specs(n - rerender - conflict, users, midnight, rng)
    m = len(fresh["seq"])
    again = _take_rows(fresh, np.sort(rng.choice(m, size=min(rerender, m), replace=False)))
    again["seq"] = m + np.arange(len(again["seq"]))
    again["rendering"] = (again["rendering"] + rng.integers(1, len(RENDERINGS), size=len(again["seq"]))) % len(RENDERINGS)
    again["stamp"] = np.minimum(again["stamp"] + rng.integers(1, 120, size=len(again["seq"])), midnight + 86_399)
    clash = _take_rows(fresh, np.sort(rng.choice(m, size=min(conflict, m), replace=False)))
    clash["stamp"] = midnight + rng.integers(0, 86_400, size=len(clash["seq"]))
    clash["retry"][:] = True
    return _concat(fresh, again, clash)


# ---------------------------------------------------------------- records (Arrow)

def _idx(rows: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Take indices as int32: Arrow's take on large strings is several times faster with them."""
    return pa.array(rows.astype(np.int32), mask=mask)


def _lit(values: Sequence[str]) -> pa.Array:
    return pa.array(values, pa.large_string())


def _join(*parts: Any) -> pa.Array:
    """Element-wise concatenation; Python strings are broadcast as large_string scalars."""
    return pc.binary_join_element_wise(
        *(pa.scalar(p, pa.large_string()) if isinstance(p, str) else p for p in parts),
        pa.scalar("", pa.large_string()))


def _choose(mask: np.ndarray, yes: Any, no: Any) -> pa.Array:
    wide = [pa.scalar(v, pa.large_string()) if isinstance(v, str) or v is None else v for v in (yes, no)]
    return pc.if_else(pa.array(mask), *wide)


def _or(values: pa.Array, default: str) -> pa.Array:
    return pc.fill_null(values, pa.scalar(default, pa.large_string()))


@lru_cache(maxsize=1)
def _clock() -> pa.Array:
    return _lit([f"{h:02d}:{m:02d}:{sec:02d}Z" for h in range(24) for m in range(60) for sec in range(60)])


def _pool_texts(pools: Pools, s: dict[str, np.ndarray]) -> dict[str, pa.Array]:
    """The text-bearing columns of pool events: prompt, responses (JSON text), the edit label
    (null but for edits) and tags."""
    models = _lit(MODELS)
    second_rows = _idx(s["r1"], mask=s["r1"] < 0)
    second = _or(_join(",", pools.response_frag[1].take(second_rows), models.take(_idx(s["m1"])), '"}'), "")
    return {
        "prompt": pools.prompt_json.take(_idx(s["entry"] * len(RENDERINGS) + s["rendering"])),
        "responses": _join("[", pools.response_frag[0].take(_idx(s["r0"])), models.take(_idx(s["m0"])),
                           '"}', second, "]"),
        "edit_label": pools.edit_label.take(_idx(s["edit_reply"], mask=s["edit_reply"] < 0)),
        "tags": _lit([_json_text({"category": c, "language": "en"}) for c in CATEGORIES]).take(_idx(s["category"])),
    }


def _columns(s: dict[str, np.ndarray], user_ids: pa.Array, texts: dict[str, pa.Array]) -> dict[str, pa.Array]:
    """The contract fields of each event as Arrow columns, nested ones as JSON text; `texts`
    holds the text-bearing ones (as `_pool_texts` returns them)."""
    # Timestamps and id prefixes come from lookup tables (the days present, the 86,400 clock
    # times): Arrow's strftime formats every row and is several times slower.
    days, day_row = np.unique(s["day"], return_inverse=True)
    dates = [datetime.fromtimestamp(int(d), UTC).date() for d in days]
    seq = pc.utf8_lpad(pc.cast(pa.array(s["seq"]), pa.large_string()), 7, "0")
    annotated = s["annot"] > 0
    user = user_ids.take(_idx(s["user"]))
    annotator_no = pc.utf8_lpad(pc.cast(pa.array(s["annotator_no"]), pa.large_string()), 3, "0")
    annotator_id = _choose(s["annot"] == 1, _join("ann-", annotator_no), _choose(s["annot"] == 2, AI_LABELER, user))
    return {
        "event_id": _join(_lit([f"evt-{d:%Y%m%d}-" for d in dates]).take(_idx(day_row)), seq),
        "event_type": _lit(KINDS).take(_idx(s["kind"])),
        "created_at": _join(_lit([f"{d}T" for d in dates]).take(_idx(day_row)), _clock().take(_idx(s["stamp"] - s["day"]))),
        "source": pa.array(np.where(s["retry"], "app:retry",
                                    np.where(annotated, ANNOTATION_SOURCE, np.array(KIND_SOURCES)[s["kind"]])),
                           pa.large_string()),
        "user_id": user,
        "consent_training": pa.array(s["consent"]),
        "prompt": texts["prompt"],
        "responses": texts["responses"],
        "label": pc.coalesce(_lit(LABELS).take(_idx(s["label"], mask=s["label"] < 0)), texts["edit_label"]),
        "annotator": _join('{"kind":"', _lit(ANNOTATOR_KINDS).take(_idx(s["annot"])), '","id":"', annotator_id,
                           '","saw_model_draft":', _choose(s["saw_draft"], "true", "false"), "}"),
        "policy_version": _choose(annotated, ANNOTATION_POLICY, None),
        "tags": texts["tags"],
    }


def _lines(c: dict[str, pa.Array], s: dict[str, np.ndarray]) -> pa.Array:
    """Each event (columns `c`) as one JSON line (newline included); the records chosen to
    break are broken."""
    pieces: list[Any] = []
    for name in CONTRACT_COLUMNS:
        pieces.append(("{" if not pieces else ",") + f'"{name}":')
        if name == "consent_training":
            pieces.append(_choose(s["consent"], "true", "false"))
        elif name == "policy_version":
            pieces.append(_or(_join('"', c[name], '"'), "null"))
        elif name in NESTED_COLUMNS:
            pieces.append(c[name])
        else:
            pieces += ['"', c[name], '"']
    lines = _join(*pieces, "}\n")
    broken = np.flatnonzero(s["broken"] >= 0)
    if len(broken):
        texts = lines.take(_idx(broken)).to_pylist()
        fixed = [_malform(t.rstrip("\n"), int(how)) + "\n" for t, how in zip(texts, s["broken"][broken])]
        lines = pc.replace_with_mask(lines, pa.array(s["broken"] >= 0), _lit(fixed))
    return lines


def _malform(line: str, how: int) -> str:
    """One of the ways real feeds break: truncation, a missing field, a wrong type, an unknown enum."""
    if how == 0:
        return line[: max(1, len(line) // 2)]
    obj = orjson.loads(line)
    if how == 1:
        del obj["user_id"]
    elif how == 2:
        obj["consent_training"] = "yes"
    else:
        obj["event_type"] = "star_rating"
    return _json_text(obj)


def format_shares(formats: Sequence[str]) -> dict[str, float]:
    unknown = [f for f in formats if f not in FORMAT_SHARES]
    if unknown or not formats:
        raise ValueError(f"formats must be drawn from {', '.join(FORMAT_SHARES)}, got {list(formats)}")
    total = sum(FORMAT_SHARES[f] for f in formats)
    return {f: FORMAT_SHARES[f] / total for f in dict.fromkeys(formats)}


def stretches(rows: int, formats: Sequence[str]) -> list[tuple[str, int, int]]:
    """Contiguous (format, start, end) record ranges, one per file of a day."""
    out, start = [], 0
    shares = list(format_shares(formats).items())
    for i, (fmt, share) in enumerate(shares):
        end = rows if i == len(shares) - 1 else start + round(rows * share)
        out.append((fmt, start, end))
        start = end
    return out


def _lay_out(records: dict[str, np.ndarray], formats: Sequence[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Shuffle a day's records and mark some broken, placing those in the line-format files
    (a Parquet or CSV column cannot hold a truncated record)."""
    rows = len(records["seq"])
    line_slots = np.concatenate([np.arange(a, b) for f, a, b in stretches(rows, formats) if f in LINE_FORMATS]
                                or [np.array([], dtype=np.int64)])
    n_bad = min(len(line_slots), int(rng.binomial(rows, MALFORMED_SHARE)))
    bad_slots = rng.choice(line_slots, size=n_bad, replace=False)
    is_bad = np.zeros(rows, dtype=bool)
    is_bad[bad_slots] = True
    order = rng.permutation(rows)  # its first n_bad records are the ones to break
    placed = np.empty(rows, dtype=np.int64)
    placed[bad_slots] = order[:n_bad]
    placed[~is_bad] = order[n_bad:]
    out = _take_rows(records, placed)
    out["broken"] = np.where(is_bad, rng.integers(0, 4, size=rows), -1).astype(np.int8)
    return out


class LandingBatch(NamedTuple):
    """Up to CHUNK_ROWS records of one landing file, in file order. Line formats: columns
    `record` (the JSON line, newline included; broken where `malformed`), `malformed`, `user_id`.
    Parquet/CSV: the contract columns (nested fields as JSON text)."""

    day: str
    file_name: str
    file_format: str
    table: pa.Table


def _user_ids(users: int) -> pa.Array:
    return _lit([f"user-{u:06d}" for u in range(users)])


def user_count(n: int) -> int:
    return max(20, n // 5)


class Mode(ABC):
    """How a day's events get their texts: `specs` draws the events' random choices as arrays,
    `texts` turns a batch of them into the text-bearing columns (see `_pool_texts`)."""

    chunk_rows = CHUNK_ROWS

    @abstractmethod
    def specs(self, n: int, users: int, midnight: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """Random choices for ``n`` fresh events as aligned arrays (see `_specs`)."""

    @abstractmethod
    def texts(self, s: dict[str, np.ndarray]) -> dict[str, pa.Array]:
        """prompt, responses, edit_label and tags of a batch of events."""


class PoolMode(Mode):
    """Texts recombined from a fixed pool of a few thousand real prompts and replies: past
    ~100k events a day most events repeat a prompt exactly."""

    def __init__(self) -> None:
        self.pools = text_pools()

    def specs(self, n: int, users: int, midnight: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return _specs(self.pools, n, users, midnight, rng)

    def texts(self, s: dict[str, np.ndarray]) -> dict[str, pa.Array]:
        return _pool_texts(self.pools, s)


MODES = ("pool", "realistic")


def make_mode(name: str, seed: int) -> Mode:
    if name == "pool":
        return PoolMode()
    if name == "realistic":
        from pipeline.synth.generate_realistic import RealisticMode

        return RealisticMode(seed)
    raise ValueError(f"mode must be one of {', '.join(MODES)}, got {name!r}")


def generate_events(n: int, days: int, start: date, seed: int,
                    formats: Sequence[str] = tuple(FORMAT_SHARES), mode: str = "pool") -> Iterator[LandingBatch]:
    """Per day, ``n`` generated events plus redeliveries, shuffled and laid out over one file per
    format; malformed records sit in line-format files (with no line format there are none).
    ``mode``: "pool" recombines a fixed pool of real texts, "realistic" composes distinct
    texts from the real ones (pipeline/synth/generate_realistic.py)."""
    texts = make_mode(mode, seed)
    users = user_count(n)
    user_ids = _user_ids(users)
    carried: dict[str, np.ndarray] | None = None  # yesterday's late redeliveries
    for d in range(days):
        day = start + timedelta(days=d)
        rng = np.random.default_rng([seed, d])
        specs = _day_specs(texts, n, users, day, rng)
        redeliver = np.flatnonzero(rng.random(len(specs["seq"])) < REDELIVERY_SHARE)
        late = rng.random(len(redeliver)) < LATE_SHARE
        parts = [specs, _take_rows(specs, redeliver[~late])] + ([carried] if carried is not None else [])
        carried = _take_rows(specs, redeliver[late])
        records = _lay_out(_concat(*parts), formats, rng)
        for i, (fmt, a, b) in enumerate(stretches(len(records["seq"]), formats)):
            for lo in range(a, b, texts.chunk_rows):
                chunk = {k: v[lo: min(b, lo + texts.chunk_rows)] for k, v in records.items()}
                columns = _columns(chunk, user_ids, texts.texts(chunk))
                if fmt in LINE_FORMATS:
                    table = pa.table({"record": _lines(columns, chunk),
                                      "malformed": pa.array(chunk["broken"] >= 0),
                                      "user_id": columns["user_id"]})
                else:
                    table = pa.table(columns)
                yield LandingBatch(day.isoformat(), f"events-{i:03d}.{fmt}", fmt, table)


# ---------------------------------------------------------------- files

class _FileWriter:
    """Appends batches to one landing file; output depends only on the batches (gzip without
    a timestamp or name), so the same batches give the same bytes."""

    def __init__(self, path: Path, fmt: str, schema: pa.Schema) -> None:
        self.fmt, self.rows = fmt, 0
        self.raw = open(path, "wb")
        if fmt == "jsonl.gz":
            self.out: Any = gzip.GzipFile(filename="", fileobj=self.raw, mode="wb", compresslevel=1, mtime=0)
        elif fmt == "parquet":
            self.out = pq.ParquetWriter(self.raw, schema, compression="zstd")
        elif fmt == "csv":
            self.out = pcsv.CSVWriter(self.raw, schema)
        else:
            self.out = self.raw

    def write(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        if self.fmt in LINE_FORMATS:
            for chunk in table.column("record").chunks:
                offsets = np.frombuffer(chunk.buffers()[1], dtype=np.int64)[chunk.offset: chunk.offset + len(chunk) + 1]
                self.out.write(memoryview(chunk.buffers()[2])[offsets[0]: offsets[-1]])
        else:
            self.out.write_table(table)

    def close(self) -> None:
        if self.out is not self.raw:
            self.out.close()
        self.raw.close()


def write_batches(landing_root: Path, batches: Iterator[LandingBatch]) -> dict[str, dict[str, int]]:
    """Write batches to landing_root/<day>/<file>: {day: {file name: records}}."""
    counts: dict[str, dict[str, int]] = {}
    writer: _FileWriter | None = None
    current = None
    for batch in batches:
        if (batch.day, batch.file_name) != current:
            if writer is not None:
                writer.close()
            folder = Path(landing_root) / batch.day
            folder.mkdir(parents=True, exist_ok=True)
            writer = _FileWriter(folder / batch.file_name, batch.file_format, batch.table.schema)
            current = (batch.day, batch.file_name)
        writer.write(batch.table)
        counts.setdefault(batch.day, {})[batch.file_name] = writer.rows
    if writer is not None:
        writer.close()
    return counts


def generate_days(n: int, days: int, start: date, seed: int,
                  mode: str = "pool") -> dict[str, tuple[list[bytes], list[dict | None]]]:
    """Per day: the records as JSON lines and, aligned, the events they encode (None where
    malformed). Convenient for small tests; benchmarks stream generate_events."""
    out: dict[str, tuple[list[bytes], list[dict | None]]] = {}
    for batch in generate_events(n, days, start, seed, formats=("jsonl",), mode=mode):
        lines, events = out.setdefault(batch.day, ([], []))
        for text, bad in zip(batch.table.column("record").to_pylist(), batch.table.column("malformed").to_pylist()):
            lines.append(text.rstrip("\n").encode())
            events.append(None if bad else orjson.loads(text))
    return out


def pick_deleted_users(user_ids: Sequence[str], seed: int, count: int = DELETED_USERS) -> list[str]:
    """A seeded handful of the given users."""
    present = sorted(set(user_ids))
    rng = np.random.default_rng([seed, 9_999])
    return sorted(rng.choice(present, size=min(count, len(present)), replace=False).tolist())


def write_deletions(control_dir: Path, user_ids: Sequence[str], requested_at: datetime | None = None) -> Path:
    """$PREFLINE_HOME/control/deletions.csv: one request per user (user_id, requested_at, reason)."""
    control_dir.mkdir(parents=True, exist_ok=True)
    when = (requested_at or datetime(2026, 12, 1, 9, tzinfo=UTC)).isoformat().replace("+00:00", "Z")
    reasons = ("user request", "account closed", "right to erasure")
    path = control_dir / "deletions.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(["user_id", "requested_at", "reason"])
        for i, user in enumerate(user_ids):
            writer.writerow([user, when, reasons[i % len(reasons)]])
    return path


def write_landing(landing_root: Path, n: int, days: int, start: date, seed: int = 7,
                  formats: Sequence[str] = tuple(FORMAT_SHARES), control_dir: Path | None = None,
                  mode: str = "pool") -> dict[str, Any]:
    """Write ``n`` events a day (plus redeliveries) for ``days`` days under landing_root/<day>/,
    one file per format, and deletion requests for a few users with valid events on the first
    day under control_dir (default: landing_root/../control), dated the morning after the last day.
    ``mode`` as in generate_events."""
    first_day_users: list[str] = []
    malformed = 0

    def observed(batches: Iterator[LandingBatch]) -> Iterator[LandingBatch]:
        nonlocal malformed
        for batch in batches:
            valid = batch.table
            if "malformed" in valid.column_names:
                bad = valid.column("malformed")
                malformed += pc.sum(bad).as_py() or 0
                valid = valid.filter(pc.invert(bad))
            if batch.day == start.isoformat():
                first_day_users.extend(pc.unique(valid.column("user_id")).to_pylist())
            yield batch

    counts = write_batches(Path(landing_root), observed(generate_events(n, days, start, seed, formats, mode)))
    deleted = pick_deleted_users(first_day_users, seed)
    end = start + timedelta(days=days)
    write_deletions(Path(control_dir or Path(landing_root).parent / "control"), deleted,
                    datetime(end.year, end.month, end.day, 9, tzinfo=UTC))
    return {"days": counts, "records": sum(sum(d.values()) for d in counts.values()),
            "malformed": malformed, "deleted_users": deleted}
