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


# Responses and edits are normalized in SQL (columnar): CRLF folded, ends trimmed, md5'd.
_CLEAN = "regexp_replace(replace({col}, chr(13) || chr(10), chr(10)), '^\\s+|\\s+$', '', 'g')"

KEPT_EVENTS_SQL = """
    select e.record_id, e.event_id, e.partition_date, e.prompt_json, e.label_edited_content
    from stg_feedback__events e
    join int_feedback__filtered f on f.record_id = e.record_id
    where f.kept and e.partition_date = ?::date and f.partition_date = ?::date
"""


def normalize_day(con, day: str, batch_rows: int = 50_000) -> dict[str, pa.Table]:
    """Normalize one day's kept events: prompts in Python batches, responses and edits in SQL.
    Returns the normalized_events, normalized_responses and normalization_rejections rows."""
    reader = con.execute(
        f"select record_id, prompt_json from ({KEPT_EVENTS_SQL}) order by record_id", [day, day]
    ).to_arrow_reader(batch_rows)
    parsed, rejected = normalize_prompts(reader)
    con.register("parsed", parsed)
    con.register("rejected", rejected)
    try:
        normalized = con.execute(
            f"""
            select k.record_id, k.event_id, k.partition_date, p.prompt_messages, p.prompt_text,
                   p.prompt_hash, p.template_id, p.template_version,
                   {_CLEAN.format(col='k.label_edited_content')} as edited_content,
                   md5({_CLEAN.format(col='k.label_edited_content')}) as edited_hash
            from ({KEPT_EVENTS_SQL}) k join parsed p on p.record_id = k.record_id
            order by k.record_id
            """,
            [day, day],
        ).to_arrow_table()
        responses = con.execute(
            f"""
            select r.record_id, r.partition_date, r.position, r.response_id,
                   {_CLEAN.format(col='r.content')} as content,
                   md5({_CLEAN.format(col='r.content')}) as response_hash,
                   r.model
            from raw_feedback_responses r
            join parsed p on p.record_id = r.record_id
            where r.partition_date = ?::date
            order by r.record_id, r.position
            """,
            [day],
        ).to_arrow_table()
        rejections = con.execute(
            f"""
            select x.record_id, k.event_id, k.partition_date, x.reason, x.detail
            from rejected x join ({KEPT_EVENTS_SQL}) k on k.record_id = x.record_id
            order by x.record_id
            """,
            [day, day],
        ).to_arrow_table()
    finally:
        con.unregister("parsed")
        con.unregister("rejected")
    return {"normalized_events": normalized, "normalized_responses": responses, "normalization_rejections": rejections}
