"""Shared pieces of the importers: reading the input file, timestamps, prompts, the event shell.

A converter takes one decoded source record and yields contract events. A unit that cannot be
converted is reported, never dropped: the converter raises `Skip` when the whole record is
unusable, or yields a `Skip` in place of one of the events it would otherwise have made (one
annotation of a task, one completion of an UltraFeedback prompt).
"""

from __future__ import annotations

import gzip
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pyarrow.csv as pcsv
import pyarrow.parquet as pq

from pipeline.template_normalization.templates import TemplateError, canonical_messages

# Unix timestamps above this are taken as milliseconds (1e11 s is the year 5138).
_MILLIS_THRESHOLD = 1e11
# Containers an annotation tool wraps its record list in when a file is one JSON document.
_LIST_KEYS = ("records", "data", "tasks")
READABLE_SUFFIXES = (".jsonl", ".jsonl.gz", ".ndjson", ".ndjson.gz", ".json", ".json.gz", ".parquet", ".csv", ".csv.gz")


class Skip(Exception):
    """A source record (or one unit of it) that yields no event: `reason` is the summary key."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


@dataclass(frozen=True)
class ImportContext:
    fmt: str
    day: str
    consent: bool
    options: tuple[tuple[str, str], ...] = ()  # the format's import options, (name, value) sorted

    def option(self, name: str, default: str) -> str:
        return dict(self.options).get(name, default)

    @property
    def source(self) -> str:
        return f"import:{self.fmt}"

    @property
    def default_created_at(self) -> str:
        return f"{self.day}T00:00:00Z"


Converter = Callable[[Any, ImportContext], Iterator["dict[str, Any] | Skip"]]


def _json_document(path: Path) -> list[Any]:
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    with opener(path, "rb") as fh:
        doc = orjson.loads(fh.read())
    if isinstance(doc, dict):
        for key in _LIST_KEYS:
            if isinstance(doc.get(key), list):
                return doc[key]
        return [doc]
    return doc if isinstance(doc, list) else [doc]


def check_readable(path: Path) -> None:
    """Refuse, before anything is written, a file the importers cannot read."""
    if not path.name.lower().endswith(READABLE_SUFFIXES):
        raise ValueError(f"cannot read {path.name}: importers read {', '.join(READABLE_SUFFIXES)} files; "
                         "export again in one of those or convert it")
    if not path.is_file():
        raise FileNotFoundError(f"no such file: {path}")


def read_records(path: Path) -> Iterator[Any]:
    """The source records of one input file, in file order. jsonl and jsonl.gz give one record a
    line (an undecodable line comes back as a `Skip`); .json is one document: a list of records,
    or an object holding one under "records", "data" or "tasks" (Argilla and Label Studio
    exports); .parquet and .csv[.gz] give one record a row (a CSV with its header, quoted values may
    hold newlines, as in the Arena human-preference release)."""
    name = path.name.lower()
    if name.endswith(".parquet"):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=1024):
            yield from batch.to_pylist()
        return
    if name.endswith((".csv", ".csv.gz")):
        with pcsv.open_csv(path, parse_options=pcsv.ParseOptions(newlines_in_values=True)) as reader:
            for batch in reader:
                yield from batch.to_pylist()
        return
    if name.endswith((".json", ".json.gz")):
        yield from _json_document(path)
        return
    opener = gzip.open if name.endswith(".gz") else open
    with opener(path, "rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield orjson.loads(raw)
            except orjson.JSONDecodeError as exc:
                yield Skip("json_invalid", f"line {line_no}: {exc}")


def file_stem(path: Path) -> str:
    """The file name without its data suffixes: test.jsonl.gz -> test."""
    name = path.name
    for suffix in (".gz", ".jsonl", ".ndjson", ".json", ".parquet", ".csv"):
        name = name.removesuffix(suffix)
    return name


def rfc3339(value: Any) -> str:
    """A source timestamp as RFC 3339 UTC with a Z. Numbers are Unix seconds (milliseconds when
    too large for seconds); an ISO string without an offset is taken as UTC, which is how Label
    Studio and Argilla store their times."""
    if isinstance(value, bool):
        raise Skip("created_at_invalid", f"not a timestamp: {value!r}")
    if isinstance(value, (int, float)):
        seconds = value / 1000 if value > _MILLIS_THRESHOLD else value
        try:
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        except (OverflowError, OSError, ValueError):
            raise Skip("created_at_invalid", f"Unix time out of range: {value!r}") from None
    elif isinstance(value, datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=UTC)
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace(" ", "T", 1))
        except ValueError:
            raise Skip("created_at_invalid", f"not an ISO 8601 timestamp: {value[:40]!r}") from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
    else:
        raise Skip("created_at_invalid", f"not a timestamp: {type(value).__name__}")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def created_at(value: Any, ctx: ImportContext) -> str:
    return ctx.default_created_at if value is None or value == "" else rfc3339(value)


def text_of(value: Any, what: str) -> str:
    """A non-empty string field of the source, or Skip(missing_field)."""
    if not isinstance(value, str) or not value.strip():
        raise Skip("missing_field", f"{what} is missing or empty")
    return value


def text_prompt(text: Any, what: str = "prompt") -> dict[str, str]:
    """A prompt shown as one string. No template is named, so normalization recognises any chat
    markup it holds and reads anything else as plain text."""
    return {"text": text_of(text, what)}


def messages_prompt(messages: list[dict[str, Any]]) -> dict[str, list[dict[str, str]]]:
    """A conversation prompt, checked with the normalization stage's own rules (roles
    system/user/assistant, non-empty turns, the user's turn last) so a prompt that stage would
    reject is reported here under the same reason."""
    try:
        canonical_messages(messages)
    except TemplateError as exc:
        raise Skip(exc.reason, exc.detail) from None
    return {"messages": [{"role": m["role"], "content": m["content"]} for m in messages]}


def event(
    ctx: ImportContext,
    *,
    event_id: str,
    event_type: str,
    created: str,
    prompt: dict[str, Any],
    responses: list[dict[str, Any]],
    label: dict[str, Any],
    annotator_kind: str,
    annotator_id: str | None = None,
    user_id: str | None = None,
    tags: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One contract event. user_id is the person behind the feedback when the source names one,
    else `import:<format>`; empty tags and tag values are left out."""
    record: dict[str, Any] = {
        "event_id": event_id,
        "event_type": event_type,
        "created_at": created,
        "source": ctx.source,
        "user_id": user_id or annotator_id or ctx.source,
        "consent_training": ctx.consent,
        "prompt": prompt,
        "responses": responses,
        "label": label,
        "annotator": {"kind": annotator_kind, "id": annotator_id} if annotator_id else {"kind": annotator_kind},
        "schema_version": 1,
    }
    kept_tags = {k: str(v) for k, v in (tags or {}).items() if v is not None and str(v) != ""}
    if kept_tags:
        record["tags"] = kept_tags
    return record


def response(response_id: str, content: Any, model: Any = None) -> dict[str, Any]:
    if not isinstance(content, str):
        raise Skip("missing_field", f"response {response_id} has no text content")
    out: dict[str, Any] = {"response_id": response_id, "content": content}
    if isinstance(model, str) and model:
        out["model"] = model
    return out


def source_id(value: Any) -> str | None:
    """A source's own id (a string or an integer) as a string, or None when it has none."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or not str(value).strip():
        return None
    return str(value).strip()
