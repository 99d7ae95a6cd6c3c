"""`prefline diff A B`: what changed between two published versions — rows added and
removed (with the ledger's reason where an event was dropped), label flips, and shifts in
label-source, category and template mix and in length statistics."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb

ROWS_SQL = """
select 'pair' as kind, pair_id as row_id, split, label_source, category, template_id,
       md5(to_json(prompt)) as prompt_key,
       md5(chosen[1].content) as chosen_key, md5(rejected[1].content) as rejected_key,
       length(chosen[1].content) as chosen_chars, length(rejected[1].content) as rejected_chars,
       source_event_ids
from read_parquet([{pairs}]) where replica_index = 0
union all
select 'kto', kto_id, split, label_source, category, template_id, md5(to_json(prompt)),
       md5(completion[1].content), null, length(completion[1].content), null, source_event_ids
from read_parquet('{kto}')
"""


def _load(con: duckdb.DuckDBPyConnection, name: str, folder: Path) -> None:
    pairs = ", ".join(f"'{folder / f}'" for f in ("train.parquet", "test.parquet"))
    con.execute(f"create temp table {name} as " + ROWS_SQL.format(pairs=pairs, kto=folder / "kto.parquet"))


def _mix(con: duckdb.DuckDBPyConnection, column: str) -> dict[str, dict[str, float]]:
    rows = con.execute(
        f"""
        with m as (
            select 'a' as side, {column} as k, count(*) * 1.0 / sum(count(*)) over () as share from a group by 2
            union all
            select 'b', {column}, count(*) * 1.0 / sum(count(*)) over () from b group by 2
        )
        select coalesce(k, 'null'), max(share) filter (where side = 'a'), max(share) filter (where side = 'b')
        from m group by 1 order by 1
        """
    ).fetchall()
    return {k: {"a": round(a or 0.0, 4), "b": round(b or 0.0, 4), "shift": round((b or 0.0) - (a or 0.0), 4)}
            for k, a, b in rows}


def diff_versions(root: Path, a: str, b: str) -> dict[str, Any]:
    con = duckdb.connect()
    try:
        _load(con, "a", root / a)
        _load(con, "b", root / b)
        added = con.execute("select kind, row_id from b where row_id not in (select row_id from a) order by 1, 2").fetchall()
        removed_rows = con.execute(
            "select kind, row_id, source_event_ids from a where row_id not in (select row_id from b) order by 1, 2"
        ).fetchall()
        # Why a removed row's events are gone: B's ledger knows where each dropped event went.
        reasons: dict[str, list[str]] = {}
        rejected_b = root / b / "rejected.parquet"
        if removed_rows and rejected_b.exists():
            for event_id, stage, reason in con.execute(
                f"select event_id, stage, reason from read_parquet('{rejected_b}') "
                "where event_id in (select unnest(source_event_ids) from a where row_id not in (select row_id from b))"
            ).fetchall():
                reasons.setdefault(event_id, []).append(f"{stage}:{reason}")
        removed = [
            {"kind": kind, "row_id": rid,
             "reasons": sorted({r for e in events for r in reasons.get(e, [])}) or ["not in the ledger of B"]}
            for kind, rid, events in removed_rows
        ]
        flips = con.execute(
            """
            select a.row_id as a_row, b.row_id as b_row from a join b
              on a.kind = 'pair' and b.kind = 'pair' and a.prompt_key = b.prompt_key
             and a.chosen_key = b.rejected_key and a.rejected_key = b.chosen_key
            order by 1, 2
            """
        ).fetchall()
        lengths = {}
        for side in ("a", "b"):
            chosen, rejected, longer = con.execute(
                f"select avg(chosen_chars), avg(rejected_chars), avg(case when chosen_chars > rejected_chars "
                f"then 1.0 else 0.0 end) from {side} where kind = 'pair'"
            ).fetchone()
            lengths[side] = {"mean_chosen_chars": round(chosen or 0, 1), "mean_rejected_chars": round(rejected or 0, 1),
                             "chosen_longer_share": round(longer or 0, 4)}
        counts = {side: dict(con.execute(f"select kind, count(*) from {side} group by 1 order by 1").fetchall())
                  for side in ("a", "b")}
        return {
            "a": a,
            "b": b,
            "counts": counts,
            "added": [{"kind": k, "row_id": r} for k, r in added],
            "removed": removed,
            "label_flips": [{"a_row": x, "b_row": y} for x, y in flips],
            "label_source_mix": _mix(con, "label_source"),
            "category_mix": _mix(con, "category"),
            "template_mix": _mix(con, "template_id"),
            "length": lengths,
        }
    finally:
        con.close()


def render(d: dict[str, Any], limit: int = 20) -> str:
    out = [f"diff {d['a']} -> {d['b']}"]
    out.append(f"  rows: {d['counts']['a']} -> {d['counts']['b']}")
    out.append(f"  added: {len(d['added'])}, removed: {len(d['removed'])}, label flips: {len(d['label_flips'])}")
    for row in d["removed"][:limit]:
        out.append(f"    - {row['kind']} {row['row_id']}: {', '.join(row['reasons'])}")
    for row in d["added"][:limit]:
        out.append(f"    + {row['kind']} {row['row_id']}")
    for name in ("label_source_mix", "category_mix", "template_mix"):
        shifted = {k: v for k, v in d[name].items() if v["shift"]}
        out.append(f"  {name}: " + (", ".join(f"{k} {v['a']:.1%}->{v['b']:.1%}" for k, v in shifted.items()) or "unchanged"))
    la, lb = d["length"]["a"], d["length"]["b"]
    out.append(
        f"  length: chosen {la['mean_chosen_chars']}->{lb['mean_chosen_chars']} chars, rejected "
        f"{la['mean_rejected_chars']}->{lb['mean_rejected_chars']}, chosen longer {la['chosen_longer_share']:.1%}->"
        f"{lb['chosen_longer_share']:.1%}"
    )
    return "\n".join(out)
