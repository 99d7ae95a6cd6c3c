"""The event contract (schema version 1) validated by msgspec: the same rows, in C.

`validate_json(raw)` gives exactly what `events.validate_values(orjson.loads(raw))` gives —
the same events row (every column, the content hash included), the same responses rows, or
the same ContractError (reason and detail) or orjson.JSONDecodeError — at a fraction of the
cost. msgspec decodes the record straight into typed structs with strict types (a string is
never a boolean, 5.0 never an integer), unknown fields rejected, and the label decoded with the
struct of its event type. The structs declare their fields in sorted order and leave out
absent values, so encoding one gives the canonical JSON the reference builds with
orjson.OPT_SORT_KEYS after dropping nulls; the content hash is the md5 of the normalized
record encoded in one call, not assembled field by field. `validate_object(obj)` does the
same for a record a CSV or Parquet reader has decoded (msgspec.convert, equally strict).

A record msgspec rejects, or one that breaks a rule the structs do not express (a
whitespace-only id, a response id used twice, a label naming a response that is not there, a
null where the reference drops it), goes to the reference validator, which gives its exact
reason and detail. Valid records are nearly all of a day, so nearly all take the fast path.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
import orjson
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

from pipeline.capture.contract import (
    SCHEMA_VERSION,
    SINGLE_RESPONSE_TYPES,
    ContractError,
    parse_created_at,
    validate_values,
)

NonEmpty = Annotated[str, Meta(min_length=1)]


class _Fallback(Exception):
    """The record needs the reference validator (for its verdict or its exact words)."""


class Message(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    # Messages with keys beyond role and content (name, tool calls) are valid; the reference keeps them.
    content: str
    role: NonEmpty


class Prompt(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    messages: Annotated[list[Message], Meta(min_length=1)] | None = None
    template: str | None = None
    text: str | None = None


class Response(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    content: str
    model: str | None = None
    response_id: NonEmpty


class Annotator(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    id: str | None = None
    kind: Literal["end_user", "annotator", "ai"]
    saw_model_draft: bool | None = None


class PairwiseLabel(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    preferred: str | None | UnsetType = UNSET  # null means "nobody chose": kept, unlike other nulls
    tie: bool | None = None


class RatingLabel(Struct, forbid_unknown_fields=True, kw_only=True):
    score: Annotated[int, Meta(ge=1, le=5)]


class ThumbsLabel(Struct, forbid_unknown_fields=True, kw_only=True):
    value: Literal["up", "down"]


class EditLabel(Struct, forbid_unknown_fields=True, kw_only=True):
    edited_content: str


class RegenerateLabel(Struct, forbid_unknown_fields=True, kw_only=True):
    discarded: str


class Event(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """A record as it lands; encoded (with the label and timestamp normalized) it is the
    canonical JSON whose md5 is the content hash."""

    annotator: Annotator | None = None
    consent_training: bool
    created_at: str
    event_id: str
    event_type: Literal["pairwise", "rating", "thumbs", "edit", "regenerate"]
    label: Raw
    policy_version: str | None = None
    prompt: Prompt
    responses: Annotated[list[Response], Meta(min_length=1)]
    schema_version: Literal[1] | None | UnsetType = UNSET
    source: str
    tags: dict[str, str] | None = None
    user_id: str


class EventObject(Struct, forbid_unknown_fields=True, omit_defaults=True, kw_only=True):
    """A record already decoded by a CSV or Parquet reader: `created_at` may be a datetime
    (a Parquet timestamp column), and the label is converted with its event type's struct."""

    annotator: Annotator | None = None
    consent_training: bool
    created_at: Any
    event_id: str
    event_type: Literal["pairwise", "rating", "thumbs", "edit", "regenerate"]
    label: dict
    policy_version: str | None = None
    prompt: Prompt
    responses: Annotated[list[Response], Meta(min_length=1)]
    schema_version: Literal[1] | None | UnsetType = UNSET
    source: str
    tags: dict[str, str] | None = None
    user_id: str


LABELS = {"pairwise": PairwiseLabel, "rating": RatingLabel, "thumbs": ThumbsLabel, "edit": EditLabel,
          "regenerate": RegenerateLabel}
_DECODE_EVENT = msgspec.json.Decoder(Event).decode
_DECODE_LABEL = {name: msgspec.json.Decoder(struct).decode for name, struct in LABELS.items()}
_convert = msgspec.convert
_ENCODER = msgspec.json.Encoder(order="sorted")
_encode = _ENCODER.encode
_replace = msgspec.structs.replace
_md5 = hashlib.md5
_REJECTED = (msgspec.ValidationError, msgspec.DecodeError, _Fallback, ContractError)


def _text(value: str) -> str:
    if not value or value.isspace():
        raise _Fallback
    return value


def _created_at(value: Any) -> tuple[datetime, str]:
    """The timestamp in UTC, and as the normalized record writes it (orjson's form)."""
    # The common shape, YYYY-MM-DDTHH:MM:SSZ, parsed directly; any other through the reference.
    if type(value) is str and len(value) == 20 and value[19] == "Z" and value[10] == "T" and value.isascii():
        try:
            return datetime.fromisoformat(value), value[:19] + "+00:00"
        except ValueError:
            raise _Fallback from None
    utc = parse_created_at(value)
    return utc, utc.isoformat()


def _values(event: Event | EventObject, label: Struct) -> tuple[tuple, list[tuple]]:
    event_id, event_type = _text(event.event_id), event.event_type
    created_at, created_iso = _created_at(event.created_at)
    source, user_id = _text(event.source), _text(event.user_id)
    prompt = event.prompt
    if prompt.messages is not None:
        if prompt.text is not None or prompt.template is not None:
            raise _Fallback
    elif prompt.text is None or not prompt.text.strip():
        raise _Fallback
    responses = event.responses
    n = len(responses)
    if (n != 1) if event_type in SINGLE_RESPONSE_TYPES else n < 2:
        raise _Fallback
    ids = {r.response_id for r in responses}
    if len(ids) != n:
        raise _Fallback
    preferred = tie = score = thumb = edited = discarded = None
    if event_type == "pairwise":
        if label.tie:
            if label.preferred is not None and label.preferred is not UNSET:
                raise _Fallback
            tie = True
        elif label.preferred is UNSET or (label.preferred is not None and label.preferred not in ids):
            raise _Fallback
        else:
            preferred = label.preferred
    elif event_type == "rating":
        score = label.score
    elif event_type == "thumbs":
        thumb = label.value
    elif event_type == "edit":
        edited = label.edited_content
        if not edited.strip():
            raise _Fallback
    else:
        discarded = label.discarded
        if discarded not in ids:
            raise _Fallback
    prompt_json = _encode(prompt)
    label_json = _encode(label)
    tags = event.tags
    tags_json = _encode(tags) if tags is not None else None
    # The normalized record: the record's own fields with the canonical parts spliced in.
    normalized = _replace(event, created_at=created_iso, prompt=Raw(prompt_json), label=Raw(label_json),
                          tags=Raw(tags_json) if tags_json is not None else None, schema_version=SCHEMA_VERSION)
    annotator = event.annotator
    values = (
        event_id, event_type, created_at, source, user_id, event.consent_training,
        prompt_json.decode(), label_json.decode(), preferred, tie, score, thumb, edited, discarded,
        annotator.kind if annotator else None,
        annotator.id if annotator else None,
        annotator.saw_model_draft if annotator else None,
        event.policy_version,
        tags.get("category") if tags else None,
        tags.get("language") if tags else None,
        tags_json.decode() if tags_json is not None else None,
        SCHEMA_VERSION,
        _md5(_encode(normalized), usedforsecurity=False).hexdigest(),
    )
    return values, [(i, r.response_id, r.content, r.model) for i, r in enumerate(responses)]


def validate_json(raw: bytes) -> tuple[tuple, list[tuple]]:
    """One JSON record: what `validate_values(orjson.loads(raw))` returns or raises."""
    try:
        event = _DECODE_EVENT(raw)
        return _values(event, _DECODE_LABEL[event.event_type](event.label))
    except _REJECTED:
        pass
    return validate_values(orjson.loads(raw))


def validate_object(obj: Any) -> tuple[tuple, list[tuple]]:
    """One decoded record (a CSV or Parquet row): what `validate_values(obj)` returns or raises."""
    try:
        event = _convert(obj, EventObject)
        return _values(event, _convert(event.label, LABELS[event.event_type]))
    except _REJECTED:
        pass
    return validate_values(obj)
