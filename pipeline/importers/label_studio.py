"""Label Studio pairwise-comparison exports (JSON export) as pairwise events, one per annotation.

The "human preference collection for RLHF" template shows `data.prompt` with `data.answer1` on the
left and `data.answer2` on the right under a `<Pairwise name="comparison">` control; each
annotation's result holds `{"type": "pairwise", "value": {"selected": "left"|"right"}}`. Left is
answer1, right is answer2. The Pairwise control has no tie.

- Each annotator is an event, dated by the annotation's `created_at`, with user id
  `label-studio:<completed_by>` (Label Studio user ids are small integers that would collide with
  other sources' ids; an object-valued `completed_by` gives its `id`, never its email).
- Cancelled (skipped) annotations are skipped (`annotation_cancelled`); an annotation without a
  pairwise choice is skipped (`no_choice`); a task nobody annotated is skipped once
  (`no_annotations`). Predictions are model pre-labels, not feedback, and are not read.
- `data.category` and `data.language` become tags when the task carries them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.core.hashing import content_id
from pipeline.importers.common import (
    ImportContext,
    Skip,
    created_at,
    event,
    response,
    source_id,
    text_prompt,
)

HELP = "Label Studio JSON export of the pairwise template (data.prompt/answer1/answer2, selected left|right)"
CONSENT = True  # annotators labelling in an annotation job
SIDES = {"left": "answer1", "right": "answer2"}


def _annotator(completed_by: Any) -> str | None:
    who = completed_by.get("id") if isinstance(completed_by, dict) else completed_by
    who = source_id(who)
    return f"label-studio:{who}" if who else None


def _choice(result: Any) -> str:
    results = result if isinstance(result, list) else []
    items = [r for r in results if isinstance(r, dict) and r.get("type") == "pairwise"]
    if not items:
        raise Skip("no_choice", "the annotation holds no pairwise choice")
    value = items[0].get("value")
    selected = value.get("selected") if isinstance(value, dict) else None
    if not isinstance(selected, str) or selected not in SIDES:
        raise Skip("label_unknown", f"selected {selected!r} is not left or right")
    return SIDES[selected]


def _annotation_event(task_id: str, index: int, annotation: Any, prompt: dict, data: dict, tags: dict,
                      ctx: ImportContext) -> dict[str, Any]:
    if not isinstance(annotation, dict):
        raise Skip("no_choice", f"annotation {index} is not an object")
    if annotation.get("was_cancelled") is True:
        raise Skip("annotation_cancelled")
    chosen_side = _choice(annotation.get("result"))
    event_id = f"{task_id}-{source_id(annotation.get('id')) or index}"
    ids = {side: f"{event_id}-{side}" for side in ("answer1", "answer2")}
    return event(
        ctx,
        event_id=event_id,
        event_type="pairwise",
        created=created_at(annotation.get("created_at"), ctx),
        prompt=prompt,
        responses=[response(ids[side], data.get(side)) for side in ("answer1", "answer2")],
        label={"preferred": ids[chosen_side]},
        annotator_kind="annotator",
        annotator_id=_annotator(annotation.get("completed_by")),
        tags=tags,
    )


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    if not isinstance(record, dict) or not isinstance(record.get("data"), dict):
        raise Skip("record_not_object", "a task needs a data object")
    data = record["data"]
    if any(not isinstance(data.get(k), str) for k in ("answer1", "answer2")):
        raise Skip("missing_field", "data needs answer1 and answer2 as text")
    prompt = text_prompt(data.get("prompt"))
    annotations = record.get("annotations")
    if not isinstance(annotations, list) or not annotations:
        raise Skip("no_annotations")
    task_id = f"label-studio-{source_id(record.get('id')) or content_id(data)}"
    tags = {"category": data.get("category"), "language": data.get("language")}
    for i, annotation in enumerate(annotations):
        try:
            yield _annotation_event(task_id, i, annotation, prompt, data, tags, ctx)
        except Skip as skip:
            yield skip
