"""HH-RLHF preference pairs as feedback events.

Each record `{"chosen", "rejected"}` holds two transcripts that share their opening turns and
differ at the end: the shared turns (up to the last shared human turn) are the prompt, what
follows on each side is a response, and the human preferred the chosen one.

Turns are split by `templates.split_hh_transcript` (only a blank line before "Human:" or
"Assistant:" starts a turn). In 5 of the 2,312 harmless-base test pairs one side carries two
assistant turns in a row after the shared prompt; that side's response is those turns joined
by a blank line, so the pair still answers one prompt. Pairs whose chosen reply is empty (4)
are converted as they are: pair construction rejects them with reason `response_empty`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from pipeline.lib.templates import render_prompt, split_hh_transcript

SAMPLE_FILE = Path(__file__).resolve().parents[2] / "data" / "sample" / "hh-rlhf" / "harmless-base-test.jsonl.gz"
SOURCE = "import:hh-rlhf"
MODEL = "hh-rlhf-52b"
POLICY_VERSION = "hh-harmless-base"
CROWDWORKERS = 40
RENDERED_EVERY = 3  # two records in three keep the prompt rendered as logged, the third as messages


def read_pairs(path: Path = SAMPLE_FILE) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for raw in fh:
            if raw.strip():
                yield orjson.loads(raw)


def _shared_prompt_length(chosen: list[dict[str, str]], rejected: list[dict[str, str]]) -> int:
    """Number of shared leading turns, cut back so the prompt ends with the human's turn."""
    k = 0
    while k < min(len(chosen), len(rejected)) and chosen[k] == rejected[k]:
        k += 1
    while k and chosen[k - 1]["role"] != "user":
        k -= 1
    return k


def _reply(turns: list[dict[str, str]]) -> str:
    if not turns or any(t["role"] != "assistant" for t in turns):
        raise ValueError("a side continues with something other than assistant turns after the prompt")
    return "\n\n".join(t["content"] for t in turns)


def split_pair(chosen: str, rejected: str) -> tuple[list[dict[str, str]], str, str]:
    """(prompt messages, chosen reply, rejected reply). ValueError when the transcripts share
    no human turn or a side continues with a human turn after the shared prompt."""
    c, r = split_hh_transcript(chosen), split_hh_transcript(rejected)
    k = _shared_prompt_length(c, r)
    if k == 0:
        raise ValueError("chosen and rejected share no human turn")
    return c[:k], _reply(c[k:]), _reply(r[k:])


def day_timestamps(count: int, days: int, start: date) -> list[tuple[date, datetime]]:
    """(landing day, created_at) for ``count`` records: consecutive blocks, one per day, spread
    over each day by a fixed stride so the same count always gives the same times."""
    per_day = -(-count // days) if count else 1
    out = []
    for i in range(count):
        day = start + timedelta(days=i // per_day)
        midnight = datetime(day.year, day.month, day.day, tzinfo=timezone.utc)
        out.append((day, midnight + timedelta(seconds=(i % per_day) * 86_399 // per_day)))
    return out


def to_event(index: int, record: dict[str, str], created_at: datetime, id_prefix: str = "hh") -> dict[str, Any]:
    """One pairwise event. The prompt is rendered in the HH template for two records in three
    and structured messages for the rest (also where the HH template cannot express the
    turns); the chosen reply's position alternates so position
    carries no signal, and response ids name the position, not the verdict."""
    prompt_messages, chosen, rejected = split_pair(record["chosen"], record["rejected"])
    prompt: dict[str, Any] = {"messages": prompt_messages}
    if index % RENDERED_EVERY:
        try:
            prompt = {"text": render_prompt(prompt_messages, "hh"), "template": "hh"}
        except ValueError:  # two turns of one speaker in a row: the HH template cannot show that
            pass
    event_id = f"{id_prefix}-{index:06d}"
    chosen_first = index % 2 == 0
    chosen_id = f"{event_id}-{'a' if chosen_first else 'b'}"
    replies = [chosen, rejected] if chosen_first else [rejected, chosen]
    responses = [{"response_id": f"{event_id}-{slot}", "content": text, "model": MODEL}
                 for slot, text in zip("ab", replies)]
    worker = f"hh-crowdworker-{index % CROWDWORKERS:02d}"
    return {
        "event_id": event_id,
        "event_type": "pairwise",
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "source": SOURCE,
        "user_id": worker,
        "consent_training": True,
        "prompt": prompt,
        "responses": responses,
        "label": {"preferred": chosen_id},
        "annotator": {"kind": "annotator", "id": worker, "saw_model_draft": False},
        "policy_version": POLICY_VERSION,
        "tags": {"category": "harmless", "language": "en", "dataset": "hh-rlhf/harmless-base"},
    }


def hh_events(days: int, start: date, path: Path = SAMPLE_FILE,
              limit: int | None = None) -> tuple[dict[str, list[dict[str, Any]]], dict[str, int]]:
    """All pairs as events spread over ``days`` days: ({day: [event, ...]}, counts). A pair
    that cannot be split into one prompt and two replies is counted as skipped, not emitted."""
    records = list(read_pairs(path))[:limit]
    out: dict[str, list[dict[str, Any]]] = {}
    counts = {"pairs": len(records), "events": 0, "skipped_unsplittable": 0, "empty_chosen": 0}
    for i, (record, (day, created)) in enumerate(zip(records, day_timestamps(len(records), days, start))):
        try:
            event = to_event(i, record, created)
        except ValueError:
            counts["skipped_unsplittable"] += 1
            continue
        counts["events"] += 1
        preferred = event["label"]["preferred"]
        counts["empty_chosen"] += not next(r["content"] for r in event["responses"]
                                           if r["response_id"] == preferred).strip()
        out.setdefault(day.isoformat(), []).append(event)
    return out, counts
