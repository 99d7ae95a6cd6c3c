"""A seeded generator of feedback events for samples, tests and benchmarks.

Text comes from the bundled real data (HH-RLHF turns, OASST prompts) recombined
deterministically, plus templated math and coding prompts. Each day mixes every event type
and every template family, and the messes a production feed has: at-least-once redeliveries
(some a day late), the same conversation logged in two chat formats, an event id reused with
different content, opt-outs, users who later ask for deletion, and malformed records.
The same arguments always give byte-identical files.
"""

from __future__ import annotations

import csv
import gzip
import io
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.lib.hh_rlhf import read_pairs, split_pair
from pipeline.lib.templates import TEMPLATE_FAMILIES, render_prompt

OASST_PROMPTS = Path(__file__).resolve().parents[2] / "data" / "sample" / "oasst" / "prompt_lottery_en_250_text.jsonl"

CATEGORIES = ("general", "coding", "math", "safety", "creative")
CATEGORY_WEIGHTS = (0.60, 0.20, 0.10, 0.07, 0.03)
# Groups of events: one pairwise, a rating group, a thumbs group, one edit, one regenerate.
GROUP_KINDS = ("pairwise", "rating", "thumbs", "edit", "regenerate")
GROUP_WEIGHTS = (0.40, 0.20, 0.22, 0.10, 0.08)
RENDERINGS = ("messages",) + TEMPLATE_FAMILIES
MODELS = ("acme-chat-7b", "acme-chat-70b", "orca-mini-3b", "qwen-like-14b")
SOURCES = ("app:chat", "app:compare", "annotation:batch-7", "app:api")

MALFORMED_SHARE = 0.015
OPT_OUT_SHARE = 0.03
REDELIVERY_SHARE = 0.02
RERENDER_SHARE = 0.02
CONFLICT_SHARE = 0.001
DELETED_USERS = 3
FORMAT_SHARES = (("jsonl.gz", 0.6), ("jsonl", 0.2), ("parquet", 0.1), ("csv", 0.1))
NESTED = ("prompt", "responses", "label", "annotator", "tags")


@dataclass(frozen=True)
class TextPools:
    prompts: tuple[str, ...]
    responses: tuple[str, ...]


@lru_cache(maxsize=1)
def text_pools() -> TextPools:
    prompts: list[str] = []
    responses: list[str] = []
    for record in read_pairs():
        try:
            prompt, chosen, rejected = split_pair(record["chosen"], record["rejected"])
        except ValueError:
            continue
        if prompt and prompt[0]["role"] == "user":
            prompts.append(prompt[0]["content"])
        responses.extend(r for r in (chosen, rejected) if r.strip())
    with open(OASST_PROMPTS, "rb") as fh:
        prompts.extend(orjson.loads(line) for line in fh if line.strip())
    return TextPools(tuple(dict.fromkeys(p for p in prompts if p.strip())), tuple(dict.fromkeys(responses)))


def _math_prompt(rng: np.random.Generator) -> str:
    a, b = (int(x) for x in rng.integers(2, 999, size=2))
    op = ("+", "-", "*")[int(rng.integers(3))]
    return f"What is {a} {op} {b}? Show your working."


def _coding_prompt(rng: np.random.Generator) -> str:
    tasks = ("reverses a linked list", "parses an ISO date", "merges two sorted lists",
             "counts word frequencies in a file", "checks whether a string is a palindrome",
             "computes a moving average", "flattens a nested list", "retries an HTTP call with backoff")
    langs = ("Python", "Rust", "TypeScript", "Go")
    return f"Write a {langs[int(rng.integers(4))]} function that {tasks[int(rng.integers(len(tasks)))]}."


@dataclass
class _Day:
    day: date
    rng: np.random.Generator
    pools: TextPools
    users: int
    events: list[dict] = field(default_factory=list)
    seq: int = 0

    def next_id(self) -> str:
        self.seq += 1
        return f"evt-{self.day:%Y%m%d}-{self.seq:07d}"

    def timestamp(self) -> str:
        seconds = int(self.rng.integers(0, 86_400))
        ts = datetime(self.day.year, self.day.month, self.day.day, tzinfo=timezone.utc) + timedelta(seconds=seconds)
        return ts.isoformat().replace("+00:00", "Z")

    def prompt_messages(self, category: str) -> list[dict[str, str]]:
        if category == "math":
            text = _math_prompt(self.rng)
        elif category == "coding":
            text = _coding_prompt(self.rng)
        else:
            text = self.pools.prompts[int(self.rng.integers(len(self.pools.prompts)))]
        messages = [{"role": "user", "content": text.strip()}]
        if self.rng.random() < 0.15:  # a multi-turn conversation with a system preamble
            follow = self.pools.prompts[int(self.rng.integers(len(self.pools.prompts)))].strip()
            messages = [{"role": "system", "content": "You are a helpful assistant."}, messages[0],
                        {"role": "assistant", "content": self.response()}, {"role": "user", "content": follow}]
        return messages

    def response(self) -> str:
        return self.pools.responses[int(self.rng.integers(len(self.pools.responses)))]

    def prompt_object(self, messages: list[dict[str, str]], rendering: str) -> dict[str, Any]:
        if rendering == "messages":
            return {"messages": messages}
        try:
            return {"text": render_prompt(messages, rendering), "template": rendering}
        except ValueError:  # plain and alpaca hold one user turn: fall back to a family that can
            return {"text": render_prompt(messages, "chatml"), "template": "chatml"}

    def base(self, kind: str, category: str, prompt: dict[str, Any], user: str) -> dict[str, Any]:
        annotated = kind == "pairwise" and self.rng.random() < 0.3
        return {
            "event_id": self.next_id(),
            "event_type": kind,
            "created_at": self.timestamp(),
            "source": SOURCES[2] if annotated else SOURCES[int(self.rng.integers(len(SOURCES)))],
            "user_id": user,
            "consent_training": bool(self.rng.random() >= OPT_OUT_SHARE),
            "prompt": prompt,
            "annotator": {"kind": "annotator" if annotated else "end_user", "id": user,
                          "saw_model_draft": bool(self.rng.random() < 0.2)},
            "policy_version": "rubric-2026-10" if annotated else None,
            "tags": {"category": category, "language": "en"},
        }

    def responses(self, n: int) -> list[dict[str, Any]]:
        return [{"response_id": f"r{i}", "content": self.response(),
                 "model": MODELS[int(self.rng.integers(len(MODELS)))]} for i in range(n)]

    def group(self) -> None:
        kind = GROUP_KINDS[int(self.rng.choice(len(GROUP_KINDS), p=GROUP_WEIGHTS))]
        category = CATEGORIES[int(self.rng.choice(len(CATEGORIES), p=CATEGORY_WEIGHTS))]
        messages = self.prompt_messages(category)
        rendering = RENDERINGS[int(self.rng.integers(len(RENDERINGS)))]
        prompt = self.prompt_object(messages, rendering)
        user = f"user-{int(self.rng.integers(self.users)):05d}"
        if kind == "pairwise":
            event = self.base(kind, category, prompt, user)
            event["responses"] = self.responses(2)
            roll = self.rng.random()
            event["label"] = ({"tie": True} if roll < 0.08 else {"preferred": None} if roll < 0.25
                              else {"preferred": f"r{int(self.rng.integers(2))}"})
            self.emit(event, messages)
        elif kind in ("rating", "thumbs"):
            for _ in range(int(self.rng.integers(1, 5))):  # several judgements of one prompt
                event = self.base(kind, category, prompt, f"user-{int(self.rng.integers(self.users)):05d}")
                event["responses"] = self.responses(1)
                event["label"] = ({"score": int(self.rng.integers(1, 6))} if kind == "rating"
                                  else {"value": "up" if self.rng.random() < 0.7 else "down"})
                self.emit(event, messages)
        elif kind == "edit":
            event = self.base(kind, category, prompt, user)
            event["responses"] = self.responses(1)
            original = event["responses"][0]["content"]
            event["label"] = {"edited_content": original.rstrip(".") + ". " + self.response()[:200]}
            self.emit(event, messages)
        else:
            event = self.base(kind, category, prompt, user)
            event["responses"] = self.responses(2)
            event["label"] = {"discarded": "r0"}
            self.emit(event, messages)

    def emit(self, event: dict[str, Any], messages: list[dict[str, str]]) -> None:
        self.events.append(event)
        if self.rng.random() < RERENDER_SHARE:  # the same feedback logged again in another format
            again = {**event, "event_id": self.next_id(),
                     "prompt": self.prompt_object(messages, TEMPLATE_FAMILIES[int(self.rng.integers(4))])}
            self.events.append(again)
        if self.rng.random() < CONFLICT_SHARE:  # an id reused for different content
            self.events.append({**event, "created_at": self.timestamp(), "source": "app:retry"})


def _malform(line: bytes, rng: np.random.Generator) -> bytes:
    """One of the ways real feeds break: truncation, a missing field, a wrong type, an unknown enum."""
    kind = int(rng.integers(4))
    if kind == 0:
        return line[: max(1, len(line) // 2)]
    obj = orjson.loads(line)
    if kind == 1:
        obj.pop("user_id", None)
    elif kind == 2:
        obj["consent_training"] = "yes"
    else:
        obj["event_type"] = "star_rating"
    return orjson.dumps(obj)


def _split_formats(n: int) -> list[tuple[str, int, int]]:
    out, start = [], 0
    for i, (fmt, share) in enumerate(FORMAT_SHARES):
        end = n if i == len(FORMAT_SHARES) - 1 else start + int(round(n * share))
        out.append((fmt, start, end))
        start = end
    return out


def _write_day(folder: Path, lines: list[bytes], events: list[dict]) -> dict[str, int]:
    """Write a day's records across the four formats; malformed lines stay in the jsonl files."""
    folder.mkdir(parents=True, exist_ok=True)
    counts: dict[str, int] = {}
    for i, (fmt, start, end) in enumerate(_split_formats(len(lines))):
        path = folder / f"events-{i:03d}.{fmt}"
        chunk = lines[start:end]
        if fmt in ("jsonl", "jsonl.gz"):
            data = b"\n".join(chunk) + (b"\n" if chunk else b"")
            if fmt == "jsonl":
                path.write_bytes(data)
            else:
                buf = io.BytesIO()
                with gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=1, mtime=0) as gz:
                    gz.write(data)
                path.write_bytes(buf.getvalue())
        else:
            rows = [events[j] for j in range(start, end) if events[j] is not None]
            flat = [{k: (orjson.dumps(v).decode() if k in NESTED and v is not None else v)
                     for k, v in r.items()} for r in rows]
            columns = ["event_id", "event_type", "created_at", "source", "user_id", "consent_training",
                       "prompt", "responses", "label", "annotator", "policy_version", "tags"]
            if fmt == "parquet":
                table = pa.table({c: pa.array([r.get(c) for r in flat],
                                              pa.bool_() if c == "consent_training" else pa.string())
                                  for c in columns})
                pq.write_table(table, path, compression="zstd")
            else:
                with open(path, "w", newline="", encoding="utf-8") as fh:
                    writer = csv.writer(fh)
                    writer.writerow(columns)
                    for r in flat:
                        writer.writerow(["" if r.get(c) is None else
                                         ("true" if r.get(c) is True else "false" if r.get(c) is False else r[c])
                                         for c in columns])
            chunk = rows
        counts[path.name] = len(chunk)
    return counts


def generate_days(n: int, days: int, start: date, seed: int) -> dict[str, tuple[list[bytes], list[dict | None]]]:
    """Per day: the landing lines and, aligned, the events they encode (None where malformed)."""
    pools = text_pools()
    users = max(20, n // 5)
    out: dict[str, tuple[list[bytes], list[dict | None]]] = {}
    carry: list[bytes] = []  # redeliveries that arrive a day late
    carry_events: list[dict] = []
    for d in range(days):
        day = start + timedelta(days=d)
        rng = np.random.default_rng([seed, d])
        state = _Day(day, rng, pools, users)
        while len(state.events) < n:
            state.group()
        events: list[dict | None] = list(state.events[:n])
        lines = [orjson.dumps(e) for e in events]
        redeliver = [i for i in range(len(lines)) if rng.random() < REDELIVERY_SHARE]
        late = [i for i in redeliver if rng.random() < 0.3]
        same_day = [i for i in redeliver if i not in set(late)]
        lines += [lines[i] for i in same_day] + carry
        events += [events[i] for i in same_day] + carry_events
        carry, carry_events = [lines[i] for i in late], [events[i] for i in late]
        for i in range(len(lines)):
            if rng.random() < MALFORMED_SHARE:
                lines[i] = _malform(lines[i], rng)
                events[i] = None
        order = rng.permutation(len(lines))
        # Keep valid records in the parquet/csv stretches; malformed ones sit in jsonl files.
        lines = [lines[i] for i in order]
        events = [events[i] for i in order]
        jsonl_end = _split_formats(len(lines))[1][2]
        bad_tail = [i for i in range(jsonl_end, len(lines)) if events[i] is None]
        good_head = [i for i in range(jsonl_end) if events[i] is not None][: len(bad_tail)]
        for a, b in zip(bad_tail, good_head):
            lines[a], lines[b] = lines[b], lines[a]
            events[a], events[b] = events[b], events[a]
        out[day.isoformat()] = (lines, events)
    return out


def deleted_users(n: int, seed: int) -> list[str]:
    rng = np.random.default_rng([seed, 9_999])
    users = max(20, n // 5)
    return [f"user-{int(u):05d}" for u in sorted(rng.choice(users, size=DELETED_USERS, replace=False))]


def write_deletions(control_dir: Path, user_ids: list[str], requested_at: str = "2026-10-31T12:00:00Z") -> Path:
    control_dir.mkdir(parents=True, exist_ok=True)
    path = control_dir / "deletions.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["user_id", "requested_at", "reason"])
        for user in user_ids:
            writer.writerow([user, requested_at, "user request"])
    return path


def write_landing(landing_root: Path, n: int, days: int, start: date, seed: int = 7,
                  control_dir: Path | None = None) -> dict[str, Any]:
    """Write ``n`` events a day for ``days`` days under landing_root/<day>/ and the deletion
    requests of a few of their users under control_dir (default: landing_root/../control)."""
    summary: dict[str, Any] = {"days": {}, "deleted_users": deleted_users(n, seed)}
    for day, (lines, events) in generate_days(n, days, start, seed).items():
        summary["days"][day] = _write_day(Path(landing_root) / day, lines, events)
    write_deletions(Path(control_dir or Path(landing_root).parent / "control"), summary["deleted_users"])
    return summary
