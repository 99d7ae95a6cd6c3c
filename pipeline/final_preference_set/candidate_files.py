"""Checks a candidate's files answer by themselves, shared by the candidate's Dagster checks
and by `prefline republish`, which audits the successor it writes the same way."""

from __future__ import annotations

from pathlib import Path

import duckdb

from pipeline.core.gx import SuiteResult

# Per-row facts the GX suite asserts: TRL's conversational preference rules and provenance.
CANDIDATE_FRAME_SQL = """
select
    pair_id, replica_index, split, label_source, weight,
    len(source_event_ids) as n_source_events,
    prompt[len(prompt)].role as prompt_last_role,
    list_bool_and(list_transform(prompt, lambda m: m.role in ('system', 'user', 'assistant'))) as prompt_roles_valid,
    list_bool_and(list_transform(prompt || chosen || rejected, lambda m: coalesce(length(trim(m.content)), 0) > 0))
        as contents_non_empty,
    chosen[1].content is distinct from rejected[1].content as chosen_differs,
    case when len(chosen) = 1 and len(rejected) = 1
              and chosen[1].role = 'assistant' and rejected[1].role = 'assistant'
         then 'assistant' else 'not a single assistant message' end as completion_roles,
    label_source <> 'ai_judge' or judge_id is not null as ai_label_has_judge
from read_parquet(?)
"""

SUITE = "preference_set_candidate"


def pair_files(folder: Path) -> list[str]:
    return [str(folder / "train.parquet"), str(folder / "test.parquet")]


def trl_suite(folder: Path, frames=None) -> SuiteResult:
    """The candidate's GX suite on every train and test row (``frames``: how to chunk them,
    given a connection, the SQL and its parameters)."""
    from pipeline.core.checks import WarehouseRows, decide_suite  # DuckDB decides first; GX on a violation

    con = duckdb.connect()
    try:
        if frames is None:  # the rows in one frame if GX has to read them
            frames = lambda con, sql, params, suite: WarehouseRows(con, sql, [params], suite, chunk_rows=1 << 62)  # noqa: E731
        return decide_suite(SUITE, frames(con, CANDIDATE_FRAME_SQL, [pair_files(folder)], SUITE))
    finally:
        con.close()


def row_counts(folder: Path) -> dict[str, int]:
    con = duckdb.connect()
    try:
        return {name: con.execute(f"select count(*) from read_parquet('{folder / name}.parquet')").fetchone()[0]
                for name in ("train", "test", "kto")}
    finally:
        con.close()
