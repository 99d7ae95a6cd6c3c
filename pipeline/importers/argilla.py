"""Argilla 2.x preference datasets as pairwise events, one per annotator's response.

Read as `dataset.records.to_json(path)` writes them (a JSON list; a `{"records": [...]}` document
or one record a line also works): `{"id", "fields": {"prompt", "response1", "response2"},
"metadata": {...}, "responses": {"preference": [{"value", "user_id", "status"?}]}, ...}`. A value
of "response1" or "response2" prefers that side and "tie" is a tie.

Conservative by design: only the question named `preference` with those three values is read;
any other value (a ranking list, a rating) is skipped (`label_unknown`), and a response whose
status is present and not "submitted" (a draft, a discarded record) is skipped
(`response_not_submitted`). Suggestions are model pre-labels, not feedback, and are not read.
A record no one answered is skipped once (`no_responses`). `metadata.category` and
`metadata.language` become tags. Argilla's record export carries no times, so every event is
dated at the import day.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.core.hashing import content_id
from pipeline.importers.common import ImportContext, Skip, event, response, source_id, text_prompt

HELP = "Argilla 2.x records (to_json export) with fields prompt/response1/response2 and a preference question"
CONSENT = True  # annotators labelling in an annotation job
QUESTION = "preference"
FIELDS = ("prompt", "response1", "response2")


def _label(value: Any, first_id: str, second_id: str) -> dict[str, Any]:
    if value == "response1":
        return {"preferred": first_id}
    if value == "response2":
        return {"preferred": second_id}
    if value == "tie":
        return {"tie": True}
    raise Skip("label_unknown", f"preference {value!r} is not response1, response2 or tie")


def _answer_event(record_id: str, index: int, answer: Any, prompt: dict, fields: dict, tags: dict,
                  ctx: ImportContext) -> dict[str, Any]:
    if not isinstance(answer, dict):
        raise Skip("label_unknown", f"response {index} is not an object")
    status = answer.get("status")
    if status is not None and status != "submitted":
        raise Skip("response_not_submitted", f"response status is {status!r}")
    user = source_id(answer.get("user_id"))
    event_id = f"{record_id}-{user or index}"
    first, second = f"{event_id}-response1", f"{event_id}-response2"
    return event(
        ctx,
        event_id=event_id,
        event_type="pairwise",
        created=ctx.default_created_at,
        prompt=prompt,
        responses=[response(first, fields.get("response1")), response(second, fields.get("response2"))],
        label=_label(answer.get("value"), first, second),
        annotator_kind="annotator",
        annotator_id=user,
        tags=tags,
    )


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    fields = record.get("fields")
    if not isinstance(fields, dict) or any(not isinstance(fields.get(f), str) for f in FIELDS):
        raise Skip("missing_field", f"fields need {', '.join(FIELDS)} as text")
    responses = record.get("responses")
    answers = responses.get(QUESTION) if isinstance(responses, dict) else None
    if not answers:
        raise Skip("no_responses", f"no one answered the {QUESTION!r} question")
    if not isinstance(answers, list):
        answers = [answers]
    prompt = text_prompt(fields["prompt"])
    record_id = f"argilla-{source_id(record.get('id')) or content_id(fields)}"
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    tags = {"category": metadata.get("category"), "language": metadata.get("language")}
    for i, answer in enumerate(answers):
        try:
            yield _answer_event(record_id, i, answer, prompt, fields, tags, ctx)
        except Skip as skip:
            yield skip
