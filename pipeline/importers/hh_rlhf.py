"""HH-RLHF pairs `{"chosen": transcript, "rejected": transcript}` as pairwise events.

`split_pair` splits the transcripts (the bundled sample uses the same rule): the shared turns up to
the last shared human turn are the prompt, what follows on each side is that side's reply. Turns
are split by `templates.split_hh_transcript` (only a blank line before "Human:" or "Assistant:"
starts a turn). In 5 of the 2,312 harmless-base test pairs one side carries two assistant turns
in a row after the shared prompt; that side's response is those turns joined by a blank line, so
the pair still answers one prompt. Unlike the bundled sample (which invents crowdworker ids and mixes prompt
renderings to exercise the template stage), an import keeps what the file says: the prompt stays
rendered in the HH template it was logged in, and the file names no annotator, so the user is
`import:hh-rlhf`. HH-RLHF carries no ids, so the event id is the md5 of the record: the same pair
imported twice is an at-least-once duplicate, not a new event.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.core.hashing import content_id
from pipeline.importers.common import ImportContext, Skip, event, messages_prompt, response, text_of
from pipeline.template_normalization.templates import TemplateError, render_prompt, split_hh_transcript

HELP = "Anthropic HH-RLHF {chosen, rejected} transcripts (.jsonl/.jsonl.gz): one pairwise event a pair"
CONSENT = True  # published for preference training by the crowdworkers' task


def _shared_prompt_length(chosen: list[dict[str, str]], rejected: list[dict[str, str]]) -> int:
    """Number of shared leading turns, cut back so the prompt ends with the human's turn."""
    k = 0
    while k < min(len(chosen), len(rejected)) and chosen[k] == rejected[k]:
        k += 1
    while k and chosen[k - 1]["role"] != "user":
        k -= 1
    return k


def _reply(turns: list[dict[str, str]]) -> str:
    if not turns or any(t["role"] != "assistant" for t in turns):
        raise ValueError("a side continues with something other than assistant turns after the prompt")
    return "\n\n".join(t["content"] for t in turns)


def split_pair(chosen: str, rejected: str) -> tuple[list[dict[str, str]], str, str]:
    """(prompt messages, chosen reply, rejected reply). ValueError when the transcripts share
    no human turn or a side continues with a human turn after the shared prompt."""
    c, r = split_hh_transcript(chosen), split_hh_transcript(rejected)
    k = _shared_prompt_length(c, r)
    if k == 0:
        raise ValueError("chosen and rejected share no human turn")
    return c[:k], _reply(c[k:]), _reply(r[k:])


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
