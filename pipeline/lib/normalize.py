"""Template normalization of a batch of events: rendered or structured prompts become
canonical messages with a prompt hash; unparseable prompts become rejections."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pyarrow as pa

from pipeline.lib.hashing import canonical_json, md5_hex
from pipeline.lib.templates import TemplateError, parse_prompts

NORMALIZED_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("prompt_messages", pa.string()),
        ("prompt_text", pa.string()),
        ("prompt_hash", pa.string()),
        ("template_id", pa.string()),
        ("template_version", pa.string()),
    ]
)

REJECTION_SCHEMA = pa.schema(
    [("record_id", pa.string()), ("reason", pa.string()), ("detail", pa.string())]
)


def normalize_prompt_batch(record_ids: list[str], prompt_jsons: list[str]) -> tuple[pa.Table, pa.Table]:
    """Parse one batch of prompts; returns (normalized rows, rejected rows)."""
    parsed = parse_prompts([orjson.loads(p) for p in prompt_jsons])
    ok: dict[str, list] = {name: [] for name in NORMALIZED_SCHEMA.names}
    bad: dict[str, list] = {name: [] for name in REJECTION_SCHEMA.names}
    for record_id, result in zip(record_ids, parsed):
        if isinstance(result, TemplateError):
            bad["record_id"].append(record_id)
            bad["reason"].append(result.reason)
            bad["detail"].append(result.detail)
            continue
        messages_json = canonical_json(result.messages)
        ok["record_id"].append(record_id)
        ok["prompt_messages"].append(messages_json)
        ok["prompt_text"].append("\n".join(m["content"] for m in result.messages))
        ok["prompt_hash"].append(md5_hex(messages_json))
        ok["template_id"].append(result.template_id)
        ok["template_version"].append(result.template_version)
    return (
        pa.Table.from_pydict(ok, schema=NORMALIZED_SCHEMA),
        pa.Table.from_pydict(bad, schema=REJECTION_SCHEMA),
    )


def normalize_prompts(batches: Iterator[pa.RecordBatch]) -> tuple[pa.Table, pa.Table]:
    """Normalize record batches with columns record_id, prompt_json."""
    oks, bads = [], []
    for batch in batches:
        ok, bad = normalize_prompt_batch(
            batch.column("record_id").to_pylist(), batch.column("prompt_json").to_pylist()
        )
        oks.append(ok)
        bads.append(bad)
    return (
        pa.concat_tables(oks) if oks else NORMALIZED_SCHEMA.empty_table(),
        pa.concat_tables(bads) if bads else REJECTION_SCHEMA.empty_table(),
    )
