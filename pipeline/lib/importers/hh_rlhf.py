"""HH-RLHF pairs `{"chosen": transcript, "rejected": transcript}` as pairwise events.

The transcripts are split by `pipeline.lib.hh_rlhf.split_pair`, the same rule the bundled sample
uses: the shared turns up to the last shared human turn are the prompt, what follows on each side
is that side's reply. Unlike the bundled sample (which invents crowdworker ids and mixes prompt
renderings to exercise the template stage), an import keeps what the file says: the prompt stays
rendered in the HH template it was logged in, and the file names no annotator, so the user is
`import:hh-rlhf`. HH-RLHF carries no ids, so the event id is the md5 of the record: the same pair
imported twice is an at-least-once duplicate, not a new event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.lib.hashing import content_id
from pipeline.lib.hh_rlhf import split_pair
from pipeline.lib.importers.common import ImportContext, Skip, event, messages_prompt, response, text_of
from pipeline.lib.templates import TemplateError, render_prompt

HELP = "Anthropic HH-RLHF {chosen, rejected} transcripts (.jsonl/.jsonl.gz): one pairwise event a pair"
CONSENT = True  # published for preference training by the crowdworkers' task


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    chosen_text = text_of(record.get("chosen"), "chosen")
    rejected_text = text_of(record.get("rejected"), "rejected")
    try:
        messages, chosen, rejected = split_pair(chosen_text, rejected_text)
    except TemplateError as exc:
        raise Skip("transcript_unsplittable", exc.detail) from None
    except ValueError as exc:
        raise Skip("transcript_unsplittable", str(exc)) from None
    prompt = messages_prompt(messages)
    try:
        prompt = {"text": render_prompt(messages, "hh"), "template": "hh"}
    except ValueError:  # two turns of one speaker in a row: only the messages form can hold them
        pass
    event_id = f"hh-rlhf-{content_id({'chosen': chosen_text, 'rejected': rejected_text})}"
    # The chosen side's position follows the id, so position carries no signal about the verdict.
    chosen_first = int(event_id[-1], 16) % 2 == 0
    replies = [(chosen, True), (rejected, False)] if chosen_first else [(rejected, False), (chosen, True)]
    responses = [response(f"{event_id}-{slot}", text) for slot, (text, _) in zip("ab", replies)]
    preferred = next(r["response_id"] for r, (_, is_chosen) in zip(responses, replies) if is_chosen)
    yield event(
        ctx,
        event_id=event_id,
        event_type="pairwise",
        created=ctx.default_created_at,
        prompt=prompt,
        responses=responses,
        label={"preferred": preferred},
        annotator_kind="annotator",
        tags={"dataset": "hh-rlhf"},
    )
