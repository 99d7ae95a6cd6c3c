"""Argilla feedback datasets (1.x `FeedbackDataset`, 2.x `Dataset`) as contract events: each annotator's answers.

Four export shapes are read, each as Argilla's own code writes it (samples written with the SDK are
in tests/data/importers/argilla/):

- 1.x records list: each `FeedbackRecord` serialized (`record.json()` / `.dict()`), a JSON list or
  one a line: `{"fields", "metadata", "responses": [{"user_id", "values": {question: {"value"}},
  "status"}], "suggestions", "external_id"}`.
- 1.x `dataset.format_as("datasets")` written with `to_json` (jsonl) or `to_parquet`: one column a
  field, one a question holding `[{"user_id", "value", "status"}]`, `metadata` as a JSON string;
  a ranking's value is `{"value": [...], "rank": [...]}`.
- 2.x `dataset.records.to_json(path)`: `{"id", "fields", "metadata", "responses": {question:
  [{"value", "user_id"}]}, "status", ...}`. Argilla 2.x writes no response status here, so every
  response in it is read as submitted: filter the records to submitted responses before exporting,
  or export `to_list(flatten=True)`, which keeps the status.
- 2.x `dataset.records.to_list(flatten=True)` written one record a line (or as a JSON list): fields
  and metadata as top-level keys, `<question>.responses`, `.responses.users`, `.responses.status`.

Fields: the prompt is a chat field (a list of `{role, content}` messages, the user's turn last) or
the first text field named prompt, instruction, question, input or query; the responses are the
text fields named response, completion, answer, output, generation or reply (optionally numbered)
plus any field a ranking or label answer names, in name order.

Questions, by the answer's value:
- ranking (a list of field names best first, or of `{value, rank}`): one pairwise event for every
  two ranked responses, the better rank preferred; equal ranks give a tie event (ledgered `tie`).
- label (a field name): one pairwise event over the record's responses with that one preferred;
  `tie`, `equal`, `same` or `both` is a tie; any other label is skipped (`label_unknown`).
- rating (an integer): a rating event on the response the question names (`rating_response1`,
  `response1-score`), or on the only response; outside prefline's 1..5 it is skipped
  (`rating_out_of_scale`), on no nameable response `rating_target_unknown`.
- anything else (text, spans, multi-label) is not preference feedback: `question_not_preference`.

Only submitted responses become labels: a draft (`response_draft`) or discarded one
(`response_discarded`) is skipped and counted. Every annotator's response is its own vote with
its own user id (`annotator.id`), so several annotators on one record are several votes on the
same pairs. Suggestions are model pre-labels, not feedback, and are not read. A record no one
answered is skipped once (`no_responses`). Metadata `category` and `language` (or `lang`) become
tags. Times come from a response's or record's `updated_at`/`inserted_at` where the export has
them; the exports written here have none, so their events are dated at the import day.
"""

from __future__ import annotations

import re
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
    text_prompt,
)

HELP = ("Argilla exports: 1.x FeedbackDataset records or format_as('datasets') jsonl/parquet, 2.x records.to_json "
        "or to_list(flatten=True); ranking, label and rating questions, chat fields")
CONSENT = True  # annotators labelling in an annotation job

PROMPT_NAMES = ("prompt", "instruction", "question", "input", "query")
_RESPONSE_NAME = re.compile(r"(response|completion|answer|output|generation|reply)[-_ ]?\d*", re.IGNORECASE)
TIE_LABELS = frozenset(("tie", "equal", "same", "both"))
_RECORD_KEYS = frozenset(("id", "external_id", "_server_id", "status", "metadata", "vectors", "suggestions",
                          "responses", "fields", "inserted_at", "updated_at", "score"))
_FLAT_SUFFIXES = (".responses.users", ".responses.status", ".responses", ".suggestion.agent", ".suggestion.score",
                  ".suggestion")


# --- one record in any shape -> (record id, fields, metadata, answers, time) -----------------------

def _answer(question: str, user: Any, value: Any, status: Any, when: Any = None) -> dict[str, Any]:
    return {"question": question, "user": source_id(user), "value": value, "status": status, "when": when}


def _v1_records(record: dict) -> list[dict]:
    answers = []
    for r in record.get("responses") or []:
        if not isinstance(r, dict):
            continue
        values = r.get("values") or {}
        for question, value in values.items() if isinstance(values, dict) else ():
            answers.append(_answer(question, r.get("user_id"), value.get("value") if isinstance(value, dict) else value,
                                   r.get("status"), r.get("updated_at") or r.get("inserted_at")))
    return answers


def _v2_nested(record: dict) -> list[dict]:
    return [_answer(question, a.get("user_id"), a.get("value"), a.get("status"),
                    a.get("updated_at") or a.get("inserted_at"))
            for question, given in record["responses"].items() if isinstance(given, list)
            for a in given if isinstance(a, dict)]


def _v2_flat(record: dict) -> list[dict]:
    answers = []
    for key, values in record.items():
        if not key.endswith(".responses") or not isinstance(values, list):
            continue
        users = record.get(f"{key}.users") or [None] * len(values)
        statuses = record.get(f"{key}.status") or [None] * len(values)
        question = key.removesuffix(".responses")
        answers += [_answer(question, u, v, s) for v, u, s in zip(values, users, statuses, strict=False)]
    return answers


def _is_flat_key(key: str) -> bool:
    return key.endswith(_FLAT_SUFFIXES)


def _v1_datasets(record: dict) -> tuple[dict, list[dict]]:
    """format_as("datasets"): a column a field or question; a question's column is a list of
    {user_id, value, status}."""
    fields, answers = {}, []
    for key, value in record.items():
        if key in _RECORD_KEYS or key.endswith(("-suggestion", "-suggestion-metadata")):
            continue
        if isinstance(value, list) and value and all(isinstance(v, dict) and "status" in v and "value" in v
                                                     for v in value):
            answers += [_answer(key, v.get("user_id"), v.get("value"), v.get("status")) for v in value]
        elif isinstance(value, list) and not value and f"{key}-suggestion" in record:
            continue  # a question nobody answered
        else:
            fields[key] = value
    return fields, answers


def _metadata(value: Any) -> dict:
    if isinstance(value, str):
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
    return value if isinstance(value, dict) else {}


def parse_record(record: Any) -> tuple[str | None, dict, dict, list[dict], Any]:
    """(the record's own id, its fields, its metadata, every response as {question, user, value,
    status, when}, the record's time) from any of the four export shapes."""
    if not isinstance(record, dict):
        raise Skip("record_not_object")
    record_id = source_id(record.get("external_id")) or source_id(record.get("id"))
    when = record.get("updated_at") or record.get("inserted_at")
    metadata = _metadata(record.get("metadata"))
    if isinstance(record.get("fields"), dict):
        fields = record["fields"]
        given = record.get("responses")
        if isinstance(given, list):
            answers = _v1_records(record)
        elif isinstance(given, dict):
            answers = _v2_nested(record)
        else:
            answers = []
        return record_id, fields, metadata, answers, when
    if any(_is_flat_key(k) for k in record):
        # to_list(flatten=True): fields and metadata share the top level
        fields = {k: v for k, v in record.items() if k not in _RECORD_KEYS and not _is_flat_key(k)}
        return record_id, fields, {**metadata, **fields}, _v2_flat(record), when
    fields, answers = _v1_datasets(record)
    return record_id, fields, metadata, answers, when


# --- fields -> prompt and responses -----------------------------------------------------------------

def _is_chat(value: Any) -> bool:
    return (isinstance(value, list) and bool(value)
            and all(isinstance(m, dict) and "role" in m and "content" in m for m in value))


def _prompt(fields: dict) -> tuple[str, dict]:
    for name, value in fields.items():
        if _is_chat(value):
            return name, messages_prompt([{"role": m["role"], "content": m["content"]} for m in value])
    for name in PROMPT_NAMES:
        if isinstance(fields.get(name), str) and fields[name].strip():
            return name, text_prompt(fields[name], name)
    raise Skip("missing_field", f"no chat field and no text field named {', '.join(PROMPT_NAMES)}")


def _named_fields(answers: list[dict]) -> set[str]:
    names: set[str] = set()
    for a in answers:
        value = a["value"]
        if isinstance(value, str):
            names.add(value)
        elif isinstance(value, dict) and isinstance(value.get("value"), list):
            names.update(v for v in value["value"] if isinstance(v, str))
        elif isinstance(value, list):
            names.update(v if isinstance(v, str) else v.get("value") for v in value
                         if isinstance(v, str) or (isinstance(v, dict) and isinstance(v.get("value"), str)))
    return names


def _responses(fields: dict, prompt_field: str, answers: list[dict]) -> dict[str, str]:
    """Response field name -> text, in name order; fields without text (an optional third response
    left empty) are not responses of this record."""
    named = _named_fields(answers)
    return {name: fields[name] for name in sorted(fields, key=_natural)
            if name != prompt_field and isinstance(fields[name], str) and fields[name].strip()
            and (_RESPONSE_NAME.fullmatch(name) or name in named)}


def _natural(name: str) -> tuple:
    return tuple(int(p) if p.isdigit() else p for p in re.split(r"(\d+)", name))


# --- one answer -> events ---------------------------------------------------------------------------

def _ranks(value: Any) -> dict[str, int] | None:
    """A ranking answer as field -> rank (1 best), or None when the value is no ranking."""
    if isinstance(value, dict) and isinstance(value.get("value"), list) and isinstance(value.get("rank"), list):
        return dict(zip(value["value"], value["rank"], strict=False))
    if isinstance(value, list) and value and all(isinstance(v, dict) and "value" in v for v in value):
        return {v["value"]: v.get("rank") for v in value}
    if isinstance(value, list) and len(value) > 1 and all(isinstance(v, str) for v in value):
        return {v: i + 1 for i, v in enumerate(value)}  # 2.x: names, best first
    return None


def _rated_field(question: str, responses: dict[str, str]) -> str:
    named = [name for name in responses if re.search(rf"(^|[-_ ]){re.escape(name)}($|[-_ ])", question)]
    if len(named) == 1:
        return named[0]
    if len(responses) == 1:
        return next(iter(responses))
    raise Skip("rating_target_unknown", f"rating question {question!r} names none of {', '.join(responses)}")


class _Record:
    def __init__(self, record_id: str, prompt: dict, responses: dict[str, str], tags: dict, ctx: ImportContext):
        self.record_id, self.prompt, self.responses, self.tags, self.ctx = record_id, prompt, responses, tags, ctx

    def _base(self, a: dict, suffix: str) -> str:
        return f"{self.record_id}-{a['user'] or 'anonymous'}-{a['question']}{suffix}"

    def _pairwise(self, a: dict, when: str, event_id: str, sides: list[str], label: dict) -> dict:
        ids = {name: f"{event_id}-{name}" for name in sides}
        if "preferred" in label:
            label = {"preferred": ids[label["preferred"]]}
        return event(self.ctx, event_id=event_id, event_type="pairwise", created=when, prompt=self.prompt,
                     responses=[response(ids[name], self.responses[name]) for name in sides], label=label,
                     annotator_kind="annotator", annotator_id=a["user"], tags=self.tags)

    def events(self, a: dict, when: str) -> Iterator[dict | Skip]:
        value = a["value"]
        ranks = _ranks(value)
        if ranks is not None and isinstance(value, list) and isinstance(value[0], str) \
                and not set(value) <= set(self.responses):
            yield Skip("question_not_preference", f"{a['question']}: labels {value[:3]!r} name no responses")
            return
        if ranks is not None:
            ranked = sorted(((r, n) for n, r in ranks.items() if isinstance(r, int) and not isinstance(r, bool)),
                            key=lambda p: _natural(p[1]))
            for i, (rank_i, name_i) in enumerate(ranked):
                for rank_j, name_j in ranked[i + 1:]:
                    if name_i not in self.responses or name_j not in self.responses:
                        missing = name_i if name_i not in self.responses else name_j
                        yield Skip("missing_field", f"ranked response {missing!r} has no text")
                        continue
                    label = ({"tie": True} if rank_i == rank_j
                             else {"preferred": name_i if rank_i < rank_j else name_j})
                    yield self._pairwise(a, when, self._base(a, f"-{name_i}-{name_j}"), [name_i, name_j], label)
            return
        if isinstance(value, bool) or value is None:
            yield Skip("question_not_preference", f"{a['question']}: {value!r}")
        elif isinstance(value, int):
            name = _rated_field(a["question"], self.responses)
            if not 1 <= value <= 5:
                yield Skip("rating_out_of_scale", f"{a['question']} = {value}: prefline ratings are 1..5")
                return
            event_id = self._base(a, "")
            yield event(self.ctx, event_id=event_id, event_type="rating", created=when, prompt=self.prompt,
                        responses=[response(f"{event_id}-{name}", self.responses[name])], label={"score": value},
                        annotator_kind="annotator", annotator_id=a["user"], tags=self.tags)
        elif isinstance(value, str) and (value in self.responses or value.lower() in TIE_LABELS):
            if len(self.responses) < 2:
                yield Skip("missing_field", "a preference needs two responses with text")
                return
            label = {"preferred": value} if value in self.responses else {"tie": True}
            yield self._pairwise(a, when, self._base(a, ""), list(self.responses), label)
        elif isinstance(value, str):
            yield Skip("label_unknown", f"{a['question']} = {value[:40]!r} names no response and is no tie")
        else:
            yield Skip("question_not_preference", f"{a['question']}: a {type(value).__name__} answer")


def convert(record: Any, ctx: ImportContext) -> Iterator[dict[str, Any] | Skip]:
    record_id, fields, metadata, answers, record_when = parse_record(record)
    if not answers:
        raise Skip("no_responses", "no one answered any question")
    prompt_field, prompt = _prompt(fields)
    responses = _responses(fields, prompt_field, answers)
    rid = f"argilla-{record_id or content_id(fields)}"
    tags = {"category": metadata.get("category"), "language": metadata.get("language") or metadata.get("lang")}
    one = _Record(rid, prompt, responses, tags, ctx)
    for a in answers:
        status = a["status"]
        if status in ("draft", "discarded"):
            yield Skip(f"response_{status}", f"{a['question']} by {a['user']}")
            continue
        if status not in (None, "submitted"):
            yield Skip("response_not_submitted", f"status {status!r}")
            continue
        try:
            when = created_at(a["when"] or record_when, ctx)
            yield from one.events(a, when)
        except Skip as skip:
            yield skip
