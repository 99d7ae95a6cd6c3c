"""Template normalization of a batch of events: rendered or structured prompts become
canonical messages with a prompt hash; unparseable prompts become rejections. PII in
prompts, responses and edits is screened here too, where the text is first in canonical
form: redacted to typed placeholders (the default; the kinds are kept for lineage) or, under
the `drop` policy, the event is rejected with reason `pii`."""

from __future__ import annotations

from collections.abc import Iterator

import orjson
import pyarrow as pa

from pipeline.lib.hashing import canonical_json, md5_hex
from pipeline.lib.pii import scan_batch
from pipeline.lib.templates import TemplateError, parse_prompts

NORMALIZED_SCHEMA = pa.schema(
    [
        ("record_id", pa.string()),
        ("prompt_messages", pa.string()),
        ("prompt_text", pa.string()),
        ("prompt_hash", pa.string()),
        ("template_id", pa.string()),
        ("template_version", pa.string()),
        ("pii_kinds", pa.string()),
    ]
)

REJECTION_SCHEMA = pa.schema(
    [("record_id", pa.string()), ("reason", pa.string()), ("detail", pa.string())]
)


def _redacted_contents(contents: list[str]) -> tuple[list[str], list[tuple[str, ...]]]:
    """Redact a flat list of texts in one batched scan."""
    if not contents:
        return [], []
    scanned = scan_batch(contents)
    kinds = [tuple(k) for k in scanned.column("kinds").to_pylist()]
    return scanned.column("redacted").to_pylist(), kinds


def normalize_prompt_batch(record_ids: list[str], prompt_jsons: list[str],
                           pii_policy: str = "redact") -> tuple[pa.Table, pa.Table]:
    """Parse one batch of prompts and screen them for PII; returns (normalized rows, rejected rows)."""
    parsed = parse_prompts([orjson.loads(p) for p in prompt_jsons])
    ok: dict[str, list] = {name: [] for name in NORMALIZED_SCHEMA.names}
    bad: dict[str, list] = {name: [] for name in REJECTION_SCHEMA.names}
    flat = [m["content"] for r in parsed if not isinstance(r, TemplateError) for m in r.messages]
    redacted, flat_kinds = _redacted_contents(flat)
    cursor = 0
    for record_id, result in zip(record_ids, parsed):
        if isinstance(result, TemplateError):
            bad["record_id"].append(record_id)
            bad["reason"].append(result.reason)
            bad["detail"].append(result.detail)
            continue
        n = len(result.messages)
        kinds = sorted({k for ks in flat_kinds[cursor:cursor + n] for k in ks})
        messages = [{"role": m["role"], "content": c} for m, c in zip(result.messages, redacted[cursor:cursor + n])]
        cursor += n
        if kinds and pii_policy == "drop":
            bad["record_id"].append(record_id)
            bad["reason"].append("pii")
            bad["detail"].append("prompt holds " + ", ".join(kinds))
            continue
        ok["pii_kinds"].append(",".join(kinds) or None)
        result = result._replace(messages=messages)
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


def normalize_prompts(batches: Iterator[pa.RecordBatch], pii_policy: str = "redact") -> tuple[pa.Table, pa.Table]:
    """Normalize record batches with columns record_id, prompt_json."""
    oks, bads = [], []
    for batch in batches:
        ok, bad = normalize_prompt_batch(
            batch.column("record_id").to_pylist(), batch.column("prompt_json").to_pylist(), pii_policy
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


def _redact_column(table: pa.Table, column: str, hash_column: str) -> tuple[pa.Table, dict[str, set[str]]]:
    """Redact PII in one text column, rehash it, and say which kinds each record had."""
    texts = table.column(column)
    scanned = scan_batch(texts)
    kinds = scanned.column("kinds").to_pylist()
    if not any(kinds):
        return table, {}
    redacted = scanned.column("redacted")
    hashes = pa.array([md5_hex(t) if t is not None else None for t in redacted.to_pylist()], pa.string())
    table = table.set_column(table.schema.get_field_index(column), column, redacted)
    table = table.set_column(table.schema.get_field_index(hash_column), hash_column, hashes)
    found: dict[str, set[str]] = {}
    for record_id, ks in zip(table.column("record_id").to_pylist(), kinds):
        if ks:
            found.setdefault(record_id, set()).update(ks)
    return table, found


def _without(table: pa.Table, record_ids: set[str]) -> pa.Table:
    if not record_ids:
        return table
    keep = pa.array([r not in record_ids for r in table.column("record_id").to_pylist()])
    return table.filter(keep)


def normalize_day(con, day: str, batch_rows: int = 50_000, pii_policy: str = "redact") -> dict[str, pa.Table]:
    """Normalize one day's kept events: prompts in Python batches, responses and edits in SQL,
    PII screened in all three. Returns the normalized_events, normalized_responses and
    normalization_rejections rows."""
    reader = con.execute(
        f"select record_id, prompt_json from ({KEPT_EVENTS_SQL}) order by record_id", [day, day]
    ).to_arrow_reader(batch_rows)
    parsed, rejected = normalize_prompts(reader, pii_policy)
    con.register("parsed", parsed)
    con.register("rejected", rejected)
    try:
        normalized = con.execute(
            f"""
            select k.record_id, k.event_id, k.partition_date, p.prompt_messages, p.prompt_text,
                   p.prompt_hash, p.template_id, p.template_version, p.pii_kinds,
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
    responses, response_pii = _redact_column(responses, "content", "response_hash")
    normalized, edit_pii = _redact_column(normalized, "edited_content", "edited_hash")
    found: dict[str, set[str]] = {}
    for source in (response_pii, edit_pii):
        for record_id, kinds in source.items():
            found.setdefault(record_id, set()).update(kinds)
    if pii_policy == "drop" and found:
        events = normalized.filter(pa.array([r in found for r in normalized.column("record_id").to_pylist()]))
        extra = pa.table({
            "record_id": events.column("record_id"),
            "event_id": events.column("event_id"),
            "partition_date": events.column("partition_date"),
            "reason": pa.array(["pii"] * events.num_rows, pa.string()),
            "detail": pa.array(["responses or edit hold " + ", ".join(sorted(found[r]))
                                for r in events.column("record_id").to_pylist()], pa.string()),
        })
        rejections = pa.concat_tables([rejections, extra.cast(rejections.schema)]).sort_by("record_id")
        normalized, responses = _without(normalized, set(found)), _without(responses, set(found))
    elif found:
        merged = [
            ",".join(sorted(set(filter(None, (existing or "").split(","))) | found.get(r, set()))) or None
            for r, existing in zip(normalized.column("record_id").to_pylist(), normalized.column("pii_kinds").to_pylist())
        ]
        normalized = normalized.set_column(normalized.schema.get_field_index("pii_kinds"), "pii_kinds",
                                           pa.array(merged, pa.string()))
    return {"normalized_events": normalized, "normalized_responses": responses, "normalization_rejections": rejections}
