"""Label Studio JSON, JSON_MIN and CSV exports of a pairwise project as pairwise events, one vote per annotation.

Reads the three exports Label Studio's export API and UI offer for any project:

- JSON: a list of tasks, each `{id, data, annotations: [{id, completed_by, result, was_cancelled,
  created_at, ...}], ...}`; the Pairwise control's result item is `{"type": "pairwise", "value":
  {"selected": "left"|"right"}, ...}`.
- JSON_MIN: a list of flat rows, one per annotation: the task's data fields, `id` (the task),
  `annotation_id`, `annotator` (the user id), `created_at`, `updated_at`, `lead_time`, and each
  control's results under its name (`"comparison": [{"selected": "left"}]`). Label Studio leaves
  cancelled annotations out of JSON_MIN and CSV, so only the JSON export can count them.
- CSV: the same rows as JSON_MIN, one a line, with the control's results as JSON text.

Two templates are read: "Human Preference collection for RLHF" (`data.prompt`, `data.answer1` on
the left, `data.answer2` on the right) and "Pairwise classification" (`data.pairText1` left,
`data.pairText2` right; that template shows no prompt, so the task needs a `prompt` data field).
The Pairwise control has no tie: an annotator who finds neither better skips the task.

- Each annotation is its own vote event, dated by the annotation's `created_at`, with user id
  `label-studio:<user id>` (Label Studio user ids are small integers that would collide with other
  sources' ids; an object-valued `completed_by` gives its `id`; an annotator given as an e-mail
  address, as older JSON_MIN exports do, becomes `label-studio:email-<md5 prefix>` so no address
  lands in an event). Event ids `label-studio-<task id>-<annotation id>` are the same in all three
  exports, so importing two exports of one project adds no vote twice.
- Skipped with a reason, counted in the import summary: a cancelled (skipped) annotation
  (`annotation_cancelled`), an annotation without a pairwise choice (`no_choice`), a choice that is
  neither left nor right (`label_unknown`), a task nobody annotated (`no_annotations`), a task
  without two answer fields (`missing_field`). Predictions are model pre-labels, not feedback,
  and are not read.
- `data.category` and `data.language` become tags when the task carries them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

from pipeline.core.hashing import content_id, md5_hex
from pipeline.importers.common import (
    ImportContext,
    Skip,
    created_at,
    event,
    response,
    source_id,
    text_prompt,
)

HELP = ("Label Studio JSON, JSON_MIN or CSV export of the RLHF human-preference (prompt/answer1/answer2) "
        "or pairwise-classification (prompt/pairText1/pairText2) template; one vote per annotation")
CONSENT = True  # annotators labelling in an annotation job
# (left field, right field) of each template, in the order they are looked for.
TEMPLATE_SIDES = (("answer1", "answer2"), ("pairText1", "pairText2"))
SELECTED = {"left": 0, "right": 1}
# Keys a JSON_MIN/CSV row carries besides the task's data and the controls' values.
_ROW_KEYS = frozenset(("id", "annotator", "annotation_id", "created_at", "updated_at", "lead_time", "agreement"))


def _annotator(who: Any) -> str | None:
    who = who.get("id") if isinstance(who, dict) else who
    if isinstance(who, str) and "@" in who:
        return "label-studio:email-" + md5_hex(who.strip().lower())[:12]
    who = source_id(who)
    return f"label-studio:{who}" if who else None


def _sides(data: dict) -> tuple[str, str]:
    for left, right in TEMPLATE_SIDES:
        if left in data or right in data:
            if not all(isinstance(data.get(k), str) for k in (left, right)):
                raise Skip("missing_field", f"data needs {left} and {right} as text")
            return left, right
    raise Skip("missing_field", "data needs answer1/answer2 (RLHF template) or pairText1/pairText2 (pairwise template)")


def _selected(value: Any) -> int:
    selected = value.get("selected") if isinstance(value, dict) else None
    if not isinstance(selected, str) or selected not in SELECTED:
        raise Skip("label_unknown", f"selected {selected!r} is not left or right")
    return SELECTED[selected]


def _choice_in_result(result: Any) -> int:
    """The side a JSON annotation's result picks: its first pairwise item."""
    items = [r for r in (result if isinstance(result, list) else []) if isinstance(r, dict) and r.get("type") == "pairwise"]
    if not items:
        raise Skip("no_choice", "the annotation holds no pairwise choice")
    return _selected(items[0].get("value"))


def _decoded(value: Any) -> Any:
    """A control's value in a CSV cell is JSON text; in JSON_MIN it is already decoded."""
    if isinstance(value, str) and value.startswith(("[", "{")):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return value
    return value


def _choice_in_row(row: dict, data_keys: set[str]) -> int:
    """The side a JSON_MIN/CSV row picks: the control value holding `selected` (JSON_MIN and CSV
    write a control's results as a list, `[{"selected": "left"}]`)."""
    for key, raw in row.items():
        if key in data_keys or key in _ROW_KEYS:
            continue
        value = _decoded(raw)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, dict) and "selected" in item:
                return _selected(item)
    raise Skip("no_choice", "the row holds no pairwise choice")


def _vote(ctx: ImportContext, *, task_id: str, annotation_id: str, side: int, created: Any, who: Any, data: dict,
          sides: tuple[str, str]) -> dict[str, Any]:
    event_id = f"{task_id}-{annotation_id}"
    ids = [f"{event_id}-{field}" for field in sides]
    return event(
        ctx,
        event_id=event_id,
        event_type="pairwise",
        created=created_at(created, ctx),
        prompt=text_prompt(data.get("prompt")),
        responses=[response(ids[i], data.get(field)) for i, field in enumerate(sides)],
        label={"preferred": ids[side]},
        annotator_kind="annotator",
        annotator_id=_annotator(who),
        tags={"category": data.get("category"), "language": data.get("language")},
    )


def _task_id(value: Any, data: dict) -> str:
    return f"label-studio-{source_id(value) or content_id(data)}"


def _from_task(task: dict, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    data = task["data"]
    sides = _sides(data)
    annotations = task.get("annotations")
    if not isinstance(annotations, list) or not annotations:
        raise Skip("no_annotations")
    task_id = _task_id(task.get("id"), data)
    for i, annotation in enumerate(annotations):
        try:
            if not isinstance(annotation, dict):
                raise Skip("no_choice", f"annotation {i} is not an object")
            if annotation.get("was_cancelled") is True:
                raise Skip("annotation_cancelled", "the annotator skipped the task")
            yield _vote(ctx, task_id=task_id, annotation_id=source_id(annotation.get("id")) or str(i),
                        side=_choice_in_result(annotation.get("result")), created=annotation.get("created_at"),
                        who=annotation.get("completed_by"), data=data, sides=sides)
        except Skip as skip:
            yield skip


def _from_row(row: dict, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    sides = _sides(row)
    annotation_id = source_id(row.get("annotation_id"))
    if annotation_id is None:  # a task exported with no annotation
        raise Skip("no_annotations")
    data = {k: v for k, v in row.items() if k not in _ROW_KEYS}
    data_keys = {"prompt", "category", "language", *sides}
    yield _vote(ctx, task_id=_task_id(row.get("id"), data), annotation_id=annotation_id,
                side=_choice_in_row(row, data_keys), created=row.get("created_at"), who=row.get("annotator"),
                data=data, sides=sides)


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    """One JSON task (its annotations) or one JSON_MIN/CSV row (one annotation)."""
    if not isinstance(record, dict):
        raise Skip("record_not_object", "a task or row must be an object")
    if isinstance(record.get("data"), dict):
        yield from _from_task(record, ctx)
    elif "data" in record:
        raise Skip("record_not_object", "a task needs a data object")
    else:
        yield from _from_row(record, ctx)
