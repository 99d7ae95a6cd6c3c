"""Importers: feedback in formats users already have -> contract events in a landing file.

`import_file(fmt, path, landing_root, day)` reads one input file, converts each record with the
format's converter and writes the events to `<landing_root>/<day>/import-<fmt>-<stem>.jsonl`
(`landing_root` is the landing folder, `paths.landing_dir()`), where the next capture of that
day reads them. The file is written aside and renamed into place, so a capture never sees half
of it; importing the same file again rewrites the same bytes.

What every imported event carries:
- `event_id`: `<fmt>-<the source's own id>` where the source has one (a battle's question_id, a
  Label Studio task and annotation id, an Argilla record and user id, a chat log id), else
  `<fmt>-<md5 of the source record>`; the same record imported twice is an at-least-once
  duplicate that capture and dedup already handle.
- `source`: `import:<fmt>`; `created_at`: the source's time when it has one, else `<day>T00:00:00Z`.
- `user_id`: the annotator or user the source names, else `import:<fmt>`; `annotator.kind` is
  `annotator` for annotation tools and datasets, `end_user` for chat logs and arena votes, `ai`
  for AI ratings (UltraFeedback).

Consent (`consent_training`): `consent=None` takes the format's default, `CONSENT_DEFAULT[fmt]`.
Formats made of annotation work done to build training data (Argilla and Label Studio jobs,
HH-RLHF, UltraFeedback) default to true; formats made of end users' conversations (chat logs,
Chatbot Arena votes) default to false, because whether those users agreed to training is known
to whoever runs the app, not written in the file. `consent=True` (the CLI's
`--consent-training`) or `consent=False` overrides the default for every event of the import.

Nothing is dropped silently: a source record, or one unit of it (an annotation, a completion),
that yields no event is counted in `ImportSummary.skipped` under its reason, and every event is
checked against the contract before it is written (a failure is skipped as `contract:<reason>`).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from pipeline.capture.contract import ContractError, validate_values
from pipeline.importers import arena, argilla, hh_rlhf, label_studio, openai_chat, ultrafeedback
from pipeline.importers.common import Converter, ImportContext, Skip, check_readable, file_stem, read_records

_MODULES = {
    "hh-rlhf": hh_rlhf,
    "arena": arena,
    "openai-chat": openai_chat,
    "ultrafeedback": ultrafeedback,
    "argilla": argilla,
    "label-studio": label_studio,
}
IMPORTERS: dict[str, Converter] = {fmt: module.convert for fmt, module in _MODULES.items()}
FORMAT_HELP: dict[str, str] = {fmt: module.HELP for fmt, module in _MODULES.items()}
CONSENT_DEFAULT: dict[str, bool] = {fmt: module.CONSENT for fmt, module in _MODULES.items()}


@dataclass(frozen=True)
class ImportSummary:
    records_read: int
    events_written: int
    skipped: dict[str, int]
    output: Path

    def render(self) -> str:
        """One line for a person: what was read, written and skipped, and why."""
        total = sum(self.skipped.values())
        why = ", ".join(f"{reason} {n}" for reason, n in self.skipped.items())
        return (f"read {self.records_read} records, wrote {self.events_written} events to {self.output}; "
                f"skipped {total}" + (f" ({why})" if why else ""))


def output_path(fmt: str, path: Path, landing_root: Path, day: str) -> Path:
    return Path(landing_root) / day / f"import-{fmt}-{file_stem(Path(path))}.jsonl"


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


def import_file(fmt: str, path: Path, landing_root: Path, day: str, consent: bool | None = None) -> ImportSummary:
    """Convert one input file of format ``fmt`` into a landing file for ``day`` (YYYY-MM-DD)."""
    if fmt not in IMPORTERS:
        raise ValueError(f"unknown import format {fmt!r}; known: {', '.join(IMPORTERS)}")
    day = date.fromisoformat(day).isoformat()
    path = Path(path)
    check_readable(path)
    convert = IMPORTERS[fmt]
    ctx = ImportContext(fmt, day, CONSENT_DEFAULT[fmt] if consent is None else consent)
    out = output_path(fmt, path, landing_root, day)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(f".{out.name}.partial")  # capture ignores dot files
    skipped: Counter[str] = Counter()
    read = written = 0
    try:
        with open(partial, "wb") as fh:
            for record in read_records(path):
                read += 1
                for item in _valid_events(record, convert, ctx, skipped):
                    fh.write(orjson.dumps(item, option=orjson.OPT_APPEND_NEWLINE))
                    written += 1
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)
    return ImportSummary(read, written, dict(sorted(skipped.items())), out)
