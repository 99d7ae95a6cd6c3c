"""Label gates on who gave the labels: the share given after seeing the model's draft, how much
of a day one user or one annotator holds, and annotators whose labels follow display position.
Each is computed on every day's slice and on the whole candidate, with the small-sample rule
of pipeline/core/gates.py (a share blocks only when its whole Wilson interval is beyond the
threshold); thresholds are in the `gates:` section of prefline.yaml."""

from __future__ import annotations

from typing import Any

import duckdb

from pipeline.core.gates import SHARE_RULE, GateResult, worst_share

ANNOTATOR_GATE_NAMES = (
    "saw_draft_share",
    "user_concentration",
    "annotator_concentration",
    "annotator_position_bias",
)

ANNOTATOR_GATE_DESCRIPTIONS = {
    "saw_draft_share": "Every day and the whole set: share of human labels given after the annotator saw the "
                       "model's draft (annotator.saw_model_draft), the seed of eval contamination through labels.",
    "user_concentration": "Every day and the whole set: the largest share of end-user feedback (kept events not "
                          "given by an annotator or an AI) from one user.",
    "annotator_concentration": "Every day and the whole set: the largest share of annotator labels from one "
                               "annotator.",
    "annotator_position_bias": "Every day and the whole set: no annotator with enough labels picks one display "
                               "position (first or second) in more than the threshold share of its labels.",
}

WHOLE = "whole candidate"

# End-user feedback: events no annotator or AI gave (annotators have their own gate), from a
# named user: importers name `import:<format>` when the source names nobody, which is no user.
END_USER_FEEDBACK = "coalesce(annotator_kind, 'end_user') = 'end_user' and user_id not like 'import:%'"

# Kept (deduplicated) events, the labels pair construction reads.
_SLICED = """
select coalesce(cast(partition_date as varchar), 'all') as slice, {key} as who, count(*) as n
from int_events__deduped
where kept and {where}
group by grouping sets ((partition_date, {key}), ({key}))
"""


def _slice_name(slice_: str) -> str:
    return WHOLE if slice_ == "all" else f"day {slice_}"


def _concentration(con: duckdb.DuckDBPyConnection, name: str, key: str, where: str, threshold: float,
                   z: float, what: str, min_contributors: int = 1) -> GateResult:
    """The largest share of one contributor in each slice; the slice with the strongest evidence
    decides, and its detail names the contributor. A candidate with fewer than
    ``min_contributors`` distinct contributors in all is not gated: a project one annotator labels
    alone is a normal project, not one annotator crowding out the others (a day one annotator
    fills in a project of several still is)."""
    rows = con.execute(
        f"""
        with c as ({_SLICED.format(key=key, where=where)}),
        ranked as (
            select slice, who, n, sum(n) over (partition by slice) as total,
                   count(*) filter (where slice = 'all') over () as contributors,
                   row_number() over (partition by slice order by n desc, who) as rn
            from c
        )
        select slice, who, n, total from ranked where rn = 1 and contributors >= ? order by slice
        """,
        [min_contributors],
    ).fetchall()
    slices = {_slice_name(s): (n, total) for s, _, n, total in rows}
    top = {_slice_name(s): who for s, who, *_ in rows}
    result = worst_share(name, slices, threshold, z, what="slice")
    if slices:
        worst = result.detail.removeprefix("worst slice ")
        result.detail += f": {what} {top.get(worst)} holds {int(slices[worst][0]):,} of {int(slices[worst][1]):,}"
        result.extra["top_contributor"] = {k: top[k] for k in sorted(top)}
    return result


def _saw_draft(con: duckdb.DuckDBPyConnection, threshold: float, z: float) -> GateResult:
    rows = con.execute(
        """
        select coalesce(cast(partition_date as varchar), 'all'),
               count(*) filter (where annotator_saw_model_draft), count(*)
        from int_events__deduped
        where kept and coalesce(annotator_kind, 'end_user') <> 'ai'
        group by grouping sets ((partition_date), ())
        """
    ).fetchall()
    slices = {_slice_name(s): (saw, n) for s, saw, n in rows if n}
    result = worst_share("saw_draft_share", slices, threshold, z, what="slice")
    result.detail += "; share of kept human events with annotator.saw_model_draft true (unstated is false)"
    return result


def _position_bias(con: duckdb.DuckDBPyConnection, threshold: float, min_labels: int, z: float) -> GateResult:
    """Per annotator and slice: the share of its labels on its favoured display position
    (first or second, whichever it picks more), among annotators with min_labels labels there."""
    rows = con.execute(
        f"""
        with labels as (
            select annotator_id, record_id, min(partition_date) as partition_date, bool_or(chose_first) as chose_first
            from int_annotators__votes where annotator_id is not null
            group by 1, 2
        )
        select coalesce(cast(partition_date as varchar), 'all') as slice, annotator_id,
               count(*) filter (where chose_first) as first, count(*) as n
        from labels
        group by grouping sets ((partition_date, annotator_id), (annotator_id))
        having count(*) >= {int(min_labels)}
        """
    ).fetchall()
    slices = {f"{_slice_name(s)} annotator {who}": (max(first, n - first), n) for s, who, first, n in rows}
    result = worst_share("annotator_position_bias", slices, threshold, z, what="slice")
    if slices:
        worst = result.detail.removeprefix("worst slice ")
        first = next(f for s, who, f, n in rows if f"{_slice_name(s)} annotator {who}" == worst)
        side = "first" if first * 2 >= slices[worst][1] else "second"
        result.detail += f" (favours the {side} response)"
    else:
        result.detail = f"no annotator with {min_labels}+ labels in any slice"
    result.extra.pop("per_slice", None)  # one entry per annotator and day: too many for check metadata
    return result


def annotator_gates(con: duckdb.DuckDBPyConnection, thresholds: dict[str, Any], z: float) -> list[GateResult]:
    gates = {
        "saw_draft_share": lambda: _saw_draft(con, thresholds["saw_draft_share_max"], z),
        "user_concentration": lambda: _concentration(
            con, "user_concentration", "user_id", END_USER_FEEDBACK, thresholds["user_concentration_max"], z, "user"),
        "annotator_concentration": lambda: _concentration(
            con, "annotator_concentration", "annotator_id", "annotator_kind = 'annotator' and annotator_id is not null",
            thresholds["annotator_concentration_max"], z, "annotator",
            int(thresholds.get("annotator_concentration_min_annotators", 2))),
        "annotator_position_bias": lambda: _position_bias(
            con, thresholds["annotator_position_bias_max"], int(thresholds.get("annotator_position_min_labels", 20)),
            z),
    }
    out = []
    for name, gate in gates.items():
        try:
            out.append(gate())
        except duckdb.CatalogException as exc:  # a warehouse without the label tables has no labels to gate
            first = str(exc).splitlines()[0]
            out.append(GateResult(name, 0.0, float(thresholds[f"{name}_max"]), n=0, rule=SHARE_RULE,
                                  detail=f"nothing to gate: {first}"))
    return out
