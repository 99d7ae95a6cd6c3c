"""Rows in TRL's dataset formats (docs/source/dataset_formats.md of huggingface/trl) as events.

- Preference, explicit prompt: `{"prompt", "chosen", "rejected"}`, each a string (standard) or a
  list of `{role, content}` messages (conversational: the prompt's turns, then the assistant
  turns of each side). One pairwise event preferring the chosen side.
- Preference, implicit prompt: `{"chosen", "rejected"}` only, the prompt inside both. The prompt is
  the shared prefix, as TRL's `extract_prompt` takes it: for message lists the longest common run of
  turns, cut back so it ends with a user turn; for strings the longest common prefix of characters,
  except that an Anthropic HH transcript ("\\n\\nHuman: ... \\n\\nAssistant: ...") is split by turns
  as the `hh-rlhf` importer splits it, so a reply never starts mid-turn.
- Unpaired preference: `{"prompt", "completion", "label": bool}` (KTO): one thumbs event, up for
  true, down for false.

A prefline version is this format (`train.parquet`, `test.parquet`, `kto.parquet`), so it can be fed
back in: its rows labeled by an AI (`label_source` `ai_judge` or `ai_annotator`) come back with an
AI annotator (`judge_id` as its id) and stay AI labels; its `pair_id` is not reused as the event id,
because upsampling repeats a pair's row and each repeat would collide.

The chosen side's position (first or second response) follows the event id, so position carries no
signal. Event ids are `trl-<md5 of the row's prompt, chosen and rejected (or completion and label)>`:
the same row imported twice is an at-least-once duplicate that filtering already ledgers. TRL rows
carry no time, so events take `--date` (default today). Message content may be a list of parts; only
text parts are read, and a row with an image or any other part is skipped (`non_text_content`), as
is one whose completion holds turns other than the assistant's (`completion_not_assistant`).
Stepwise supervision (`completions` / `labels`) and language-modeling rows say nothing about a
preference between replies and are skipped as `format_unknown`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from pipeline.core.hashing import content_id
from pipeline.importers.common import ImportContext, Skip, event, messages_prompt, response, text_of, text_prompt
from pipeline.importers.hh_rlhf import split_pair
from pipeline.template_normalization.templates import TemplateError

HELP = ("TRL preference rows {prompt?, chosen, rejected} (standard or conversational, explicit or implicit "
        "prompt) and unpaired {prompt, completion, label} (.jsonl/.json/.parquet; a prefline version too)")
CONSENT = True  # datasets in TRL's format are published for preference training

AI_SOURCES = ("ai_judge", "ai_annotator")


def _content(message: Any, where: str) -> dict[str, str]:
    if not isinstance(message, dict) or not isinstance(message.get("role"), str):
        raise Skip("message_malformed", f"{where}: a message is not {{role, content}}")
    content = message.get("content")
    if isinstance(content, list):
        if any(not isinstance(p, dict) or p.get("type") != "text" or not isinstance(p.get("text"), str)
               for p in content):
            raise Skip("non_text_content", f"{where}: a message holds a part that is not text")
        content = "\n\n".join(p["text"] for p in content)
    if not isinstance(content, str):
        raise Skip("message_malformed", f"{where}: a message has no text content")
    return {"role": message["role"], "content": content}


def _messages(value: Any, where: str) -> list[dict[str, str]] | None:
    """A conversational field as messages, or None when the field is a string (standard)."""
    if isinstance(value, str):
        return None
    if not isinstance(value, list) or not value:
        raise Skip("missing_field", f"{where} is neither a string nor a non-empty list of messages")
    return [_content(m, where) for m in value]


def _reply(turns: list[dict[str, str]], where: str) -> str:
    """The text of a completion: its assistant turns, joined by a blank line."""
    if not turns or any(t["role"] != "assistant" for t in turns):
        raise Skip("completion_not_assistant", f"{where} holds turns other than the assistant's")
    return "\n\n".join(t["content"] for t in turns)


def _implicit_messages(chosen: list[dict[str, str]], rejected: list[dict[str, str]]):
    k = 0
    while k < min(len(chosen), len(rejected)) and chosen[k] == rejected[k]:
        k += 1
    while k and chosen[k - 1]["role"] != "user":
        k -= 1
    if k == 0:
        raise Skip("prompt_missing", "chosen and rejected share no user turn")
    return messages_prompt(chosen[:k]), _reply(chosen[k:], "chosen"), _reply(rejected[k:], "rejected")


def _implicit_strings(chosen: str, rejected: str):
    try:
        messages, chosen_reply, rejected_reply = split_pair(chosen, rejected)
    except (TemplateError, ValueError):
        prefix = os.path.commonprefix([chosen, rejected])
        if not prefix.strip():
            raise Skip("prompt_missing", "chosen and rejected share no prefix") from None
        return text_prompt(prefix), chosen[len(prefix):], rejected[len(prefix):]
    return messages_prompt(messages), chosen_reply, rejected_reply


def _prompt(value: Any) -> dict[str, Any]:
    messages = _messages(value, "prompt")
    return text_prompt(value) if messages is None else messages_prompt(messages)


def _side(value: Any, where: str) -> str:
    messages = _messages(value, where)
    return text_of(value, where) if messages is None else _reply(messages, where)


def _annotator(record: dict[str, Any]) -> tuple[str, str | None]:
    if record.get("label_source") in AI_SOURCES:
        judge = record.get("judge_id")
        return "ai", judge if isinstance(judge, str) and judge else str(record["label_source"])
    return "annotator", None


def _preference(record: dict[str, Any], ctx: ImportContext) -> dict[str, Any]:
    if record.get("prompt") is None:
        c, r = _messages(record["chosen"], "chosen"), _messages(record["rejected"], "rejected")
        if (c is None) != (r is None):
            raise Skip("missing_field", "chosen and rejected are not both strings or both message lists")
        if c is None:
            prompt, chosen, rejected = _implicit_strings(text_of(record["chosen"], "chosen"),
                                                         text_of(record["rejected"], "rejected"))
        else:
            prompt, chosen, rejected = _implicit_messages(c, r)
    else:
        prompt = _prompt(record["prompt"])
        chosen, rejected = _side(record["chosen"], "chosen"), _side(record["rejected"], "rejected")
    event_id = "trl-" + content_id({"prompt": record.get("prompt"), "chosen": record["chosen"],
                                    "rejected": record["rejected"]})
    kind, annotator_id = _annotator(record)
    return pairwise_event(ctx, event_id, prompt, chosen, rejected, kind, annotator_id,
                          tags={"dataset_format": "trl-preference"})


def pairwise_event(ctx: ImportContext, event_id: str, prompt: dict[str, Any], chosen: str, rejected: str,
                   kind: str = "annotator", annotator_id: str | None = None,
                   tags: dict[str, Any] | None = None) -> dict[str, Any]:
    """One pairwise event preferring ``chosen``. Which of the two responses comes first follows
    the event id, so the position carries no signal about the verdict."""
    chosen_first = int(event_id[-1], 16) % 2 == 0
    replies = [(chosen, True), (rejected, False)] if chosen_first else [(rejected, False), (chosen, True)]
    responses = [response(f"{event_id}-{slot}", text) for slot, (text, _) in zip("ab", replies)]
    return event(
        ctx, event_id=event_id, event_type="pairwise", created=ctx.default_created_at, prompt=prompt,
        responses=responses,
        label={"preferred": next(r["response_id"] for r, (_, is_chosen) in zip(responses, replies) if is_chosen)},
        annotator_kind=kind, annotator_id=annotator_id, tags=tags,
    )


def _unpaired(record: dict[str, Any], ctx: ImportContext) -> dict[str, Any]:
    label = record["label"]
    if not isinstance(label, bool):
        raise Skip("label_unknown", f"label {label!r} is not true or false")
    if record.get("prompt") is None:
        raise Skip("prompt_missing", "an unpaired row needs a prompt")
    prompt = _prompt(record["prompt"])
    completion = _side(record["completion"], "completion")
    event_id = "trl-" + content_id({"prompt": record["prompt"], "completion": record["completion"], "label": label})
    kind, annotator_id = _annotator(record)
    return event(
        ctx, event_id=event_id, event_type="thumbs", created=ctx.default_created_at, prompt=prompt,
        responses=[response(f"{event_id}-r0", completion)], label={"value": "up" if label else "down"},
        annotator_kind=kind, annotator_id=annotator_id, tags={"dataset_format": "trl-unpaired"},
    )


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    if record.get("images") or record.get("image"):
        raise Skip("non_text_content", "the row carries images")
    if record.get("chosen") is not None and record.get("rejected") is not None:
        yield _preference(record, ctx)
    elif record.get("completion") is not None and "label" in record:
        yield _unpaired(record, ctx)
    else:
        raise Skip("format_unknown", f"not a TRL preference or unpaired row (keys: {', '.join(sorted(record))})")
