"""The feedback event contract, schema version 1 (DESIGN.md §2.1), and its validator.

`validate_record` turns one decoded record into a flat events row plus its responses, or
raises ContractError with a `schema:<field>` reason and a detail a person can act on.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

EVENT_TYPES = ("pairwise", "rating", "thumbs", "edit", "regenerate")
THUMBS = ("up", "down")
ANNOTATOR_KINDS = ("end_user", "annotator", "ai")
REQUIRED = ("event_id", "event_type", "created_at", "source", "user_id", "consent_training", "prompt", "responses", "label")
OPTIONAL = ("annotator", "policy_version", "tags", "schema_version")
KNOWN_FIELDS = frozenset(REQUIRED + OPTIONAL)
SINGLE_RESPONSE = ("rating", "thumbs", "edit")


class ContractError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


def _fail(field: str, detail: str) -> ContractError:
    return ContractError(f"schema:{field}", detail)


def _nonempty_str(obj: dict, field: str) -> str:
    value = obj.get(field)
    if not isinstance(value, str):
        raise _fail(field, f"must be a string, got {type(value).__name__}")
    if not value.strip():
        raise _fail(field, "must not be empty")
    return value


def parse_timestamp(value: Any) -> datetime:
    if not isinstance(value, str):
        raise _fail("created_at", f"must be an RFC 3339 string, got {type(value).__name__}")
    try:
        ts = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise _fail("created_at", f"not an RFC 3339 timestamp: {value[:40]!r}") from None
    if ts.tzinfo is None:
        raise _fail("created_at", "timestamp has no UTC offset")
    return ts.astimezone(timezone.utc)


def _prompt(value: Any) -> dict:
    if not isinstance(value, dict):
        raise _fail("prompt", "must be an object with messages or text")
    if "messages" in value:
        messages = value["messages"]
        if not isinstance(messages, list) or not messages:
            raise _fail("prompt", "messages must be a non-empty list")
        for i, m in enumerate(messages):
            if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
                raise _fail("prompt", f"message {i} must have string role and content")
        return value
    if "text" in value:
        if not isinstance(value["text"], str) or not value["text"].strip():
            raise _fail("prompt", "text must be a non-empty string")
        if "template" in value and value["template"] is not None and not isinstance(value["template"], str):
            raise _fail("prompt", "template must be a string")
        return value
    raise _fail("prompt", "needs messages or text")


def _responses(value: Any, event_type: str) -> list[dict]:
    if not isinstance(value, list) or not value:
        raise _fail("responses", "must be a non-empty list")
    out, seen = [], set()
    for i, r in enumerate(value):
        if not isinstance(r, dict):
            raise _fail("responses", f"response {i} is not an object")
        rid, content, model = r.get("response_id"), r.get("content"), r.get("model")
        if not isinstance(rid, str) or not rid:
            raise _fail("responses", f"response {i} needs a string response_id")
        if rid in seen:
            raise _fail("responses", f"response_id {rid!r} repeats")
        if not isinstance(content, str):
            raise _fail("responses", f"response {rid} content must be a string")
        if model is not None and not isinstance(model, str):
            raise _fail("responses", f"response {rid} model must be a string")
        seen.add(rid)
        out.append({"position": i, "response_id": rid, "content": content, "model": model})
    n = len(out)
    if event_type in SINGLE_RESPONSE and n != 1:
        raise _fail("responses", f"{event_type} events carry exactly one response, got {n}")
    if event_type in ("pairwise", "regenerate") and n < 2:
        raise _fail("responses", f"{event_type} events carry two or more responses, got {n}")
    return out


def _label(value: Any, event_type: str, response_ids: set[str]) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise _fail("label", "must be an object")
    cols: dict[str, Any] = {}
    if event_type == "pairwise":
        if value.get("tie") is True:
            cols["label_tie"] = True
        elif "preferred" in value:
            preferred = value["preferred"]
            if preferred is not None and preferred not in response_ids:
                raise _fail("label", f"preferred {preferred!r} is not one of the responses")
            cols["label_preferred"] = preferred
        else:
            raise _fail("label", "pairwise label needs preferred (a response id or null) or tie: true")
    elif event_type == "rating":
        score = value.get("score")
        if isinstance(score, bool) or not isinstance(score, int) or not 1 <= score <= 5:
            raise _fail("label", f"rating score must be an integer 1..5, got {score!r}")
        cols["label_score"] = score
    elif event_type == "thumbs":
        thumb = value.get("value")
        if thumb not in THUMBS:
            raise _fail("label", f"thumbs value must be up or down, got {thumb!r}")
        cols["label_thumb"] = thumb
    elif event_type == "edit":
        edited = value.get("edited_content")
        if not isinstance(edited, str) or not edited.strip():
            raise _fail("label", "edit label needs non-empty edited_content")
        cols["label_edited_content"] = edited
    elif event_type == "regenerate":
        discarded = value.get("discarded")
        if discarded not in response_ids:
            raise _fail("label", f"discarded {discarded!r} is not one of the responses")
        cols["label_discarded"] = discarded
    return cols


def _annotator(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _fail("annotator", "must be an object")
    kind = value.get("kind")
    if kind not in ANNOTATOR_KINDS:
        raise _fail("annotator", f"kind must be one of {', '.join(ANNOTATOR_KINDS)}, got {kind!r}")
    aid = value.get("id")
    if aid is not None and not isinstance(aid, str):
        raise _fail("annotator", "id must be a string")
    saw = value.get("saw_model_draft")
    if saw is not None and not isinstance(saw, bool):
        raise _fail("annotator", "saw_model_draft must be a boolean")
    return {"annotator_kind": kind, "annotator_id": aid, "annotator_saw_model_draft": saw}


def _tags(value: Any) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise _fail("tags", "must be an object of string values")
    return value


def validate_record(obj: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Validate a decoded record; returns (events row, responses) or raises ContractError."""
    if not isinstance(obj, dict):
        raise ContractError("record_not_object", f"a record must be a JSON object, got {type(obj).__name__}")
    for field in REQUIRED:
        if field not in obj or obj[field] is None and field != "label":
            raise _fail(field, "required field is missing")
    extra = sorted(set(obj) - KNOWN_FIELDS)
    if extra:
        raise _fail(extra[0], "unexpected field" + (f" (also {', '.join(extra[1:])})" if extra[1:] else ""))
    version = obj.get("schema_version", 1)
    if version is None:
        version = 1
    if isinstance(version, bool) or version != 1:
        raise _fail("schema_version", f"only schema version 1 is supported, got {version!r}")
    event_id = _nonempty_str(obj, "event_id")
    event_type = obj["event_type"]
    if event_type not in EVENT_TYPES:
        raise _fail("event_type", f"must be one of {', '.join(EVENT_TYPES)}, got {event_type!r}")
    created_at = parse_timestamp(obj["created_at"])
    source = _nonempty_str(obj, "source")
    user_id = _nonempty_str(obj, "user_id")
    consent = obj["consent_training"]
    if not isinstance(consent, bool):
        raise _fail("consent_training", f"must be a boolean, got {type(consent).__name__}")
    prompt = _prompt(obj["prompt"])
    responses = _responses(obj["responses"], event_type)
    label_cols = _label(obj["label"], event_type, {r["response_id"] for r in responses})
    policy = obj.get("policy_version")
    if policy is not None and not isinstance(policy, str):
        raise _fail("policy_version", "must be a string")
    tags = _tags(obj.get("tags"))
    row = {
        "event_id": event_id,
        "event_type": event_type,
        "created_at": created_at,
        "source": source,
        "user_id": user_id,
        "consent_training": consent,
        "prompt": prompt,
        "label": obj["label"],
        "label_preferred": None,
        "label_tie": None,
        "label_score": None,
        "label_thumb": None,
        "label_edited_content": None,
        "label_discarded": None,
        "annotator_kind": None,
        "annotator_id": None,
        "annotator_saw_model_draft": None,
        "policy_version": policy,
        "category": (tags or {}).get("category"),
        "language": (tags or {}).get("language"),
        "tags": tags,
        "schema_version": 1,
        **label_cols,
        **_annotator(obj.get("annotator")),
    }
    return row, responses
