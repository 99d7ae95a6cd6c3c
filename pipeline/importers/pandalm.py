"""PandaLM's human test set (`data/testset-v1.json` of WeOpenML/PandaLM) as pairwise votes.

Each record is one comparison `{idx, motivation_app, cmp_key, instruction, input, response1,
response2, annotator1, annotator2, annotator3}` judged by three people; each annotator's label is
1 (response1 is better), 2 (response2) or 0 (a tie). Every label becomes its own pairwise event
from annotator `annotator1`..`annotator3`, all three on the same prompt and the same two
responses, so prefline's vote aggregation (README "Votes") makes one pair per comparison by
majority: 2 of 3 agreeing publishes with agreement 2/3. A 0 is a tie event (`label.tie`), which
pair construction ledgers as `tie`; a comparison whose remaining votes split evenly is ledgered
`annotators_disagree`.

- The prompt is the instruction, then a blank line and the input when there is one (the Alpaca
  style PandaLM generated the responses with), as the user's turn.
- `cmp_key` names the two models, `<model of response1>_<model of response2>`; it is split on the
  first `_` (PandaLM's model names hold none).
- In six records of the published file a response is the JSON boolean `true`, not text; the
  record's votes are skipped as `response_not_text`, since which text the annotators saw is not in
  the file. An empty response is kept: pair construction ledgers it as `response_empty`.
- The file has no times: events take the import's day. Event ids are `pandalm-<idx>-annotator<k>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.importers.common import ImportContext, Skip, event, messages_prompt, response, source_id, text_of

HELP = "PandaLM human test set (testset-v1.json): each of the 3 annotators' labels is one pairwise vote, 0 a tie"
CONSENT = True  # annotators paid to label the comparisons, released for evaluation and training
ANNOTATORS = ("annotator1", "annotator2", "annotator3")


def _models(cmp_key: Any) -> tuple[str | None, str | None]:
    if not isinstance(cmp_key, str) or "_" not in cmp_key:
        return None, None
    first, second = cmp_key.split("_", 1)
    return first or None, second or None


def _label(value: Any, first: str, second: str) -> dict[str, Any]:
    if value == 1 and type(value) is int:
        return {"preferred": first}
    if value == 2 and type(value) is int:
        return {"preferred": second}
    if value == 0 and type(value) is int:
        return {"tie": True}
    raise Skip("label_unknown", f"annotator label {value!r} is not 0, 1 or 2")


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    idx = source_id(record.get("idx"))
    if idx is None:
        raise Skip("missing_field", "idx is missing")
    instruction = text_of(record.get("instruction"), "instruction")
    extra = record.get("input")
    text = f"{instruction}\n\n{extra}" if isinstance(extra, str) and extra.strip() else instruction
    for side in ("response1", "response2"):
        if not isinstance(record.get(side), str):
            raise Skip("response_not_text", f"{side} is {type(record.get(side)).__name__}, not text")
    prompt = messages_prompt([{"role": "user", "content": text}])
    model1, model2 = _models(record.get("cmp_key"))
    base = f"pandalm-{idx}"
    first, second = f"{base}-1", f"{base}-2"
    responses = [response(first, record["response1"], model1), response(second, record["response2"], model2)]
    tags = {"dataset": "pandalm", "app": record.get("motivation_app"), "cmp_key": record.get("cmp_key")}
    for annotator in ANNOTATORS:
        try:
            label = _label(record.get(annotator), first, second)
        except Skip as skip:
            yield skip
            continue
        yield event(
            ctx,
            event_id=f"{base}-{annotator}",
            event_type="pairwise",
            created=ctx.default_created_at,
            prompt=prompt,
            responses=responses,
            label=label,
            annotator_kind="annotator",
            annotator_id=annotator,
            tags=tags,
        )
