"""UltraFeedback rows (the `openbmb/UltraFeedback` shape) as rating events, one per completion.

Each row holds an instruction and several models' completions, each annotated on four aspects
(helpfulness, honesty, instruction_following, truthfulness) with a "Rating" of "1".."5" or "N/A".

Score rule: the mean of a completion's numeric aspect ratings, rounded half up, clamped to 1..5;
"N/A" and missing aspects are left out of the mean, and a completion with no numeric rating is
skipped (`no_rating`). Every completion of a row shares one prompt (the instruction as the user's
turn; the per-completion `custom_system_prompt` steered generation and is not part of what the
user asked), so pair construction pairs them by score gap.

The ratings are GPT-4's, not people's: the annotator is `{"kind": "ai", "id": "gpt-4"}` so no
pair built from them passes as human-labeled. The rows carry no id: the event id is the md5 of the
row plus the completion's position.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from pipeline.core.hashing import content_id
from pipeline.importers.common import ImportContext, Skip, event, messages_prompt, response, text_of

HELP = "UltraFeedback rows (openbmb/UltraFeedback, .jsonl/.parquet): one rating event a completion, mean aspect score"
CONSENT = True  # released for preference training; the ratings are an AI annotator's
ASPECTS = ("helpfulness", "honesty", "instruction_following", "truthfulness")
ANNOTATOR_ID = "gpt-4"


def _rating(aspect: Any) -> float | None:
    if isinstance(aspect, list):  # some exports wrap each aspect's annotation in a one-item list
        aspect = aspect[0] if aspect else None
    value = aspect.get("Rating") if isinstance(aspect, dict) else None
    if isinstance(value, bool) or value is None:
        return None
    try:
        rating = float(value)
    except (TypeError, ValueError):  # "N/A": the aspect does not apply to this instruction
        return None
    return rating if math.isfinite(rating) else None


def score(annotations: Any) -> int:
    """The completion's 1..5 score: mean of its numeric aspect ratings, half up, clamped."""
    if not isinstance(annotations, dict):
        raise Skip("no_rating", "the completion has no annotations")
    ratings = [r for r in (_rating(annotations.get(a)) for a in ASPECTS) if r is not None]
    if not ratings:
        raise Skip("no_rating", "every aspect rating is N/A or missing")
    return min(5, max(1, math.floor(sum(ratings) / len(ratings) + 0.5)))


def _completion_event(row_id: str, index: int, completion: Any, prompt: dict, tags: dict,
                      ctx: ImportContext) -> dict[str, Any]:
    if not isinstance(completion, dict):
        raise Skip("missing_field", f"completion {index} is not an object")
    event_id = f"{row_id}-{index}"
    return event(
        ctx,
        event_id=event_id,
        event_type="rating",
        created=ctx.default_created_at,
        prompt=prompt,
        responses=[response(f"{event_id}-r0", completion.get("response"), completion.get("model"))],
        label={"score": score(completion.get("annotations"))},
        annotator_kind="ai",
        annotator_id=ANNOTATOR_ID,
        user_id=ctx.source,
        tags=tags,
    )


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    instruction = text_of(record.get("instruction"), "instruction")
    completions = record.get("completions")
    if not isinstance(completions, list) or not completions:
        raise Skip("no_completions")
    prompt = messages_prompt([{"role": "user", "content": instruction}])
    row_id = f"ultrafeedback-{content_id(record)}"
    tags = {"dataset": "ultrafeedback", "subset": record.get("source")}
    for i, completion in enumerate(completions):
        try:
            yield _completion_event(row_id, i, completion, prompt, tags, ctx)
        except Skip as skip:
            yield skip
