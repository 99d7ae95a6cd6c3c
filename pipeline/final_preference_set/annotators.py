"""Per-annotator reliability for the manifest and the dataset card: int_annotators__reliability
(labels, peer agreement, first-position rate, saw-draft share, flag, policy) joined with each
annotator's agreement with the judge on the comparisons the judge scored (both orders,
consistent verdicts only: the label audit of human test pairs, or any pair the judge labeled)."""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline.core.gates import z_value
from pipeline.final_preference_set.gates_annotators import annotator_gates

TOP = 20  # contributors listed in the manifest (every flagged annotator is listed as well)
CARD_TOP = 10

RELIABILITY_SQL = """
with judged as (
    select c.prompt_hash, least(c.a_hash, c.b_hash) as lo, greatest(c.a_hash, c.b_hash) as hi,
           case v.winner when 'a' then c.a_hash when 'b' then c.b_hash end as judge_hash
    from int_pairs__candidates c
    join stg_judge__verdicts v on v.pair_id = c.pair_id
    where c.pair_rule = 'pairwise_preferred' and v.winner in ('a', 'b')
),
judge as (
    select x.annotator_id, count(*) as judge_votes,
           count(*) filter (where x.preferred_hash = j.judge_hash) as judge_agreed
    from int_annotators__votes x
    join judged j on j.prompt_hash = x.prompt_hash and j.lo = least(x.preferred_hash, x.other_hash)
                 and j.hi = greatest(x.preferred_hash, x.other_hash)
    where x.annotator_id is not null
    group by 1
)
select r.annotator_id, r.labels, r.days, r.labels_per_day, r.peer_votes, r.peer_agreement,
       coalesce(j.judge_votes, 0) as judge_votes,
       case when j.judge_votes > 0 then j.judge_agreed * 1.0 / j.judge_votes end as judge_agreement,
       r.first_position_rate, r.saw_draft_share, r.flagged, r.flag, r.flag_detail, r.policy, r.vote_weight
from int_annotators__reliability r
left join judge j on j.annotator_id = r.annotator_id
order by r.labels desc, r.annotator_id
"""

COLUMNS = ("annotator_id", "labels", "days", "labels_per_day", "peer_votes", "peer_agreement", "judge_votes",
           "judge_agreement", "first_position_rate", "saw_draft_share", "flagged", "flag", "flag_detail", "policy",
           "vote_weight")


def _round(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def annotator_reliability(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """{annotators, flagged, policy, top: [...], flagged_annotators: [...]} or {} when the
    warehouse has no reliability table (a build before pair construction)."""
    try:
        rows = con.execute(RELIABILITY_SQL).fetchall()
    except duckdb.CatalogException:
        return {}
    table = [{k: _round(v) for k, v in zip(COLUMNS, row)} for row in rows]
    flagged = [r for r in table if r["flagged"]]
    return {
        "annotators": len(table),
        "labels": sum(r["labels"] for r in table),
        "flagged": len(flagged),
        "policy": table[0]["policy"] if table else None,
        "top": table[:TOP],
        "flagged_annotators": flagged,
    }


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def annotator_gate_summaries(con: duckdb.DuckDBPyConnection, thresholds: dict[str, Any]) -> list[str]:
    """What the annotator gates measure on this candidate, for the card (the blocking checks
    compute the same numbers after the candidate is written)."""
    try:
        return [g.summary() for g in annotator_gates(con, thresholds, z_value(thresholds))]
    except duckdb.CatalogException:
        return []


def annotator_lines(trust: dict[str, Any], gate_lines: list[str] | None = None) -> str:
    """The card's annotator table (the top contributors and every flagged annotator) and what
    the annotator gates measured."""
    gates = "".join("\n- `gate_{}`:{}".format(*line.split(":", 1)) for line in gate_lines or [])
    if not trust.get("annotators"):
        return "- no human pairwise labels with an annotator id in this version" + gates
    rows = trust["top"][:CARD_TOP] + [r for r in trust["flagged_annotators"] if r not in trust["top"][:CARD_TOP]]
    lines = [
        f"- {trust['annotators']:,} annotators gave {trust['labels']:,} pairwise labels; {trust['flagged']} flagged "
        f"below the peer-agreement floor (policy `{trust['policy']}`: "
        + {"keep": "their votes count in full", "weight_down": "their votes and pairs are weighted down",
           "hold_out": "their votes are held out, ledgered `annotator_unreliable`"}.get(trust["policy"], "")
        + "). Peer agreement is measured on comparisons with 2+ other votes and a majority among them.",
        "",
        "| annotator | labels | per day | peer agreement (n) | judge agreement (n) | first position | saw draft | flag |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    lines += [
        f"| {r['annotator_id']} | {r['labels']:,} | {r['labels_per_day']:.1f} | {_pct(r['peer_agreement'])} "
        f"({r['peer_votes']}) | {_pct(r['judge_agreement'])} ({r['judge_votes']}) | {_pct(r['first_position_rate'])} "
        f"| {_pct(r['saw_draft_share'])} | {r['flag'] or ''} |"
        for r in rows
    ]
    return "\n".join(lines) + ("\n" + gates if gates else "")
