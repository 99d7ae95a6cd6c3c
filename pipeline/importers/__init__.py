"""Importers: feedback in formats users already have -> contract events in a landing file.

`import_file(fmt, path, landing_root, day)` reads one input file, converts each record with the
format's converter and writes each event into the landing day of its own `created_at`:
`<landing_root>/<YYYY-MM-DD>/import-<fmt>-<stem>-<key>.jsonl` (`landing_root` is the landing
folder, `paths.landing_dir()`), so an export spanning months lands in many days and
`prefline build --all` builds them all. `<key>` hashes the input's bytes, the format and the
consent asked for: two imports never overwrite each other, and the same file imported again is
a no-op the summary reports. All day files are written in a hidden folder and renamed into
place after the whole input converted, so a capture never sees half an import and a failed
import leaves nothing.

What every imported event carries:
- `event_id`: `<fmt>-<the source's own id>` where the source has one (a battle's question_id, a
  Label Studio task and annotation id, an Argilla record and user id, a chat log id), else
  `<fmt>-<md5 of the source record>`; the same record imported twice is an at-least-once
  duplicate that capture and dedup already handle.
- `source`: `import:<fmt>`; `created_at`: the source's time when it has one, else `<day>T00:00:00Z` (`day` defaults
  to today, UTC).
- `user_id`: the annotator or user the source names, else `import:<fmt>`; `annotator.kind` is
  `annotator` for annotation tools and datasets, `end_user` for chat logs and arena votes, `ai`
  for AI ratings (UltraFeedback).

Consent (`consent_training`): `consent=None` takes the format's default, `CONSENT_DEFAULT[fmt]`.
Formats made of annotation work done to build training data (Argilla and Label Studio jobs,
HH-RLHF, UltraFeedback) default to true; formats made of end users' conversations (chat logs,
Chatbot Arena votes) default to false, because whether those users agreed to training is known
to whoever runs the app, not written in the file. `consent=True` (the CLI's
`--consent-training`) or `consent=False` overrides the default for every event of the import.

Options: a format may take import options (`OPTIONS[fmt]`: name -> allowed values, default first),
passed as `options={"moderation": "keep"}` (the CLI's `--option moderation=keep`); an unknown name
or value is refused with one line, and the options asked for are part of the import's key.

Nothing is dropped silently: a source record, or one unit of it (an annotation, a completion),
that yields no event is counted in `ImportSummary.skipped` under its reason, and every event is
checked against the contract before it is written (a failure is skipped as `contract:<reason>`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import orjson

from pipeline.capture.contract import ContractError, validate_values
from pipeline.importers import (
    arena,
    argilla,
    helpsteer2,
    hh_rlhf,
    label_studio,
    oasst,
    openai_chat,
    openai_preference,
    pandalm,
    trl,
    ultrafeedback,
)
from pipeline.importers.common import Converter, ImportContext, Skip, check_readable, file_stem, read_records

_MODULES = {
    "hh-rlhf": hh_rlhf,
    "arena": arena,
    "openai-chat": openai_chat,
    "ultrafeedback": ultrafeedback,
    "argilla": argilla,
    "label-studio": label_studio,
    "pandalm": pandalm,
    "oasst": oasst,
    "helpsteer2": helpsteer2,
    "trl": trl,
    "openai-preference": openai_preference,
}
IMPORTERS: dict[str, Converter] = {fmt: module.convert for fmt, module in _MODULES.items()}
FORMAT_HELP: dict[str, str] = {fmt: module.HELP for fmt, module in _MODULES.items()}
CONSENT_DEFAULT: dict[str, bool] = {fmt: module.CONSENT for fmt, module in _MODULES.items()}
# Import options a format takes: name -> the values it allows, the default first.
OPTIONS: dict[str, dict[str, tuple[str, ...]]] = {fmt: getattr(m, "OPTIONS", {}) for fmt, m in _MODULES.items()}


# Per day, buffered event bytes are appended to that day's temporary file past this size, so
# an export of any length needs neither one open file per day nor all its events in memory.
_FLUSH_BYTES = 1 << 20


@dataclass(frozen=True)
class ImportSummary:
    records_read: int
    events_written: int
    skipped: dict[str, int]
    outputs: dict[str, Path]  # landing day -> the file written into it
    per_day: dict[str, int]  # landing day -> events written there
    consent: bool
    consent_is_default: bool
    already_imported: tuple[Path, ...] = ()  # set when the same file was imported before: nothing written
    options: tuple[tuple[str, str, bool], ...] = ()  # (name, value applied, whether it is the default)

    def render(self) -> str:
        """A few lines for a person: what was read, written and skipped (by reason), and the consent
        applied to the events with how to change it."""
        if self.already_imported:
            return (f"already imported: this file's events are in {', '.join(map(str, self.already_imported))}; "
                    "nothing written (remove those files to import it again)")
        total = sum(self.skipped.values())
        why = ", ".join(f"{reason} {n}" for reason, n in self.skipped.items())
        days = sorted(self.per_day)
        if not days:
            where = "no landing day"
        elif len(days) <= 5:
            where = ", ".join(f"{d} ({self.per_day[d]})" for d in days)
        else:
            where = f"{len(days)} landing days, {days[0]} .. {days[-1]}"
        root = next(iter(self.outputs.values())).parent.parent if self.outputs else None
        lines = [
            f"read {self.records_read} records, wrote {self.events_written} events"
            + (f" under {root}/: {where}" if root else ""),
            f"skipped {total}" + (f" ({why})" if why else ""),
        ]
        flag = "--no-consent-training" if self.consent else "--consent-training"
        if self.consent_is_default:
            lines.append(f"consent_training={str(self.consent).lower()} on every event: this format's default "
                         f"({'annotation work' if self.consent else 'end users, whose consent the file does not record'}); "
                         f"import again with {flag} to change it")
        else:
            lines.append(f"consent_training={str(self.consent).lower()} on every event, as asked")
        if self.options:
            lines.append("options: " + ", ".join(f"{name}={value}" + (" (default)" if default else "")
                                                 for name, value, default in self.options)
                         + "; change one with --option NAME=VALUE")
        return "\n".join(lines)

    @property
    def output(self) -> Path | None:
        """The only file written, for an import that lands in a single day."""
        return next(iter(self.outputs.values())) if len(self.outputs) == 1 else None


def content_key(fmt: str, path: Path, consent: bool | None, options: tuple[tuple[str, str], ...] = ()) -> str:
    """12 hex digits naming one import: the input's bytes, the format, the consent and the options
    asked for. The same file imported the same way always has the same key, whatever its name."""
    asked = "".join(f"{k}={v}\0" for k, v in options)
    digest = hashlib.sha256(f"{fmt}\0{consent}\0{asked}".encode())
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:12]


def output_name(fmt: str, path: Path, key: str) -> str:
    return f"import-{fmt}-{file_stem(Path(path))}-{key}.jsonl"


def _valid_events(record: Any, convert: Converter, ctx: ImportContext, skipped: Counter[str]) -> list[dict[str, Any]]:
    """The events of one source record that meet the contract; everything else counted by reason."""
    if isinstance(record, Skip):
        skipped[record.reason] += 1
        return []
    events = []
    try:
        for item in convert(record, ctx):
            if isinstance(item, Skip):
                skipped[item.reason] += 1
                continue
            try:
                validate_values(item)
            except ContractError as exc:
                skipped[f"contract:{exc.reason}"] += 1
                continue
            events.append(item)
    except Skip as skip:
        skipped[skip.reason] += 1
    return events


def checked_options(fmt: str, options: dict[str, str] | None) -> tuple[tuple[str, str], ...]:
    """The options asked for, checked against what the format takes (ValueError, one line, else)."""
    allowed = OPTIONS[fmt]
    for name, value in (options or {}).items():
        if name not in allowed:
            takes = ", ".join(allowed) or "none"
            raise ValueError(f"format {fmt} has no option {name!r}; its options: {takes}")
        if value not in allowed[name]:
            raise ValueError(f"option {name} of {fmt} takes {' or '.join(allowed[name])}, not {value!r}")
    return tuple(sorted((options or {}).items()))


def import_file(fmt: str, path: Path, landing_root: Path, day: str | None = None,
                consent: bool | None = None, options: dict[str, str] | None = None) -> ImportSummary:
    """Convert one input file of format ``fmt`` into landing files, one per day of the events' own
    ``created_at``. ``day`` (YYYY-MM-DD, default today in UTC) dates only the events whose source
    has no time. Files are named by content (`import-<fmt>-<stem>-<key>.jsonl`): an import never
    overwrites another, and importing the same file again is a no-op reported in the summary.
    Every day's file is written in a hidden folder and renamed into place only once the whole
    input converted, so a failed import leaves nothing behind."""
    if fmt not in IMPORTERS:
        raise ValueError(f"unknown import format {fmt!r}; known: {', '.join(IMPORTERS)}")
    day = date.fromisoformat(day).isoformat() if day else datetime.now(UTC).date().isoformat()
    path, landing_root = Path(path), Path(landing_root)
    asked = checked_options(fmt, options)
    check_readable(path)
    key = content_key(fmt, path, consent, asked)
    name = output_name(fmt, path, key)
    chosen = CONSENT_DEFAULT[fmt] if consent is None else consent
    earlier = tuple(sorted(landing_root.glob(f"*/import-{fmt}-*-{key}.jsonl"))) if landing_root.is_dir() else ()
    if earlier:
        return ImportSummary(0, 0, {}, {}, {}, chosen, consent is None, already_imported=earlier)
    convert = IMPORTERS[fmt]
    ctx = ImportContext(fmt, day, chosen, asked)
    landing_root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".import-{key}-", dir=landing_root))  # capture ignores dot folders
    skipped: Counter[str] = Counter()
    buffers: dict[str, bytearray] = {}
    per_day: Counter[str] = Counter()
    read = 0
    outputs: dict[str, Path] = {}
    made: list[Path] = []

    def flush(d: str) -> None:
        with open(work / f"{d}.jsonl", "ab") as fh:
            fh.write(buffers[d])
        buffers[d].clear()

    try:
        for record in read_records(path):
            read += 1
            for item in _valid_events(record, convert, ctx, skipped):
                d = item["created_at"][:10]  # RFC 3339 UTC: the event's own day
                buf = buffers.setdefault(d, bytearray())
                buf += orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE)
                per_day[d] += 1
                if len(buf) > _FLUSH_BYTES:
                    flush(d)
        for d in buffers:
            flush(d)
        for d in sorted(per_day):
            target = landing_root / d / name
            if not target.parent.is_dir():
                target.parent.mkdir()
                made.append(target.parent)
            os.replace(work / f"{d}.jsonl", target)
            outputs[d] = target
    except BaseException:
        for target in outputs.values():  # undo the days already renamed into place
            target.unlink(missing_ok=True)
        for folder in made:
            if not any(folder.iterdir()):
                folder.rmdir()
        raise
    finally:
        shutil.rmtree(work, ignore_errors=True)
    applied = tuple((name, dict(asked).get(name, values[0]), name not in dict(asked))
                    for name, values in OPTIONS[fmt].items())
    return ImportSummary(read, sum(per_day.values()), dict(sorted(skipped.items())), outputs,
                         dict(sorted(per_day.items())), chosen, consent is None, options=applied)
