"""HelpSteer2 rows (`nvidia/HelpSteer2` train/validation jsonl) as rating events, one a response.

A row is `{prompt, response, helpfulness, correctness, coherence, complexity, verbosity}`, each
attribute an integer 0..4 given by human annotators; the responses to one prompt are consecutive
rows with the same prompt text (two in the release).

Rule: the event's score is `helpfulness + 1` (0..4 onto prefline's 1..5, one to one, nothing
rounded); the other four attributes and the raw helpfulness ride along as tags. Pair construction
then pairs the responses of one prompt by score gap, as for any rating: the more helpful response
is chosen when the gap is at least `pairs.rating_min_gap` (1: any difference in helpfulness);
equal helpfulness gives no pair, and an unpaired response is a KTO row when clear-cut
(helpfulness >= 3 desirable, <= 1 undesirable, with the default `kto_*` thresholds). Correctness
or the other attributes do not break ties: HelpSteer2 publishes no rule for that, so prefline
does not invent one.

Multi-turn prompts are written as one string with `<extra_id_1>User` / `<extra_id_1>Assistant`
lines between turns (NeMo's chat markup); they are split into messages. The rows have no ids and
no times: the event id is the md5 of the row, the day the import's.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from pipeline.core.hashing import content_id
from pipeline.importers.common import ImportContext, Skip, event, messages_prompt, response, text_of

HELP = ("HelpSteer2 rows (nvidia/HelpSteer2 .jsonl[.gz]/.parquet): one rating event a response, "
        "score = helpfulness + 1, pairs per prompt by helpfulness")
CONSENT = True  # annotation work released for reward-model and preference training (CC-BY-4.0)
ATTRIBUTES = ("helpfulness", "correctness", "coherence", "complexity", "verbosity")
_TURN = re.compile(r"\n?<extra_id_1>(User|Assistant)\n")
_ROLES = {"User": "user", "Assistant": "assistant"}


def prompt_messages(text: str) -> list[dict[str, str]]:
    """The turns of a HelpSteer2 prompt: the first is the user's, each `<extra_id_1>Role` line
    starts the next."""
    parts = _TURN.split(text)
    messages = [{"role": "user", "content": parts[0]}]
    for role, content in zip(parts[1::2], parts[2::2]):
        messages.append({"role": _ROLES[role], "content": content})
    return messages


def _attribute(record: dict[str, Any], name: str) -> int:
    value = record.get(name)
    if type(value) is float and value.is_integer():
        value = int(value)
    if type(value) is not int or not 0 <= value <= 4:
        raise Skip("label_unknown", f"{name} must be an integer 0..4, got {value!r}")
    return value


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    text = text_of(record.get("prompt"), "prompt")
    reply = record.get("response")
    values = {name: _attribute(record, name) for name in ATTRIBUTES}
    event_id = f"helpsteer2-{content_id(record)}"
    yield event(
        ctx,
        event_id=event_id,
        event_type="rating",
        created=ctx.default_created_at,
        prompt=messages_prompt(prompt_messages(text)),
        responses=[response(f"{event_id}-r0", reply)],
        label={"score": values["helpfulness"] + 1},
        annotator_kind="annotator",
        tags={"dataset": "helpsteer2", **values},
    )
