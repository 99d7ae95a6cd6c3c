"""The manifest and dataset card of a candidate version, from the warehouse ledger."""

from __future__ import annotations

import subprocess
from typing import Any

import duckdb
import numpy as np
import orjson

from pipeline.core import paths
from pipeline.final_preference_set import gates_trust
from pipeline.final_preference_set.annotators import annotator_lines
from pipeline.pair_construction.agreement import alpha_nominal


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "-C", str(paths.PROJECT_ROOT), "rev-parse", "HEAD"],
            capture_output=True, text=True, timeout=10, check=True,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[tuple]:
    return con.execute(sql).fetchall()


def ledger_counts(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Counts per place, per stage and reason, and per partition — the conservation record."""
    places = dict(_rows(con, "select coalesce(place, 'lost'), count(*) from fct_event_outcomes group by 1 order by 1"))
    reasons: dict[str, dict[str, int]] = {}
    for stage, reason, n in _rows(
        con,
        "select stage, reason, count(*) from fct_event_outcomes where place in ('quarantine', 'rejected') "
        "group by 1, 2 order by 1, 2",
    ):
        reasons.setdefault(stage, {})[reason] = n
    partitions = {
        str(day): {"captured": captured, "quarantine": q, "rejected": r, "published": p}
        for day, captured, q, r, p in _rows(
            con,
            """
            select partition_date, count(*),
                   count(*) filter (where place = 'quarantine'),
                   count(*) filter (where place = 'rejected'),
                   count(*) filter (where place = 'published')
            from fct_event_outcomes group by 1 order by 1
            """,
        )
    }
    return {"places": places, "dropped_by_stage_and_reason": reasons, "partitions": partitions}


def set_stats(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    def mix(sql: str) -> dict[str, int]:
        return {str(k): int(v) for k, v in _rows(con, sql)}

    pairs = "from fct_preference_pairs where replica_index = 0"
    return {
        "pairs": mix(f"select split, count(*) {pairs} group by 1 order by 1"),
        "rows_with_replicas": mix("select split, count(*) from fct_preference_pairs group by 1 order by 1"),
        "kto": mix("select case when desirable then 'desirable' else 'undesirable' end, count(*) "
                   "from fct_kto_rows group by 1 order by 1"),
        "label_source_mix": mix(f"select label_source, count(*) {pairs} group by 1 order by 1"),
        "category_mix": mix(f"select category, count(*) {pairs} group by 1 order by 1"),
        "template_mix": mix(f"select template_id, count(*) {pairs} group by 1 order by 1"),
        "audit_flags": mix(f"select audit_flag, count(*) {pairs} and audit_flag is not null group by 1 order by 1"),
        "policy_versions": sorted(r[0] for r in _rows(con, f"select distinct policy_version {pairs}")),
        "length": dict(zip(
            ["chosen_longer_share", "mean_chosen_chars", "mean_rejected_chars"],
            [float(x or 0) for x in _rows(
                con,
                f"select avg(case when length(chosen_content) > length(rejected_content) then 1.0 else 0.0 end), "
                f"avg(length(chosen_content)), avg(length(rejected_content)) {pairs}",
            )[0]],
        )),
    }


def judge_metrics(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    try:
        rows = _rows(con, "select metric, value from judge_metrics order by metric")
    except duckdb.CatalogException:
        return {}
    out: dict[str, Any] = {}
    for key, value in rows:
        try:
            out[key] = orjson.loads(value)
        except orjson.JSONDecodeError:
            out[key] = value
    return out


# Every pairwise vote of the window: the comparison it voted on (its pair) and the side it
# preferred, by content hash. Ties are no vote (they never reach a pair).
VOTES_SQL = """
select l.pair_id, d.preferred_hash, cast(d.partition_date as varchar) as day
from int_pairs__links l
join int_events__deduped d on d.record_id = l.record_id
where l.pair_rule = 'pairwise_preferred' and d.preferred_hash is not null
"""


def label_agreement(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Krippendorff's alpha (nominal) over pairwise comparisons with two or more votes, for
    the whole window and per day (a day's alpha counts only that day's votes)."""
    try:
        votes = con.execute(VOTES_SQL).fetchnumpy()
    except duckdb.CatalogException:
        return {}
    items, labels, days = (np.asarray(votes[c], dtype=object) for c in ("pair_id", "preferred_hash", "day"))

    def summary(mask) -> dict[str, Any]:
        keys = items if mask is None else items[mask]
        _, counts = np.unique(keys, return_counts=True)
        alpha = alpha_nominal(keys, labels if mask is None else labels[mask])
        return {"votes": int(len(keys)), "items_with_2plus_votes": int((counts >= 2).sum()),
                "krippendorff_alpha": None if alpha is None else round(alpha, 4)}

    return {"agreement": summary(None),
            "agreement_per_day": {str(day): summary(days == day) for day in sorted(set(days.tolist()))}}


def parent_summary(stats: dict[str, Any], parent: dict[str, Any] | None) -> str:
    """How this version differs from its parent, in counts and mixes (details: prefline diff)."""
    if not parent:
        return "This is the first published version."
    before, lines = parent["stats"], []
    for split in ("train", "test"):
        lines.append(f"- {split} pairs: {before['pairs'].get(split, 0):,} -> {stats['pairs'].get(split, 0):,}")
    lines.append(f"- KTO rows: {sum(before['kto'].values()):,} -> {sum(stats['kto'].values()):,}")
    for key, label in (("label_source_mix", "label sources"), ("category_mix", "categories")):
        changed = sorted(set(before.get(key, {})) | set(stats.get(key, {})))
        moves = [f"{k} {before.get(key, {}).get(k, 0)}->{stats.get(key, {}).get(k, 0)}" for k in changed
                 if before.get(key, {}).get(k, 0) != stats.get(key, {}).get(k, 0)]
        lines.append(f"- {label}: {', '.join(moves) or 'unchanged'}")
    return "\n".join(lines) + f"\n\nRow-level changes with reasons: `prefline diff {parent['version_id']} {{{{VERSION_ID}}}}`."


def label_trust_lines(trust: dict[str, Any]) -> str:
    """Agreement among voters on shared comparisons, whole window and per day; the annotators."""
    return _agreement_lines(trust) + "\n\n" + annotator_lines(trust.get("annotators") or {},
                                                               trust.get("annotator_gates") or [])


def _agreement_lines(trust: dict[str, Any]) -> str:
    overall = trust.get("agreement") or {}
    if not overall.get("items_with_2plus_votes"):
        return "- no comparison in this version was judged by two or more voters"

    def fmt(a: dict[str, Any]) -> str:
        alpha = a["krippendorff_alpha"]
        return (f"alpha {alpha:.3f}" if alpha is not None else "alpha undefined") + (
            f" over {a['items_with_2plus_votes']:,} comparisons with 2+ votes ({a['votes']:,} votes)")

    lines = [f"- Krippendorff's alpha (nominal) of pairwise votes: {fmt(overall)}; pairs publish by majority"
             " (`votes`, `agreement`, `margin` columns), an even split is ledgered `annotators_disagree`."]
    lines += [f"  - {day}: {fmt(a)}" for day, a in (trust.get("agreement_per_day") or {}).items()
              if a["items_with_2plus_votes"]]
    return "\n".join(lines)


def render_card(manifest: dict[str, Any], parent: dict[str, Any] | None = None) -> str:
    stats, ledger = manifest["stats"], manifest["ledger"]

    def table(counts: dict[str, Any], label: str) -> str:
        lines = [f"| {label} | count |", "|---|---:|"]
        lines += [f"| {k} | {v:,} |" for k, v in counts.items()]
        return "\n".join(lines)

    drops = {
        f"{stage}: {reason}": n
        for stage, reasons in ledger["dropped_by_stage_and_reason"].items()
        for reason, n in reasons.items()
    }
    judge = manifest.get("judge") or {}
    judge_lines = "\n".join(f"- {k}: {v}" for k, v in judge.items()) or "- no judge labels in this version"
    return f"""---
configs:
- config_name: default
  data_files:
  - split: train
    path: train.parquet
  - split: test
    path: test.parquet
- config_name: kto
  data_files:
  - split: train
    path: kto.parquet
task_categories:
- text-generation
tags:
- preference
- dpo
- kto
- prefline
---

# Preference set {{{{VERSION_ID}}}}

Built by prefline from captured user feedback. `train.parquet` and `test.parquet` hold pairs in
TRL's conversational preference format (`prompt`, `chosen`, `rejected` as message lists, plus
provenance columns); `kto.parquet` holds unpaired rows (`prompt`, `completion`, `label`).
`lineage.parquet` maps every row to its source events and each stage's decision;
`rejected.parquet` lists every event that was quarantined or dropped, with its reason.

- Parent version: {manifest.get("parent_version") or "none"}
- Partitions: {", ".join(manifest["partitions"]) or "none"}
- Code: {manifest["code"].get("git_commit") or "unknown"}

## Label trust

{label_trust_lines(manifest.get("label_trust") or {})}
{gates_trust.card_lines(manifest.get("label_gates") or {})}

## Changes since the parent version

{parent_summary(stats, parent)}

## Contents

{table(stats["pairs"], "split (pairs)")}

{table(stats["kto"], "KTO rows")}

## Where every captured event ended

{table(ledger["places"], "place")}

{table(drops, "dropped at stage: reason")}

## Label sources

{table(stats["label_source_mix"], "label source")}

![Label sources over versions](label_sources.png)

## Judge

{judge_lines}

## Human-label audit

Human pairs of the test split are judged blind; a human label the judge confidently
contradicts is flagged for review in `lineage.parquet` (`audit_flag`), never flipped.
Flags in this version: {", ".join(f"{k} {v}" for k, v in stats.get("audit_flags", {}).items()) or "none"}.

## Known biases

![Length of chosen vs rejected responses](lengths.png)

- Chosen longer than rejected in {stats["length"]["chosen_longer_share"]:.1%} of pairs
  (mean chosen {stats["length"]["mean_chosen_chars"]:.0f} chars, rejected {stats["length"]["mean_rejected_chars"]:.0f}).
- Category mix of pairs: {", ".join(f"{k} {v}" for k, v in stats["category_mix"].items())}; train pairs are
  weighted toward the configured category targets (`weight` column).
"""
