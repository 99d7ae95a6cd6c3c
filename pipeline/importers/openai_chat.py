"""Chat logs in the OpenAI message shape with a thumbs rating, as thumbs events.

One JSON object a line: `{"id", "created" (Unix seconds), "user", "model", "messages":
[{role, content}...], "feedback": {"rating", "comment"?}}`. The final assistant message is the
rated response; the messages before it are the prompt. A rating is "thumbs_up"/"thumbs_down",
"up"/"down" or 1/-1. A log without feedback is skipped (`no_feedback`): an unrated reply says
nothing about preference. The free-text comment is not carried: the event contract has no field
for it and it is the likeliest place for personal data.

Message content may be a list of parts (`[{"type": "text", "text": ...}]`); text parts are joined
with a blank line, and a message with any non-text part (an image) is skipped
(`non_text_content`) rather than imported without what the user actually saw. A log with tool
or function calls is skipped (`tool_turns`): prefline prompts hold system, user and assistant
text turns only, and a reply written from a tool's result cannot be judged without it.
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
    messages_prompt,
    response,
    source_id,
)

HELP = "OpenAI-style chat logs with feedback.rating thumbs_up/thumbs_down (.jsonl): one thumbs event a rated reply"
CONSENT = False  # end users' chats: consent is the app's to assert, not the log's

TOOL_ROLES = ("tool", "function")
RATINGS = {"thumbs_up": "up", "up": "up", 1: "up", "thumbs_down": "down", "down": "down", -1: "down"}


def _content(message: dict[str, Any], index: int) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        if any(not isinstance(p, dict) or p.get("type") != "text" or not isinstance(p.get("text"), str)
               for p in content):
            raise Skip("non_text_content", f"message {index} holds a part that is not text")
        return "\n\n".join(p["text"] for p in content)
    raise Skip("missing_field", f"message {index} has no text content")


def _thumb(feedback: Any) -> str:
    if not isinstance(feedback, dict) or feedback.get("rating") is None:
        raise Skip("no_feedback")
    rating = feedback["rating"]
    key = rating.strip().lower() if isinstance(rating, str) else rating
    if isinstance(key, bool) or not isinstance(key, (str, int, float)) or key not in RATINGS:
        raise Skip("rating_unknown", f"rating {rating!r} is not thumbs_up, thumbs_down, 1 or -1")
    return RATINGS[key]


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    thumb = _thumb(record.get("feedback"))
    messages = record.get("messages")
    if not isinstance(messages, list) or not messages:
        raise Skip("missing_field", "messages is missing or empty")
    if not all(isinstance(m, dict) for m in messages):
        raise Skip("missing_field", "a message is not an object")
    if any(m.get("role") in TOOL_ROLES or m.get("tool_calls") or m.get("function_call") for m in messages):
        raise Skip("tool_turns", "the conversation calls tools or functions")
    turns = [{"role": m.get("role"), "content": _content(m, i)} for i, m in enumerate(messages)]
    if turns[-1]["role"] != "assistant":
        raise Skip("no_assistant_reply", "the last message is not the assistant's")
    prompt = messages_prompt(turns[:-1])
    event_id = f"openai-chat-{source_id(record.get('id')) or content_id(record)}"
    user = source_id(record.get("user"))
    yield event(
        ctx,
        event_id=event_id,
        event_type="thumbs",
        created=created_at(record.get("created"), ctx),
        prompt=prompt,
        responses=[response(f"{event_id}-r0", turns[-1]["content"], record.get("model"))],
        label={"value": thumb},
        annotator_kind="end_user",
        annotator_id=user,
    )
