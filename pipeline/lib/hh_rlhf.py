"""HH-RLHF preference pairs as feedback events.

Each record `{"chosen", "rejected"}` holds two transcripts that share every turn but the
last assistant turn: that shared prefix is the prompt, the two last turns are the responses
and the human preferred the chosen one.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import orjson

from pipeline.lib.templates import split_hh_transcript

SAMPLE_FILE = Path(__file__).resolve().parents[2] / "data" / "sample" / "hh-rlhf" / "harmless-base-test.jsonl.gz"


def read_pairs(path: Path = SAMPLE_FILE) -> Iterator[dict[str, str]]:
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for raw in fh:
            if raw.strip():
                yield orjson.loads(raw)


def split_pair(chosen: str, rejected: str) -> tuple[list[dict[str, str]], str, str]:
    """(prompt messages, chosen answer, rejected answer); ValueError when the two transcripts
    do not share their prompt or do not end with an assistant turn."""
    c, r = split_hh_transcript(chosen), split_hh_transcript(rejected)
    if not c or not r or c[-1]["role"] != "assistant" or r[-1]["role"] != "assistant":
        raise ValueError("a transcript does not end with an assistant turn")
    if c[:-1] != r[:-1]:
        raise ValueError("chosen and rejected do not share their prompt")
    return c[:-1], c[-1]["content"], r[-1]["content"]


def to_event(index: int, record: dict[str, str], created_at: datetime, rendered: bool,
             source: str = "import:hh-rlhf", id_prefix: str = "hh") -> dict[str, Any]:
    """One pairwise event; the prompt is kept rendered in the HH template (as logged) or as
    messages. Pairs that do not split cleanly keep their raw transcripts as a rendered prompt
    so that normalization, not the importer, decides their fate."""
    try:
        prompt_messages, chosen, rejected = split_pair(record["chosen"], record["rejected"])
        cut = record["chosen"].rfind("\n\nAssistant:")
        prompt: dict[str, Any] = (
            {"text": record["chosen"][: cut] + "\n\nAssistant:", "template": "hh"} if rendered
            else {"messages": prompt_messages}
        )
    except ValueError:
        cut = record["chosen"].rfind("\n\nAssistant:")
        prompt = {"text": record["chosen"][:cut] + "\n\nAssistant:", "template": "hh"}
        chosen = record["chosen"][cut + len("\n\nAssistant:"):].strip()
        rejected = record["rejected"][record["rejected"].rfind("\n\nAssistant:") + len("\n\nAssistant:"):].strip()
    event_id = f"{id_prefix}-{index:06d}"
    return {
        "event_id": event_id,
        "event_type": "pairwise",
        "created_at": created_at.isoformat().replace("+00:00", "Z"),
        "source": source,
        "user_id": f"hh-annotator-{index % 40:02d}",
        "consent_training": True,
        "prompt": prompt,
        "responses": [
            {"response_id": "chosen", "content": chosen, "model": "hh-rlhf-52b"},
            {"response_id": "rejected", "content": rejected, "model": "hh-rlhf-52b"},
        ][:: 1 if index % 2 else -1],
        "label": {"preferred": "chosen"},
        "annotator": {"kind": "annotator", "id": f"hh-annotator-{index % 40:02d}", "saw_model_draft": False},
        "policy_version": "hh-harmless-v1",
        "tags": {"category": "safety", "language": "en"},
    }


def hh_events(days: int, start: date, path: Path = SAMPLE_FILE, limit: int | None = None) -> dict[str, list[dict]]:
    """All pairs as events spread evenly over ``days`` days: {day: [event, ...]}."""
    out: dict[str, list[dict]] = {}
    records = list(read_pairs(path))[:limit]
    per_day = -(-len(records) // days)
    for i, record in enumerate(records):
        day = start + timedelta(days=i // per_day)
        created = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(seconds=(i * 37) % 86_000)
        out.setdefault(day.isoformat(), []).append(to_event(i, record, created, rendered=i % 3 != 0))
    return out
