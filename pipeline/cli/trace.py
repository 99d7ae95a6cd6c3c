"""`prefline trace ID`: the whole path of a pair, KTO row or event — from landing file and
line, through every stage's decision, to each published version that holds it (or the
stage that dropped it and why)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

from pipeline.final_preference_set.publish import publications


def _dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    cur = con.execute(sql, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, (str(v) if v is not None and not isinstance(v, (int, float, bool, str)) else v
                              for v in row))) for row in cur.fetchall()]


def _versions_with(datasets_root: Path, column: str, values: list[str]) -> dict[str, list[str]]:
    """For each value, the published versions whose lineage names it."""
    files = sorted(str(p) for p in datasets_root.glob("*/lineage.parquet"))
    if not files or not values:
        return {}
    con = duckdb.connect()
    try:
        rows = con.execute(
            f"""
            select distinct {column}, regexp_extract(filename, '([^/]+)/lineage.parquet$', 1)
            from read_parquet(?, filename = true)
            where {column} in (select unnest(?))
            order by 1, 2
            """,
            [files, values],
        ).fetchall()
    finally:
        con.close()
    out: dict[str, list[str]] = {}
    for value, version in rows:
        out.setdefault(value, []).append(version)
    return out


def trace_event_records(con: duckdb.DuckDBPyConnection, record_ids: list[str], datasets_root: Path) -> list[dict[str, Any]]:
    published_in = _versions_with(datasets_root, "record_id", record_ids)
    records = []
    for rid in record_ids:
        landing = _dicts(
            con,
            """
            select record_id, event_id, partition_date, source_file, source_line, event_type, user_id,
                   consent_training, created_at, null as quarantine_reason
            from raw_feedback_events where record_id = ?
            union all
            select record_id, event_id, partition_date, source_file, source_line, null, null, null, null,
                   reason || ': ' || detail
            from raw_quarantine where record_id = ?
            """,
            [rid, rid],
        )
        steps = []
        for stage, sql in (
            ("filtering", "select kept, reason, detail from int_feedback__filtered where record_id = ?"),
            ("template_normalization",
             "select template_id, template_version, prompt_hash from normalized_events where record_id = ? "
             "union all select null, null, reason || ': ' || detail from normalization_rejections where record_id = ?"),
            ("dedup", "select kept, reason, detail, cluster_id, content_key from int_events__deduped where record_id = ?"),
            ("pair_construction", "select outcome, reason, detail from int_pairs__event_outcomes where record_id = ?"),
            ("judge_labeling",
             "select l.pair_id, l.pair_rule, p.label_source, p.judge_id, p.verdict_ab, p.verdict_ba, p.kept, "
             "p.reason, p.split, p.audit_flag from int_pairs__links l join int_pairs__labeled p using (pair_id) "
             "where l.record_id = ? order by l.pair_id"),
            ("final_preference_set", "select place, stage, reason, detail from fct_event_outcomes where record_id = ?"),
        ):
            try:
                params = [rid] * sql.count("?")
                found = _dicts(con, sql, params)
            except duckdb.CatalogException:
                found = []
            if found:
                steps.append({"stage": stage, "decisions": found})
        records.append(
            {"record_id": rid, "landing": landing, "stages": steps, "published_in": published_in.get(rid, [])}
        )
    return records


def trace(con: duckdb.DuckDBPyConnection, ident: str, datasets_root: Path) -> dict[str, Any]:
    """Trace an event id, record id, pair id or KTO id."""
    record_ids = [r[0] for r in con.execute(
        """
        select record_id from raw_feedback_events where event_id = ? or record_id = ?
        union select record_id from raw_quarantine where event_id = ? or record_id = ?
        order by 1
        """,
        [ident, ident, ident, ident],
    ).fetchall()]
    if record_ids:
        return {"id": ident, "kind": "event", "records": trace_event_records(con, record_ids, datasets_root)}

    rows = _versions_with(datasets_root, "row_id", [ident])
    pair = _dicts(
        con,
        "select pair_id, pair_rule, label_source, judge_id, judge_version, verdict_ab, verdict_ba, kept, reason, "
        "detail, split, category, template_id, cluster_id, audit_flag from int_pairs__labeled where pair_id = ?",
        [ident],
    )
    kto = _dicts(con, "select kto_id, record_id, desirable, label_source, split from fct_kto_rows where kto_id = ?", [ident])
    if not (pair or kto or rows):
        return {"id": ident, "kind": "unknown", "message": f"no event, pair or KTO row with id {ident}"}
    source_ids = [r[0] for r in con.execute(
        "select distinct record_id from int_pairs__links where pair_id = ? "
        "union select record_id from fct_kto_rows where kto_id = ? order by 1",
        [ident, ident],
    ).fetchall()]
    return {
        "id": ident,
        "kind": "pair" if pair else "kto",
        "row": (pair or kto)[0],
        "published_in": rows.get(ident, []),
        "publication_log": [p for p in publications(datasets_root) if p["version"] in rows.get(ident, [])],
        "sources": trace_event_records(con, source_ids, datasets_root),
    }


def render(result: dict[str, Any]) -> str:
    """Human-readable trace."""
    out: list[str] = []
    if result["kind"] == "unknown":
        return result["message"]
    if result["kind"] in ("pair", "kto"):
        row = result["row"]
        out.append(f"{result['kind']} {result['id']}")
        out.extend(f"  {k}: {v}" for k, v in row.items() if v is not None)
        versions = ", ".join(result["published_in"]) or "no published version"
        out.append(f"  published in: {versions}")
        out.append(f"  built from {len(result['sources'])} captured record(s):")
    else:
        out.append(f"event {result['id']}: {len(result['records'])} captured record(s)")
    for rec in result.get("records") or result.get("sources") or []:
        for land in rec["landing"]:
            out.append(
                f"  - record {rec['record_id']} (event {land['event_id']}) from landing/{land['source_file']}"
                f" line {land['source_line']} [partition {land['partition_date']}]"
            )
            if land.get("quarantine_reason"):
                out.append(f"      capture: QUARANTINED {land['quarantine_reason']}")
        for step in rec["stages"]:
            for d in step["decisions"]:
                shown = ", ".join(f"{k}={v}" for k, v in d.items() if v is not None)
                out.append(f"      {step['stage']}: {shown}")
        out.append(f"      published in: {', '.join(rec['published_in']) or 'none'}")
    return "\n".join(out)
