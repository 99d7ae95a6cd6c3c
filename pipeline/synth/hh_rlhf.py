"""HH-RLHF preference pairs as feedback events.

Each record `{"chosen", "rejected"}` holds two transcripts that share their opening turns and
differ at the end: the shared turns (up to the last shared human turn) are the prompt, what
follows on each side is a response, and the human preferred the chosen one.

Transcripts are split by `pipeline.importers.hh_rlhf.split_pair`, the importer's own rule.
Pairs whose chosen reply is empty (4) are converted as they are: pair construction rejects
them with reason `response_empty`.
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.importers.hh_rlhf import split_pair
from pipeline.template_normalization.templates import render_prompt

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


def day_timestamps(count: int, days: int, start: date) -> list[tuple[date, datetime]]:
    """(landing day, created_at) for ``count`` records: consecutive blocks, one per day, spread
    over each day by a fixed stride so the same count always gives the same times."""
    per_day = -(-count // days) if count else 1
    out = []
    for i in range(count):
        day = start + timedelta(days=i // per_day)
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        out.append((day, midnight + timedelta(seconds=(i % per_day) * 86_399 // per_day)))
    return out


def to_event(index: int, record: dict[str, str], created_at: datetime, id_prefix: str = "hh") -> dict[str, Any]:
    """One pairwise event. The prompt is rendered in the HH template for two records in three
    and structured messages for the rest (also where the HH template cannot express the
    turns); the chosen reply's position alternates, for each crowdworker too (every 40th
    record has the same worker), so position carries no signal overall or per annotator, and
    response ids name the position, not the verdict."""
    prompt_messages, chosen, rejected = split_pair(record["chosen"], record["rejected"])
    prompt: dict[str, Any] = {"messages": prompt_messages}
    if index % RENDERED_EVERY:
        try:
            prompt = {"text": render_prompt(prompt_messages, "hh"), "template": "hh"}
        except ValueError:  # two turns of one speaker in a row: the HH template cannot show that
            pass
    event_id = f"{id_prefix}-{index:06d}"
    chosen_first = (index + index // CROWDWORKERS) % 2 == 0
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
