"""OpenAI's preference fine-tuning JSONL (the DPO method of the fine-tuning API) as pairwise events.

One JSON object a line: `{"input": {"messages": [...], "tools"?: [...], "parallel_tool_calls"?: ...},
"preferred_output": [assistant message], "non_preferred_output": [assistant message]}`. The input's
messages are the prompt (they must end with the user's turn); each output is a list of assistant
messages (OpenAI takes exactly one; several are joined by a blank line) and the preferred one is
chosen. Message content may be a string or a list of text parts; a message with any other part
(an image) is skipped (`non_text_content`). A line whose conversation calls tools or functions, or
whose output does, is skipped (`tool_turns`), as in `openai-chat`: prefline prompts hold system,
user and assistant text turns only. Tool definitions alone (`input.tools`) change nothing and are not
carried.

The file has no ids and no times: the event id is the md5 of the line's input and outputs (the same
line twice is an at-least-once duplicate), the time is `--date` (default today). A training file
is written to train on, so consent defaults to true; the annotator is `annotator` with no id, since
the file does not say who preferred which output.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from pipeline.core.hashing import content_id
from pipeline.importers.common import ImportContext, Skip, messages_prompt
from pipeline.importers.openai_chat import TOOL_ROLES, _content
from pipeline.importers.trl import pairwise_event

HELP = ("OpenAI preference fine-tuning JSONL {input.messages, preferred_output, non_preferred_output} "
        "(.jsonl): one pairwise event a line, the preferred output chosen")
CONSENT = True  # a file prepared to fine-tune on


def _messages(value: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value or not all(isinstance(m, dict) for m in value):
        raise Skip("missing_field", f"{where} is not a non-empty list of messages")
    if any(m.get("role") in TOOL_ROLES or m.get("tool_calls") or m.get("function_call") for m in value):
        raise Skip("tool_turns", f"{where} calls tools or functions")
    return value


def _output(value: Any, where: str) -> str:
    messages = _messages(value, where)
    if any(m.get("role") != "assistant" for m in messages):
        raise Skip("completion_not_assistant", f"{where} holds messages other than the assistant's")
    return "\n\n".join(_content(m, i) for i, m in enumerate(messages))


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    source = record.get("input")
    if not isinstance(source, dict) or "preferred_output" not in record or "non_preferred_output" not in record:
        raise Skip("format_unknown", f"not a preference fine-tuning line (keys: {', '.join(sorted(record))})")
    turns = _messages(source.get("messages"), "input.messages")
    prompt = messages_prompt([{"role": m.get("role"), "content": _content(m, i)} for i, m in enumerate(turns)])
    chosen = _output(record["preferred_output"], "preferred_output")
    rejected = _output(record["non_preferred_output"], "non_preferred_output")
    event_id = "openai-preference-" + content_id({"input": source, "preferred_output": record["preferred_output"],
                                                  "non_preferred_output": record["non_preferred_output"]})
    yield pairwise_event(ctx, event_id, prompt, chosen, rejected, tags={"dataset_format": "openai-preference"})
