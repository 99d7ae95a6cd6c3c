"""The feedback event contract, schema version 1 (DESIGN.md §2.1), and its validator.

`validate_record` turns one decoded record into a flat `raw_feedback_events` row (every column
but the landing location) plus its `raw_feedback_responses` rows, or raises ContractError with a
`schema:<field>` reason and a detail a person can act on.

Rules beyond the table in DESIGN.md, so producers know what is checked:
- A null optional value counts as absent (a Parquet struct column carries nulls for the keys a
  record does not use). The one null that means something is a pairwise `label.preferred`.
- Objects the contract spells out (the record, prompt, response, label, annotator) reject keys it
  does not name; chat messages may carry extra keys (`name`, tool calls), kept in prompt_json.
- Booleans are JSON booleans and integers JSON integers: "true" or 1.0 is the wrong type.
- `created_at` is RFC 3339 with an offset (`Z` or `±hh:mm`), stored in UTC; a Parquet timestamp
  column with a time zone is accepted as it is.
- content_hash is the md5 of the canonical JSON of the normalized record (nulls dropped,
  created_at in UTC, schema_version filled in), so a redelivery hashes the same whatever its key
  order, whitespace, timestamp offset or landing format.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

import orjson

from pipeline.core.hashing import md5_hex

EVENT_TYPES = ("pairwise", "rating", "thumbs", "edit", "regenerate")
THUMBS_VALUES = ("up", "down")
ANNOTATOR_KINDS = ("end_user", "annotator", "ai")
SCHEMA_VERSION = 1

REQUIRED_FIELDS = (
    "event_id", "event_type", "created_at", "source", "user_id", "consent_training", "prompt", "responses", "label",
)
OPTIONAL_FIELDS = ("annotator", "policy_version", "tags", "schema_version")
KNOWN_FIELDS = frozenset(REQUIRED_FIELDS + OPTIONAL_FIELDS)
NESTED_FIELDS = ("prompt", "responses", "label", "annotator", "tags")
SINGLE_RESPONSE_TYPES = frozenset(("rating", "thumbs", "edit"))
LABEL_KEYS = {
    "pairwise": frozenset(("preferred", "tie")),
    "rating": frozenset(("score",)),
    "thumbs": frozenset(("value",)),
    "edit": frozenset(("edited_content",)),
    "regenerate": frozenset(("discarded",)),
}
RESPONSE_KEYS = frozenset(("response_id", "content", "model"))
ANNOTATOR_KEYS = frozenset(("kind", "id", "saw_model_draft"))

# The events-table columns validate_record fills, in table order (capture adds the location).
EVENT_COLUMNS = (
    "event_id", "event_type", "created_at", "source", "user_id", "consent_training", "prompt_json", "label_json",
    "label_preferred", "label_tie", "label_score", "label_thumb", "label_edited_content", "label_discarded",
    "annotator_kind", "annotator_id", "annotator_saw_model_draft", "policy_version", "category", "language",
    "tags_json", "schema_version", "content_hash",
)
_LABEL_COLUMNS = EVENT_COLUMNS[8:14]
_LABEL_SLOT = {name: i for i, name in enumerate(_LABEL_COLUMNS)}
RESPONSE_COLUMNS = ("position", "response_id", "content", "model")

_RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII)
_SORTED = orjson.OPT_SORT_KEYS


class ContractError(ValueError):
    """A record breaks the contract: `reason` is the quarantine reason, `detail` says how."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _fail(field: str, detail: str) -> ContractError:
    return ContractError(f"schema:{field}", detail)


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _without_nulls(obj: dict) -> dict:
    return obj if None not in obj.values() else {k: v for k, v in obj.items() if v is not None}


def _check_keys(obj: dict, allowed: frozenset, where: str, field: str) -> None:
    if not allowed.issuperset(obj):
        extra = sorted(map(str, obj.keys() - allowed))
        raise _fail(field, f"{where} has unexpected field(s): {', '.join(extra)}")


def _nonempty_str(value: Any, field: str) -> str:
    if type(value) is not str:
        raise _fail(field, f"must be a string, got {_type_name(value)}")
    if not value or value.isspace():
        raise _fail(field, "must not be empty")
    return value


def _optional_str(value: Any, field: str, what: str) -> str | None:
    if value is not None and type(value) is not str:
        raise _fail(field, f"{what} must be a string, got {_type_name(value)}")
    return value


def parse_created_at(value: Any) -> datetime:
    """An RFC 3339 timestamp (or a zone-aware datetime from Parquet) as a UTC datetime."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise _fail("created_at", "timestamp has no time zone")
        return value.astimezone(UTC)
    if type(value) is not str:
        raise _fail("created_at", f"must be an RFC 3339 string, got {_type_name(value)}")
    if not _RFC3339.fullmatch(value):
        raise _fail("created_at", f"not an RFC 3339 timestamp with an offset: {value[:40]!r}")
    if value[10] != "T" or value[-1] == "z":  # RFC 3339 allows t, z and a space; fromisoformat wants T
        value = value.upper().replace(" ", "T")
    try:
        return datetime.fromisoformat(value).astimezone(UTC)
    except ValueError as exc:
        raise _fail("created_at", f"not a valid date or time: {value!r} ({exc})") from None


def _prompt(value: Any) -> dict:
    if type(value) is not dict:
        raise _fail("prompt", f"must be an object with messages or text, got {_type_name(value)}")
    value = _without_nulls(value)
    if "messages" in value:
        _check_keys(value, frozenset(("messages",)), "a messages prompt", "prompt")
        messages = value["messages"]
        if type(messages) is not list or not messages:
            raise _fail("prompt", "messages must be a non-empty list")
        for i, m in enumerate(messages):
            if type(m) is not dict or type(m.get("role")) is not str or type(m.get("content")) is not str:
                raise _fail("prompt", f"message {i} needs a string role and a string content")
            if not m["role"]:
                raise _fail("prompt", f"message {i} has an empty role")
        return value
    if "text" in value:
        _check_keys(value, frozenset(("text", "template")), "a text prompt", "prompt")
        if type(value["text"]) is not str or not value["text"].strip():
            raise _fail("prompt", "text must be a non-empty string")
        _optional_str(value.get("template"), "prompt", "template")
        return value
    raise _fail("prompt", "needs messages (a list) or text (a rendered prompt)")


def _responses(value: Any, event_type: str) -> tuple[list[dict], list[tuple], set[str]]:
    """(the responses with nulls dropped, their (position, response_id, content, model) rows,
    their ids)."""
    if type(value) is not list:
        raise _fail("responses", f"must be a list, got {_type_name(value)}")
    n = len(value)
    if event_type in SINGLE_RESPONSE_TYPES:
        if n != 1:
            raise _fail("responses", f"{event_type} events carry exactly one response, got {n}")
    elif n < 2:
        raise _fail("responses", f"{event_type} events carry two or more responses, got {n}")
    responses: list[dict] = []
    rows: list[tuple] = []
    seen: set[str] = set()
    for i, r in enumerate(value):
        if type(r) is not dict:
            raise _fail("responses", f"response {i} is not an object")
        if None in r.values():
            r = _without_nulls(r)
        if not RESPONSE_KEYS.issuperset(r):
            _check_keys(r, RESPONSE_KEYS, f"response {i}", "responses")
        rid, content, model = r.get("response_id"), r.get("content"), r.get("model")
        if type(rid) is not str or not rid:
            raise _fail("responses", f"response {i} needs a non-empty string response_id")
        if rid in seen:
            raise _fail("responses", f"response_id {rid!r} repeats")
        seen.add(rid)
        if type(content) is not str:
            raise _fail("responses", f"response {rid!r} content must be a string, got {_type_name(content)}")
        if model is not None and type(model) is not str:
            _optional_str(model, "responses", f"response {rid!r} model")
        responses.append(r)
        rows.append((i, rid, content, model))
    return responses, rows, seen


def _label(value: Any, event_type: str, response_ids: set[str]) -> tuple[dict, tuple[str, Any]]:
    """(the label with meaningless nulls dropped, (its typed column, value))."""
    if type(value) is not dict:
        raise _fail("label", f"must be an object, got {_type_name(value)}")
    label = _without_nulls(value)
    if event_type == "pairwise" and "preferred" in value:
        label["preferred"] = value["preferred"]
    _check_keys(label, LABEL_KEYS[event_type], f"a {event_type} label", "label")
    if event_type == "pairwise":
        tie = label.get("tie")
        if tie is not None and type(tie) is not bool:
            raise _fail("label", f"tie must be a boolean, got {_type_name(tie)}")
        if tie:
            if label.get("preferred") is not None:
                raise _fail("label", "a tie cannot also name a preferred response")
            return label, ("label_tie", True)
        if "preferred" not in label:
            raise _fail("label", "pairwise label needs preferred (a response id or null) or tie: true")
        preferred = label["preferred"]
        if preferred is not None and (type(preferred) is not str or preferred not in response_ids):
            raise _fail("label", f"preferred {preferred!r} is not one of the response ids")
        return label, ("label_preferred", preferred)
    if event_type == "rating":
        score = label.get("score")
        if type(score) is not int or not 1 <= score <= 5:
            raise _fail("label", f"rating score must be an integer 1..5, got {score!r}")
        return label, ("label_score", score)
    if event_type == "thumbs":
        thumb = label.get("value")
        if type(thumb) is not str or thumb not in THUMBS_VALUES:
            raise _fail("label", f"thumbs value must be up or down, got {thumb!r}")
        return label, ("label_thumb", thumb)
    if event_type == "edit":
        edited = label.get("edited_content")
        if type(edited) is not str or not edited.strip():
            raise _fail("label", "edit label needs a non-empty string edited_content")
        return label, ("label_edited_content", edited)
    discarded = label.get("discarded")
    if type(discarded) is not str or discarded not in response_ids:
        raise _fail("label", f"discarded {discarded!r} is not one of the response ids")
    return label, ("label_discarded", discarded)


def _annotator(value: Any) -> dict | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _fail("annotator", f"must be an object, got {_type_name(value)}")
    value = _without_nulls(value)
    _check_keys(value, ANNOTATOR_KEYS, "annotator", "annotator")
    kind = value.get("kind")
    if type(kind) is not str or kind not in ANNOTATOR_KINDS:
        raise _fail("annotator", f"kind must be one of {', '.join(ANNOTATOR_KINDS)}, got {kind!r}")
    _optional_str(value.get("id"), "annotator", "id")
    saw = value.get("saw_model_draft")
    if saw is not None and type(saw) is not bool:
        raise _fail("annotator", f"saw_model_draft must be a boolean, got {_type_name(saw)}")
    return value


def _tags(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if type(value) is not dict:
        raise _fail("tags", f"must be an object of strings, got {_type_name(value)}")
    value = _without_nulls(value)
    for k, v in value.items():
        if type(v) is not str:
            raise _fail("tags", f"tag {k!r} must be a string, got {_type_name(v)}")
    return value


def validate_values(obj: Any) -> tuple[tuple, list[tuple]]:
    """validate_record for batch readers: the events row as a tuple in EVENT_COLUMNS order and
    the responses as (position, response_id, content, model) tuples."""
    if type(obj) is not dict:
        raise ContractError("record_not_object", f"a record must be a JSON object, got {_type_name(obj)}")
    # A newer schema fails every other rule in confusing ways: name the version first.
    version = obj.get("schema_version")
    if version is not None and (type(version) is not int or version != SCHEMA_VERSION):
        raise _fail("schema_version", f"only schema version {SCHEMA_VERSION} is supported, got {version!r}")
    for field in REQUIRED_FIELDS:
        if obj.get(field) is None:
            raise _fail(field, "required field is missing")
    if not KNOWN_FIELDS.issuperset(obj):
        extra = sorted(map(str, obj.keys() - KNOWN_FIELDS))
        raise _fail(extra[0], "unexpected field" + (f" (also: {', '.join(extra[1:])})" if extra[1:] else ""))
    event_id = _nonempty_str(obj["event_id"], "event_id")
    event_type = obj["event_type"]
    if type(event_type) is not str or event_type not in EVENT_TYPES:
        raise _fail("event_type", f"must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}")
    created_at = parse_created_at(obj["created_at"])
    source = _nonempty_str(obj["source"], "source")
    user_id = _nonempty_str(obj["user_id"], "user_id")
    consent = obj["consent_training"]
    if type(consent) is not bool:
        raise _fail("consent_training", f"must be a boolean, got {_type_name(consent)}")
    prompt = _prompt(obj["prompt"])
    responses, response_rows, response_ids = _responses(obj["responses"], event_type)
    label, label_column = _label(obj["label"], event_type, response_ids)
    annotator = _annotator(obj.get("annotator"))
    policy = _optional_str(obj.get("policy_version"), "policy_version", "policy_version")
    tags = _tags(obj.get("tags"))

    prompt_json = orjson.dumps(prompt, option=_SORTED)
    label_json = orjson.dumps(label, option=_SORTED)
    tags_json = orjson.dumps(tags, option=_SORTED) if tags is not None else None
    # Columns keep decoded copies: orjson's bytes carry kilobytes of spare capacity each.
    # The record as the contract sees it; the already-canonical parts go in as fragments.
    normalized = {
        "event_id": event_id, "event_type": event_type, "created_at": created_at, "source": source,
        "user_id": user_id, "consent_training": consent, "prompt": orjson.Fragment(prompt_json),
        "responses": responses, "label": orjson.Fragment(label_json), "schema_version": SCHEMA_VERSION,
    }
    if annotator is not None:
        normalized["annotator"] = annotator
    if policy is not None:
        normalized["policy_version"] = policy
    if tags_json is not None:
        normalized["tags"] = orjson.Fragment(tags_json)
    label_values = [None] * len(_LABEL_COLUMNS)
    label_values[_LABEL_SLOT[label_column[0]]] = label_column[1]
    values = (
        event_id, event_type, created_at, source, user_id, consent, prompt_json.decode(), label_json.decode(),
        *label_values,
        annotator["kind"] if annotator else None,
        annotator.get("id") if annotator else None,
        annotator.get("saw_model_draft") if annotator else None,
        policy,
        tags.get("category") if tags else None,
        tags.get("language") if tags else None,
        tags_json.decode() if tags_json is not None else None,
        SCHEMA_VERSION,
        md5_hex(orjson.dumps(normalized, option=_SORTED)),
    )
    return values, response_rows


def validate_record(obj: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate one decoded record: (events row keyed by EVENT_COLUMNS, responses rows with
    position, response_id, content, model), or raise ContractError."""
    values, response_rows = validate_values(obj)
    return dict(zip(EVENT_COLUMNS, values)), [dict(zip(RESPONSE_COLUMNS, r)) for r in response_rows]
