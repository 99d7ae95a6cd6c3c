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

A line may also be a Chat Completions response as openai-python dumps it
(`ChatCompletion.model_dump()`: `{"id", "object": "chat.completion", "created", "model", "choices":
[{"index", "message": {role, content, ...}, "finish_reason"}], "metadata", ...}`) with the request's
messages beside it under `messages` (or `request.messages`), as a stored completion comes back from
`client.chat.completions.retrieve` and `client.chat.completions.messages.list`. The feedback is
`feedback` as above, or the stored completion's `metadata` (set with `client.chat.completions.update(id,
metadata=...)`; its values are strings): `metadata.feedback` or `metadata.rating` holds the rating,
and with several choices `choice` (or `metadata.choice`) names the index of the rated one; a rating on
several choices that names none is skipped (`choice_unnamed`), since it cannot say which reply it
judged. A choice that called a tool or was refused (`message.refusal`) is skipped (`tool_turns`,
`refusal`).
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

HELP = ("OpenAI-style chat logs with feedback.rating thumbs_up/thumbs_down, or Chat Completions responses as the SDK "
        "dumps them with the rating in metadata (.jsonl): one thumbs event a rated reply")
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


def _completion_feedback(record: dict[str, Any]) -> tuple[str, Any]:
    """(thumb, the rated choice's index or None) of a Chat Completions response line."""
    feedback = record.get("feedback")
    if isinstance(feedback, dict) and feedback.get("rating") is not None:
        return _thumb(feedback), feedback.get("choice")
    metadata = record.get("metadata") if isinstance(record.get("metadata"), dict) else {}
    rating = metadata.get("feedback", metadata.get("rating"))
    if isinstance(rating, str) and rating.strip().lstrip("+-").isdigit():
        rating = int(rating)
    return _thumb({"rating": rating} if rating is not None else None), metadata.get("choice")


def _from_completion(record: dict[str, Any], ctx: ImportContext) -> dict[str, Any]:
    thumb, named = _completion_feedback(record)
    choices = record["choices"]
    if not choices or not all(isinstance(c, dict) and isinstance(c.get("message"), dict) for c in choices):
        raise Skip("missing_field", "choices is empty or a choice has no message")
    if named is None:
        if len(choices) > 1:
            raise Skip("choice_unnamed", f"the rating does not say which of {len(choices)} choices it judged")
        choice = choices[0]
    else:
        index = int(named) if isinstance(named, (int, str)) and str(named).strip().isdigit() else None
        choice = next((c for c in choices if c.get("index") == index), None)
        if choice is None:
            raise Skip("choice_unknown", f"no choice with index {named!r}")
    message = choice["message"]
    if message.get("tool_calls") or message.get("function_call"):
        raise Skip("tool_turns", "the rated choice calls tools or functions")
    if message.get("refusal"):
        raise Skip("refusal", "the rated choice is a refusal")
    request = record.get("request") if isinstance(record.get("request"), dict) else {}
    messages = record.get("messages", request.get("messages"))
    turns = _turns(messages)
    prompt = messages_prompt(turns)
    base = source_id(record.get("id")) or content_id(record)
    event_id = f"openai-chat-{base}" + (f"-{choice.get('index')}" if len(choices) > 1 else "")
    user = source_id(record.get("user", request.get("user")))
    return event(
        ctx,
        event_id=event_id,
        event_type="thumbs",
        created=created_at(record.get("created"), ctx),
        prompt=prompt,
        responses=[response(f"{event_id}-r0", _content(message, len(turns)), record.get("model"))],
        label={"value": thumb},
        annotator_kind="end_user",
        annotator_id=user,
    )


def _turns(messages: Any) -> list[dict[str, Any]]:
    if not isinstance(messages, list) or not messages:
        raise Skip("missing_field", "messages is missing or empty")
    if not all(isinstance(m, dict) for m in messages):
        raise Skip("missing_field", "a message is not an object")
    if any(m.get("role") in TOOL_ROLES or m.get("tool_calls") or m.get("function_call") for m in messages):
        raise Skip("tool_turns", "the conversation calls tools or functions")
    return [{"role": m.get("role"), "content": _content(m, i)} for i, m in enumerate(messages)]


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    if isinstance(record.get("choices"), list):
        yield _from_completion(record, ctx)
        return
    thumb = _thumb(record.get("feedback"))
    turns = _turns(record.get("messages"))
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
