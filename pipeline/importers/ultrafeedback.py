"""UltraFeedback rows (the `openbmb/UltraFeedback` shape) as pairwise events from exact mean ratings.

Each row holds an instruction and several models' completions, each annotated on four aspects
(helpfulness, honesty, instruction_following, truthfulness) with a "Rating" of "1".."5" or "N/A";
the release also stores the mean as `fine-grained_score`.

Rule: a completion's score is the exact mean of its numeric aspect ratings ("N/A" and missing
aspects left out; a completion with none is skipped as `no_rating`), never rounded. Every two
rated completions of a row whose means differ by at least `pairs.rating_min_gap` (prefline.yaml,
as for rating pairs) make one pairwise event preferring the higher mean; a closer pair yields
none (`mean_gap_below_min`, or `mean_tied` for equal means). A rating event could not hold the mean: its score is an integer
1..5, and rounding 4.25 and 4.75 to 4 and 5 would invent a gap of 1 where there is 0.5. The means
and the per-aspect ratings of both sides ride along as tags (`mean_chosen`, `mean_rejected`,
`ratings_chosen`, `ratings_rejected`), so a reader can weight by the gap.

Every completion of a row shares one prompt (the instruction as the user's turn; the
per-completion `custom_system_prompt` steered generation and is not part of what the user asked).
The ratings are GPT-4's, not people's: the annotator is `{"kind": "ai", "id": "gpt-4"}`, so these
pairs count as `ai_annotator` and a set made of them alone meets `gate_ai_label_share`. The rows
carry no id: event ids are the md5 of the row plus the two completions' positions.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import lru_cache
from itertools import combinations
from typing import Any

from pipeline.core.config import load_config, override_file
from pipeline.core.hashing import content_id
from pipeline.importers.common import ImportContext, Skip, event, messages_prompt, response, text_of

HELP = ("UltraFeedback rows (openbmb/UltraFeedback, .jsonl/.parquet): pairwise events from exact mean "
        "aspect ratings, gap >= pairs.rating_min_gap")
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


def ratings(annotations: Any) -> dict[str, float]:
    """The completion's numeric aspect ratings, by aspect."""
    if not isinstance(annotations, dict):
        raise Skip("no_rating", "the completion has no annotations")
    found = {a: r for a in ASPECTS if (r := _rating(annotations.get(a))) is not None}
    if not found:
        raise Skip("no_rating", "every aspect rating is N/A or missing")
    return found


def mean_score(annotations: Any) -> float:
    """The exact mean of the completion's numeric aspect ratings (no rounding)."""
    found = ratings(annotations)
    return sum(found.values()) / len(found)


@lru_cache(maxsize=8)
def _gap_of(config_file: str, mtime: float) -> float:
    return float(load_config()["pairs"]["rating_min_gap"])


def min_gap() -> float:
    """`pairs.rating_min_gap` of the deployment's config (read once per config file version)."""
    path = override_file()
    return _gap_of(str(path), path.stat().st_mtime if path.exists() else 0.0)


def _written(found: dict[str, float]) -> str:
    return " ".join(f"{a}={found[a]:g}" if a in found else f"{a}=N/A" for a in ASPECTS)


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    instruction = text_of(record.get("instruction"), "instruction")
    completions = record.get("completions")
    if not isinstance(completions, list) or not completions:
        raise Skip("no_completions")
    prompt = messages_prompt([{"role": "user", "content": instruction}])
    row_id = f"ultrafeedback-{content_id(record)}"
    rated = []
    for i, completion in enumerate(completions):
        if not isinstance(completion, dict) or not isinstance(completion.get("response"), str):
            yield Skip("missing_field", f"completion {i} has no response text")
            continue
        try:
            found = ratings(completion.get("annotations"))
        except Skip as skip:
            yield skip
            continue
        rated.append((i, completion, found, sum(found.values()) / len(found)))
    gap = min_gap()
    for (i, ci, ri, mi), (j, cj, rj, mj) in combinations(rated, 2):
        if mi == mj:
            yield Skip("mean_tied", f"completions {i} and {j}: both mean {mi!r}")
            continue
        if abs(mi - mj) < gap:
            yield Skip("mean_gap_below_min", f"completions {i} and {j}: means {mi:g} and {mj:g}, gap < {gap:g}")
            continue
        event_id = f"{row_id}-{i}-{j}"
        first = response(f"{event_id}-r{i}", ci["response"], ci.get("model"))
        second = response(f"{event_id}-r{j}", cj["response"], cj.get("model"))
        (won, won_r, won_m), (lost_r, lost_m) = ((first, ri, mi), (rj, mj)) if mi > mj else ((second, rj, mj), (ri, mi))
        yield event(
            ctx,
            event_id=event_id,
            event_type="pairwise",
            created=ctx.default_created_at,
            prompt=prompt,
            responses=[first, second],
            label={"preferred": won["response_id"]},
            annotator_kind="ai",
            annotator_id=ANNOTATOR_ID,
            user_id=ctx.source,
            tags={"dataset": "ultrafeedback", "subset": record.get("source"),
                  "mean_chosen": repr(won_m), "mean_rejected": repr(lost_m),
                  "ratings_chosen": _written(won_r), "ratings_rejected": _written(lost_r)},
        )
