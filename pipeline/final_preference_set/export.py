"""The candidate set as TRL-ready Arrow tables, straight from the warehouse marts.

prompt, chosen and rejected are all message lists (TRL's conversational preference format;
mixing a string prompt with message-list completions breaks TRL). Rows are sorted so the
same marts always give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

import duckdb
import pyarrow as pa

MESSAGES_TYPE = """'[{"role": "VARCHAR", "content": "VARCHAR"}]'"""

PAIRS_SQL = f"""
with sources as (
    select pair_id, list(event_id order by event_id) as source_event_ids
    from (select distinct pair_id, event_id from fct_preference_pair_sources)
    group by pair_id
)
select
    from_json(p.prompt_messages, {MESSAGES_TYPE}) as prompt,
    [{{'role': 'assistant', 'content': p.chosen_content}}] as chosen,
    [{{'role': 'assistant', 'content': p.rejected_content}}] as rejected,
    p.pair_id,
    p.replica_index,
    s.source_event_ids,
    p.label_source,
    p.judge_id,
    cast(p.weight as double) as weight,
    cast(p.votes as integer) as votes,
    cast(p.agreement as double) as agreement,
    cast(p.margin as double) as margin,
    p.category,
    p.template_id,
    p.policy_version,
    p.split
from fct_preference_pairs p
join sources s on s.pair_id = p.pair_id
where p.split = ?
order by p.pair_id, p.replica_index
"""

KTO_SQL = f"""
select
    from_json(prompt_messages, {MESSAGES_TYPE}) as prompt,
    [{{'role': 'assistant', 'content': completion}}] as completion,
    desirable as label,
    kto_id,
    [event_id] as source_event_ids,
    label_source,
    category,
    template_id,
    policy_version,
    split
from fct_kto_rows
order by kto_id
"""

LINEAGE_SQL = """
with rows as (
    select 'pair' as row_kind, p.pair_id as row_id, s.record_id, p.pair_rule, p.label_source,
           p.judge_id, p.judge_version, p.verdict_ab, p.verdict_ba, p.audit_flag,
           p.weight, p.replicas, p.split, p.cluster_id, s.vote, p.votes, p.agreement, p.margin,
           s.vote_weight, s.annotator_flag
    from (select distinct pair_id, pair_rule, label_source, judge_id, judge_version, verdict_ab,
                 verdict_ba, audit_flag, cast(weight as double) as weight, replicas, split, cluster_id,
                 cast(votes as integer) as votes, cast(agreement as double) as agreement,
                 cast(margin as double) as margin
          from fct_preference_pairs) p
    join (select distinct pair_id, record_id, vote, cast(vote_weight as double) as vote_weight, annotator_flag
          from fct_preference_pair_sources) s on s.pair_id = p.pair_id
    union all
    select 'kto', kto_id, record_id, 'kto', label_source, null, null, null, null, null,
           1.0, 1, split, cluster_id, 'only', 1, 1.0, 1.0, 1.0, null
    from fct_kto_rows
)
select
    r.row_kind, r.row_id, d.event_id, r.record_id, o.partition_date, o.source_file, o.source_line,
    d.template_id, d.template_version, d.pii_kinds as pii_redacted, d.prompt_hash, r.cluster_id,
    d.content_rank = 1 as dedup_kept_member, r.pair_rule, r.label_source, r.judge_id,
    r.judge_version, r.verdict_ab, r.verdict_ba, r.audit_flag, r.weight, r.replicas, r.split,
    r.vote, r.votes, r.agreement, r.margin, r.vote_weight, r.annotator_flag
from rows r
join int_events__deduped d on d.record_id = r.record_id
join fct_event_outcomes o on o.record_id = r.record_id
order by r.row_kind, r.row_id, r.record_id
"""

REJECTED_SQL = """
select record_id, event_id, partition_date, source_file, source_line, place, stage, reason, detail
from fct_event_outcomes
where place in ('quarantine', 'rejected')
order by partition_date, source_file, source_line, record_id
"""


EXPORT_QUERIES = {
    "train": (PAIRS_SQL, ["train"]),
    "test": (PAIRS_SQL, ["test"]),
    "kto": (KTO_SQL, []),
    "lineage": (LINEAGE_SQL, []),
    "rejected": (REJECTED_SQL, []),
}

# Rows per Arrow batch streamed from DuckDB: one Parquet row group's worth.
BATCH_ROWS = 64 * 1024


class ExportTables(Mapping[str, pa.RecordBatchReader]):
    """The train, test, kto, lineage and rejected files of the current marts, each a stream of
    record batches opened when it is read: a window's worth of rows (a million KTO rows with
    their texts) is never held in memory at once. ``con`` must stay open while they are read."""

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self._con = con

    def __getitem__(self, name: str) -> pa.RecordBatchReader:
        sql, params = EXPORT_QUERIES[name]
        return self._con.sql(sql, params=params or None).to_arrow_reader(BATCH_ROWS)

    def __iter__(self) -> Iterator[str]:
        return iter(EXPORT_QUERIES)

    def __len__(self) -> int:
        return len(EXPORT_QUERIES)


def export_tables(con: duckdb.DuckDBPyConnection) -> ExportTables:
    """train, test, kto, lineage and rejected of the current marts, streamed on access."""
    return ExportTables(con)
