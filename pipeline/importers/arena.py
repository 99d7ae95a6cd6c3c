"""Chatbot Arena battles as pairwise events, in the two shapes the releases come in.

- `clean_battle_data` rows (FastChat's `fastchat/serve/monitor/clean_battle_data.py` writes
  them; `lmsys/chatbot_arena_conversations` and the 100k human-preference release publish them):
  `question_id, model_a, model_b, winner, judge, conversation_a, conversation_b, turn, anony,
  language, tstamp` (turns `{role, content, num_tokens}`), the 33k release adding
  `openai_moderation` and `toxic_chat_tag`.
- The human-preference 55k rows (`lmsys/lmsys-arena-human-preference-55k`, the Kaggle
  competition's train.csv): `id, model_a, model_b, prompt, response_a, response_b` (each a
  JSON-encoded list with one string a turn, `null` where a turn was lost) and the one-hot
  `winner_model_a, winner_model_b, winner_tie`. The turns are zipped into the two
  conversations and read like the rows above; exactly one winner column must be 1.

A battle shows one user two anonymous models side by side; the vote covers both whole
conversations. The prompt is everything before the last assistant reply, which must be the same
on both sides; the responses are the two last replies with their models; the voter is the user.

- `winner` model_a / model_b names the preferred side; `tie` is a tie; `tie (bothbad)` is a tie
  tagged `tie_kind: both_bad` (neither reply is good, which a KTO reader may want to know).
- A multi-turn battle whose user turns differ between the sides is skipped (`user_turns_differ`).
  One whose user turns agree but whose earlier assistant replies differ (the usual case: two
  models answered every turn) is skipped too (`history_differs`): each last reply answers a
  different conversation, so no single prompt fits the pair.
- `language` is the detector's English name ("English", "Spanish"); the common ones become ISO
  639-1 codes like the rest of prefline's tags, others are kept as written.
- Moderation: a battle the release flags (`openai_moderation.flagged`, or any classifier of
  `toxic_chat_tag` flagging it) is skipped as `moderation_flagged` by default. The `moderation`
  import option `keep` imports it instead, with the flags as tags (`moderation_flagged`,
  `toxic_chat`) so filtering or a reader can act on them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson

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

HELP = ("Chatbot Arena battles (clean_battle_data rows of chatbot_arena_conversations / 100k, or the 55k "
        "winner_model_a/b/tie rows, .jsonl/.json/.parquet/.csv): pairwise; moderation-flagged skipped")
CONSENT = False  # end users' votes: the importer decides whether they may be trained on
OPTIONS = {"moderation": ("skip", "keep")}
WINNER_COLUMNS = (("winner_model_a", "model_a"), ("winner_model_b", "model_b"), ("winner_tie", "tie"))

LANGUAGE_CODES = {
    "english": "en", "spanish": "es", "russian": "ru", "german": "de", "chinese": "zh", "french": "fr",
    "portuguese": "pt", "italian": "it", "japanese": "ja", "korean": "ko", "polish": "pl", "dutch": "nl",
    "vietnamese": "vi", "turkish": "tr", "arabic": "ar", "indonesian": "id", "ukrainian": "uk",
    "persian": "fa", "hungarian": "hu", "swedish": "sv", "czech": "cs", "greek": "el", "hebrew": "he",
    "hindi": "hi", "danish": "da", "finnish": "fi", "norwegian": "no", "romanian": "ro", "thai": "th",
}


def language_tag(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip() or value.strip().lower() == "unknown":
        return None
    return LANGUAGE_CODES.get(value.strip().lower(), value.strip())


def _conversation(value: Any, side: str) -> list[dict[str, Any]]:
    if not isinstance(value, list) or not value:
        raise Skip("missing_field", f"conversation_{side} is missing or empty")
    for m in value:
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise Skip("missing_field", f"conversation_{side} holds a turn without a role and text content")
    return value


def _split(conversation: list[dict[str, Any]], side: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(turns before the last assistant reply, that reply)."""
    if conversation[-1]["role"] != "assistant":
        raise Skip("no_assistant_reply", f"conversation_{side} does not end with an assistant reply")
    return conversation[:-1], conversation[-1]


def _turns(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"]) for m in messages]


def _label(winner: Any, a_id: str, b_id: str) -> tuple[dict[str, Any], str | None]:
    if winner == "model_a":
        return {"preferred": a_id}, None
    if winner == "model_b":
        return {"preferred": b_id}, None
    if winner == "tie":
        return {"tie": True}, None
    if winner == "tie (bothbad)":
        return {"tie": True}, "both_bad"
    raise Skip("label_unknown", f"winner {winner!r} is not model_a, model_b, tie or tie (bothbad)")


def _flag(value: Any) -> str | None:
    return "true" if value is True else "false" if value is False else None


def _toxic(tags: Any) -> str | None:
    """Any classifier in toxic_chat_tag flagging the battle."""
    if not isinstance(tags, dict):
        return None
    flags = [v.get("flagged") for v in tags.values() if isinstance(v, dict) and isinstance(v.get("flagged"), bool)]
    return _flag(any(flags)) if flags else None


def _turn_list(value: Any, column: str) -> list[Any]:
    """One of the 55k release's JSON-encoded turn lists (a list already, when read from parquet)."""
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise Skip("missing_field", f"{column} is not a JSON list of turns") from None
    if not isinstance(value, list) or not value:
        raise Skip("missing_field", f"{column} is missing or empty")
    return value


def _from_human_preference(record: dict[str, Any]) -> dict[str, Any]:
    """A 55k row in the clean_battle_data shape: the turns zipped into two conversations."""
    prompts = _turn_list(record.get("prompt"), "prompt")
    sides = {}
    for side in ("a", "b"):
        replies = _turn_list(record.get(f"response_{side}"), f"response_{side}")
        if len(replies) != len(prompts):
            raise Skip("missing_field", f"{len(prompts)} prompts but {len(replies)} turns in response_{side}")
        sides[side] = [m for p, r in zip(prompts, replies)
                       for m in ({"role": "user", "content": p}, {"role": "assistant", "content": r})]
    hot = [winner for column, winner in WINNER_COLUMNS if record.get(column) in (1, "1", True)]
    if len(hot) != 1:
        values = {column: record.get(column) for column, _ in WINNER_COLUMNS}
        raise Skip("label_unknown", f"exactly one of the winner columns must be 1, got {values}")
    return {"question_id": record.get("id"), "model_a": record.get("model_a"), "model_b": record.get("model_b"),
            "winner": hot[0], "conversation_a": sides["a"], "conversation_b": sides["b"]}


def _flagged(record: dict[str, Any]) -> str | None:
    """What flags the battle, if the release's moderation columns do."""
    moderation = record.get("openai_moderation")
    if isinstance(moderation, dict) and moderation.get("flagged") is True:
        return "openai_moderation.flagged"
    if _toxic(record.get("toxic_chat_tag")) == "true":
        return "toxic_chat_tag"
    return None


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any]]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    if "winner" not in record and any(column in record for column, _ in WINNER_COLUMNS):
        record = _from_human_preference(record)
    flag = _flagged(record)
    if flag and ctx.option("moderation", "skip") == "skip":
        raise Skip("moderation_flagged", f"{flag} (import with the option moderation=keep to keep it)")
    a = _conversation(record.get("conversation_a"), "a")
    b = _conversation(record.get("conversation_b"), "b")
    history_a, reply_a = _split(a, "a")
    history_b, reply_b = _split(b, "b")
    users_a = [t for t in _turns(history_a) if t[0] == "user"]
    users_b = [t for t in _turns(history_b) if t[0] == "user"]
    if users_a != users_b:
        raise Skip("user_turns_differ", "the two sides were asked different things")
    if _turns(history_a) != _turns(history_b):
        raise Skip("history_differs", "earlier assistant replies differ: the last replies answer different chats")
    prompt = messages_prompt(history_a)
    event_id = f"arena-{source_id(record.get('question_id')) or content_id(record)}"
    a_id, b_id = f"{event_id}-a", f"{event_id}-b"
    label, tie_kind = _label(record.get("winner"), a_id, b_id)
    judge = source_id(record.get("judge"))
    moderation = record.get("openai_moderation")
    yield event(
        ctx,
        event_id=event_id,
        event_type="pairwise",
        created=created_at(record.get("tstamp"), ctx),
        prompt=prompt,
        responses=[response(a_id, reply_a["content"], record.get("model_a")),
                   response(b_id, reply_b["content"], record.get("model_b"))],
        label=label,
        annotator_kind="end_user",
        annotator_id=judge,
        tags={
            "language": language_tag(record.get("language")),
            "tie_kind": tie_kind,
            "anonymous": _flag(record.get("anony")),
            "moderation_flagged": _flag(moderation.get("flagged")) if isinstance(moderation, dict) else None,
            "toxic_chat": _toxic(record.get("toxic_chat_tag")),
            "dataset": "chatbot-arena",
        },
    )
