"""OpenAssistant message trees (the oasst export: one tree a line, messages nested in `replies`).

A message is `{message_id, parent_id, text, role (prompter | assistant), lang, rank, emojis,
synthetic, model_name, review_count, review_result, deleted, replies}`. Two kinds of feedback
become events:

- **Ranks -> pairwise.** The assistant replies to one prompter message were ranked by OASST's
  rankers, `rank` 0 best. Every two ranked siblings make one pairwise event preferring the lower
  rank (a group of n ranked replies gives n(n-1)/2 events); the prompt is the conversation from
  the tree's root down to that prompter message. The ranking is the rankers' merged consensus,
  with no ranker named, so the events carry no annotator id (user `import:oasst`). Two siblings
  with the same rank yield no event (`rank_tied`).
- **Emojis -> thumbs.** `emojis` holds counts of the reactions a reply got: `+1` and `-1` are
  thumbs. A reply with more +1 than -1 becomes one thumbs-up event, more -1 one thumbs-down, equal
  counts none (`emoji_votes_tied`); the counts (and `red_flag`) ride along as tags. Unpaired
  thumbs become KTO rows, thumbs on one prompt pair up (README "The flow"). Emojis on a prompter
  message judge the prompt, not a reply: counted as `emojis_on_prompt`.

A message that is `deleted`, failed review (`review_result` false) or is `synthetic` (written by a
model, not a volunteer) is left out with its whole subtree, counted under `deleted`,
`review_failed` or `synthetic`, each message below it under `parent_skipped`. The `synthetic`
import option (`skip` by default, `keep`) keeps synthetic messages instead, the reply's
`model_name` as its model and tagged `synthetic`. The export has no times: events take the
import's day. Ids: `oasst-<winner id>-over-<loser id>` and `oasst-<message id>-emojis`.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import combinations
from typing import Any

from pipeline.importers.common import ImportContext, Skip, event, messages_prompt, response, source_id, text_of

HELP = "OpenAssistant message trees (oasst export .jsonl): sibling ranks -> pairwise, +1/-1 emoji counts -> thumbs"
CONSENT = True  # volunteers' work released for training (Apache-2.0)
OPTIONS = {"synthetic": ("skip", "keep")}
ROLES = {"prompter": "user", "assistant": "assistant"}


def _count(value: Any) -> int:
    return value if type(value) is int and value > 0 else 0


def _excluded(message: dict[str, Any], keep_synthetic: bool) -> str | None:
    if message.get("deleted") is True:
        return "deleted"
    if message.get("review_result") is False:
        return "review_failed"
    if message.get("synthetic") is True and not keep_synthetic:
        return "synthetic"
    return None


def _subtree_size(message: dict[str, Any]) -> int:
    replies = message.get("replies")
    return 1 + sum(_subtree_size(r) for r in replies if isinstance(r, dict)) if isinstance(replies, list) else 1


def _tags(message: dict[str, Any]) -> dict[str, Any]:
    return {"dataset": "oasst", "language": message.get("lang"),
            "synthetic": "true" if message.get("synthetic") is True else None}


def _reply(message: dict[str, Any]) -> dict[str, Any]:
    mid = source_id(message.get("message_id"))
    model = message.get("model_name") if message.get("synthetic") is True else None
    return response(f"oasst-{mid}", text_of(message.get("text"), f"message {mid} text"), model)


def _rank_events(prompt: dict, replies: list[dict[str, Any]], ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    ranked = sorted((r for r in replies if type(r.get("rank")) is int), key=lambda r: r["rank"])
    for better, worse in combinations(ranked, 2):
        if better["rank"] == worse["rank"]:
            yield Skip("rank_tied", f"replies {better['message_id']} and {worse['message_id']} share rank {better['rank']}")
            continue
        winner, loser = _reply(better), _reply(worse)
        yield event(
            ctx,
            event_id=f"oasst-{better['message_id']}-over-{worse['message_id']}",
            event_type="pairwise",
            created=ctx.default_created_at,
            prompt=prompt,
            responses=[winner, loser],
            label={"preferred": winner["response_id"]},
            annotator_kind="annotator",
            tags={**_tags(better), "rank_chosen": better["rank"], "rank_rejected": worse["rank"],
                  "ranked_replies": len(ranked)},
        )


def _emoji_event(prompt: dict, message: dict[str, Any], ctx: ImportContext) -> dict[str, Any] | Skip | None:
    emojis = message.get("emojis")
    if not isinstance(emojis, dict):
        return None
    up, down = _count(emojis.get("+1")), _count(emojis.get("-1"))
    if not up and not down:
        return None
    if up == down:
        return Skip("emoji_votes_tied", f"message {message['message_id']}: {up} +1 and {down} -1")
    reply = _reply(message)
    return event(
        ctx,
        event_id=f"oasst-{message['message_id']}-emojis",
        event_type="thumbs",
        created=ctx.default_created_at,
        prompt=prompt,
        responses=[reply],
        label={"value": "up" if up > down else "down"},
        annotator_kind="annotator",
        tags={**_tags(message), "emoji_up": up, "emoji_down": down,
              "red_flag": _count(emojis.get("red_flag")) or None},
    )


def _walk(message: dict[str, Any], history: list[dict[str, str]], ctx: ImportContext,
          keep_synthetic: bool) -> Iterator[dict[str, Any] | Skip]:
    """Events of one usable message's subtree; `history` holds the turns above it."""
    role = ROLES.get(message.get("role"))
    mid = source_id(message.get("message_id"))
    text = message.get("text")
    if role is None or mid is None or not isinstance(text, str) or not text.strip():
        yield Skip("missing_field", f"message {mid}: needs message_id, role prompter|assistant and text")
        yield from (Skip("parent_skipped") for _ in range(_subtree_size(message) - 1))
        return
    replies = message.get("replies") if isinstance(message.get("replies"), list) else []
    usable = []
    for reply in replies:
        reason = _excluded(reply, keep_synthetic) if isinstance(reply, dict) else "record_not_object"
        if reason:
            yield Skip(reason, f"message {source_id(reply.get('message_id')) if isinstance(reply, dict) else '?'}")
            if isinstance(reply, dict):
                yield from (Skip("parent_skipped") for _ in range(_subtree_size(reply) - 1))
        else:
            usable.append(reply)
    turns = [*history, {"role": role, "content": text}]
    if role == "user":
        if isinstance(message.get("emojis"), dict) and any(_count(message["emojis"].get(k)) for k in ("+1", "-1")):
            yield Skip("emojis_on_prompt", f"message {mid}")
        prompt = messages_prompt(turns)
        assistants = [r for r in usable if r.get("role") == "assistant" and source_id(r.get("message_id"))
                      and isinstance(r.get("text"), str) and r["text"].strip()]
        yield from _rank_events(prompt, assistants, ctx)
        for reply in assistants:
            emoji = _emoji_event(prompt, reply, ctx)
            if emoji is not None:
                yield emoji
    for reply in usable:
        yield from _walk(reply, turns, ctx, keep_synthetic)


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    keep_synthetic = ctx.option("synthetic", "skip") == "keep"
    reason = _excluded(record, keep_synthetic)
    if reason:
        yield Skip(reason, f"root message {source_id(record.get('message_id'))}")
        yield from (Skip("parent_skipped") for _ in range(_subtree_size(record) - 1))
        return
    if record.get("role") != "prompter" or record.get("parent_id") is not None:
        raise Skip("not_a_tree_root", "a tree starts with a prompter message without parent_id")
    yield from _walk(record, [], ctx, keep_synthetic)
