"""Template normalization of a batch of events: rendered or structured prompts become
canonical messages with a prompt hash; unparseable prompts become rejections. PII in
prompts, responses and edits is screened here too, where the text is first in canonical
form: redacted to typed placeholders (the default; the kinds are kept for lineage) or, under
the `drop` policy, the event is rejected with reason `pii`."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.hashing import canonical_json, md5_hex
from pipeline.template_normalization.pii import scan_batch
from pipeline.template_normalization.templates import TemplateError, parse_prompts

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


def _expand(rows: pa.Table, positions: np.ndarray, record_ids: pa.Array) -> pa.Table:
    """Rows computed once per distinct prompt (record_id holds the distinct position) -> one
    row per original record whose prompt has a row, in the records' order."""
    row_of = np.full(positions.max() + 1 if len(positions) else 0, -1, dtype=np.int64)
    row_of[np.asarray(rows.column("record_id").to_pylist(), dtype=np.int64)] = np.arange(rows.num_rows)
    picked = row_of[positions] if len(row_of) else np.empty(0, dtype=np.int64)
    keep = picked >= 0
    out = rows.take(pa.array(picked[keep]))
    return out.set_column(0, "record_id", record_ids.filter(pa.array(keep)))


def normalize_prompt_column(record_ids: pa.Array, prompt_jsons: pa.Array,
                            pii_policy: str = "redact") -> tuple[pa.Table, pa.Table]:
    """Normalize a column of prompts, parsing and screening each distinct prompt once:
    feedback repeats prompts (a million events of a day held 33k distinct ones)."""
    distinct = pc.unique(prompt_jsons)
    positions = pc.index_in(prompt_jsons, value_set=distinct).to_numpy(zero_copy_only=False)
    ok, bad = normalize_prompt_batch([str(i) for i in range(len(distinct))], distinct.to_pylist(), pii_policy)
    return _expand(ok, positions, record_ids), _expand(bad, positions, record_ids)


def normalize_prompts(batches: Iterator[pa.RecordBatch], pii_policy: str = "redact") -> tuple[pa.Table, pa.Table]:
    """Normalize record batches with columns record_id, prompt_json."""
    oks, bads = [], []
    for batch in batches:
        ok, bad = normalize_prompt_column(batch.column("record_id"), batch.column("prompt_json"), pii_policy)
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

# The day's kept events, each with md5(prompt_json) as its prompt key and a bucket drawn from
# that key, hashed once per day (hashing every prompt again in each slice's queries cost more
# than parsing them). Slice i of n holds the buckets equal to i mod n: slices split by prompt,
# so every distinct prompt is parsed once.
DAY_KEPT_SQL = f"""
    create or replace temp table _day_kept as
    select record_id, event_id, partition_date, prompt_key,
           cast(('0x' || substr(prompt_key, 1, 8)) as ubigint) as prompt_bucket, label_edited_content
    from (select k.*, md5(k.prompt_json) as prompt_key from ({KEPT_EVENTS_SQL}) k)
"""

# A day is normalized in slices of about this many kept events, so memory holds one slice of
# texts (and their redacted copies), not a whole day's.
CHUNK_EVENTS = 100_000


def _redact_column(table: pa.Table, column: str, hash_column: str) -> tuple[pa.Table, dict[str, set[str]]]:
    """Redact PII in one text column, rehash the changed texts, and say which kinds each record had."""
    scanned = scan_batch(table.column(column))
    has_pii = pc.greater(pc.list_value_length(scanned.column("kinds")), 0).combine_chunks()
    if not pc.any(has_pii).as_py():
        return table, {}
    redacted = scanned.column("redacted")
    changed = redacted.filter(has_pii).to_pylist()
    hashes = pc.replace_with_mask(
        table.column(hash_column).combine_chunks(), has_pii,
        pa.array([md5_hex(t) if t is not None else None for t in changed], pa.string()),
    )
    table = table.set_column(table.schema.get_field_index(column), column, redacted)
    table = table.set_column(table.schema.get_field_index(hash_column), hash_column, hashes)
    found: dict[str, set[str]] = {}
    flagged = zip(table.column("record_id").filter(has_pii).to_pylist(), scanned.column("kinds").filter(has_pii).to_pylist())
    for record_id, kinds in flagged:
        found.setdefault(record_id, set()).update(kinds)
    return table, found


def _without(table: pa.Table, record_ids: set[str]) -> pa.Table:
    if not record_ids:
        return table
    keep = pa.array([r not in record_ids for r in table.column("record_id").to_pylist()])
    return table.filter(keep)


def normalize_day_slices(con, day: str, pii_policy: str = "redact",
                         chunk_events: int = CHUNK_EVENTS) -> Iterator[dict[str, pa.Table]]:
    """Normalize one day's kept events slice by slice (see CHUNK_EVENTS); each slice is the
    normalized_events, normalized_responses and normalization_rejections rows of its events."""
    con.execute(DAY_KEPT_SQL, [day, day])
    try:
        kept = con.execute("select count(*) from _day_kept").fetchall()[0][0]
        chunks = max(1, -(-kept // chunk_events))
        for chunk in range(chunks):
            yield _normalize_slice(con, day, chunk, chunks, pii_policy)
    finally:
        con.execute("drop table if exists _day_kept")


def normalize_day(con, day: str, pii_policy: str = "redact", chunk_events: int = CHUNK_EVENTS) -> dict[str, pa.Table]:
    """The whole day's rows at once (tests, small days)."""
    slices = list(normalize_day_slices(con, day, pii_policy, chunk_events))
    return {name: pa.concat_tables([s[name] for s in slices]) for name in slices[0]}


def _arrow(con, sql: str, params: list) -> pa.Table:
    # A relation's Arrow result, without the extra copy a cursor's result makes.
    return con.sql(sql, params=params).to_arrow_table()


def _normalize_slice(con, day: str, chunk: int, chunks: int, pii_policy: str,
                     batch_rows: int = 50_000) -> dict[str, pa.Table]:
    """Prompts in Python batches, responses and edits in SQL, PII screened in all three."""
    # Each distinct prompt is parsed and screened once, keyed by md5(prompt_json) in place of
    # a record id; feedback repeats prompts (a million events of a day held 33k distinct ones).
    reader = con.sql(
        """
        select distinct d.prompt_key as record_id, e.prompt_json
        from _day_kept d join stg_feedback__events e on e.record_id = d.record_id
        where d.prompt_bucket % ? = ? and e.partition_date = ?::date
        order by 1
        """,
        params=[chunks, chunk, day],
    ).to_arrow_reader(batch_rows)
    parsed, rejected = normalize_prompts(reader, pii_policy)
    con.register("parsed", parsed)
    con.register("rejected", rejected)
    try:
        normalized = _arrow(
            con,
            f"""
            select k.record_id, k.event_id, k.partition_date, p.prompt_messages, p.prompt_text,
                   p.prompt_hash, p.template_id, p.template_version, p.pii_kinds,
                   {_CLEAN.format(col='k.label_edited_content')} as edited_content,
                   md5({_CLEAN.format(col='k.label_edited_content')}) as edited_hash
            from _day_kept k join parsed p on p.record_id = k.prompt_key
            where k.prompt_bucket % ? = ?
            order by k.record_id
            """,
            [chunks, chunk],
        )
        con.register("normalized_rows", normalized.select(["record_id"]))
        responses = _arrow(
            con,
            f"""
            select r.record_id, r.partition_date, r.position, r.response_id,
                   {_CLEAN.format(col='r.content')} as content,
                   md5({_CLEAN.format(col='r.content')}) as response_hash,
                   r.model
            from raw_feedback_responses r
            join normalized_rows p on p.record_id = r.record_id
            where r.partition_date = ?::date
            order by r.record_id, r.position
            """,
            [day],
        )
        rejections = _arrow(
            con,
            """
            select k.record_id, k.event_id, k.partition_date, x.reason, x.detail
            from rejected x join _day_kept k on k.prompt_key = x.record_id
            where k.prompt_bucket % ? = ?
            order by k.record_id
            """,
            [chunks, chunk],
        )
    finally:
        for name in ("parsed", "rejected", "normalized_rows"):
            con.unregister(name)
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
        flagged = pc.is_in(normalized.column("record_id"), value_set=pa.array(sorted(found), pa.string())).combine_chunks()
        merged = [
            ",".join(sorted(set(filter(None, (existing or "").split(","))) | found[r]))
            for r, existing in zip(normalized.column("record_id").filter(flagged).to_pylist(),
                                   normalized.column("pii_kinds").filter(flagged).to_pylist())
        ]
        kinds = pc.replace_with_mask(normalized.column("pii_kinds").combine_chunks(), flagged, pa.array(merged, pa.string()))
        normalized = normalized.set_column(normalized.schema.get_field_index("pii_kinds"), "pii_kinds", kinds)
    return {"normalized_events": normalized, "normalized_responses": responses, "normalization_rejections": rejections}
