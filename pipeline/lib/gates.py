"""Distribution gates: regressions no single row shows. Each gate compares an observed value
with its threshold from the `gates` config, on the day slices (every partition) or on the
whole candidate, and against the last published version's manifest."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import duckdb


@dataclass
class GateResult:
    name: str
    observed: float
    threshold: float
    upper: bool = True  # observed must be <= threshold (else >=)
    previous: float | None = None
    detail: str = ""
    accepted: str | None = None  # reason from gates.accept, when a known shift is let through
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def within(self) -> bool:
        return self.observed <= self.threshold if self.upper else self.observed >= self.threshold

    @property
    def passed(self) -> bool:
        return self.within or self.accepted is not None

    def summary(self) -> str:
        rel = "<=" if self.upper else ">="
        text = f"{self.name}: observed {self.observed:.4g}, must be {rel} {self.threshold:.4g}"
        if self.previous is not None:
            text += f" (previous version {self.previous:.4g})"
        if self.detail:
            text += f"; {self.detail}"
        if not self.within:
            text += f" — ACCEPTED: {self.accepted}" if self.accepted else " — BLOCKED"
        return text


GATE_NAMES = (
    "day_survival_share",
    "day_survival_vs_trailing",
    "day_duplicate_rate",
    "unknown_template_share",
    "row_count_drop",
    "label_source_shift",
    "category_shift",
    "ai_label_share",
    "chosen_longer_share",
    "length_ratio",
    "eval_overlap_share",
    "train_test_leakage",
    "judge_position_consistency",
    "judge_human_agreement",
)


def _tvd(a: dict[str, float], b: dict[str, float]) -> float:
    ta, tb = sum(a.values()) or 1, sum(b.values()) or 1
    keys = set(a) | set(b)
    return 0.5 * sum(abs(a.get(k, 0) / ta - b.get(k, 0) / tb) for k in keys)


def _per_day(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    return con.execute(
        """
        with o as (select * from fct_event_outcomes),
        norm as (
            select partition_date,
                   count(*) filter (where reason = 'template_unknown') as unknown,
                   count(*) as total
            from (select partition_date, null as reason from normalized_events
                  union all select partition_date, reason from normalization_rejections)
            group by 1
        )
        select o.partition_date,
               count(*) as captured,
               count(*) filter (where place = 'published') as published,
               count(*) filter (where reason in ('duplicate_redelivery', 'duplicate_exact', 'duplicate_near'))
                   as duplicates,
               max(n.unknown) as unknown, max(n.total) as normalized
        from o left join norm n on n.partition_date = o.partition_date
        group by 1 order by 1
        """
    ).fetchall()


def compute_gates(con: duckdb.DuckDBPyConnection, thresholds: dict[str, Any], previous: dict[str, Any] | None) -> list[GateResult]:
    days = _per_day(con)
    results: list[GateResult] = []

    survival = {str(d): (p / c if c else 0.0) for d, c, p, *_ in days}
    worst_day = min(survival, key=survival.get) if survival else None
    results.append(GateResult(
        "day_survival_share", survival.get(worst_day, 1.0), thresholds["day_survival_share_min"], upper=False,
        detail=f"lowest day {worst_day}" if worst_day else "no days",
        extra={"per_day": survival},
    ))
    if len(survival) >= 3:
        values = sorted(survival.values())
        median = values[len(values) // 2]
        ratio = {d: (s / median if median else 1.0) for d, s in survival.items()}
        low = min(ratio, key=ratio.get)
        results.append(GateResult("day_survival_vs_trailing", ratio[low], thresholds["day_survival_vs_trailing_min"],
                                  upper=False, detail=f"day {low} vs median day share {median:.3f}"))
    else:
        results.append(GateResult("day_survival_vs_trailing", 1.0, thresholds["day_survival_vs_trailing_min"],
                                  upper=False, detail="fewer than 3 days: nothing to compare with"))

    dup = {str(d): (n / c if c else 0.0) for d, c, _, n, *_ in days}
    worst = max(dup, key=dup.get) if dup else None
    results.append(GateResult("day_duplicate_rate", dup.get(worst, 0.0), thresholds["day_duplicate_rate_max"],
                              detail=f"highest day {worst}" if worst else "no days", extra={"per_day": dup}))

    unknown = {str(d): (u / t if t else 0.0) for d, _, _, _, u, t in days}
    worst = max(unknown, key=unknown.get) if unknown else None
    results.append(GateResult("unknown_template_share", unknown.get(worst, 0.0),
                              thresholds["unknown_template_share_max"],
                              detail=f"highest day {worst}" if worst else "no days"))

    (pairs, kto, leak, captured, contaminated) = con.execute(
        """
        select
            (select count(*) from fct_preference_pairs where replica_index = 0),
            (select count(*) from fct_kto_rows),
            (select count(*) from (
                select cluster_id from (
                    select cluster_id, split from fct_preference_pairs
                    union all select cluster_id, split from fct_kto_rows)
                group by cluster_id having count(distinct split) > 1)),
            (select count(*) from fct_event_outcomes),
            (select count(*) from fct_event_outcomes where reason = 'eval_contamination')
        """
    ).fetchone()
    pair_slices = _pair_slices(con)

    rows_now = pairs + kto
    prev_stats = (previous or {}).get("stats", {})
    prev_rows = sum(prev_stats.get("pairs", {}).values()) + sum(prev_stats.get("kto", {}).values()) if previous else None
    drop = (1 - rows_now / prev_rows) if prev_rows else 0.0
    results.append(GateResult("row_count_drop", max(drop, 0.0), thresholds["row_count_drop_max"],
                              previous=float(prev_rows) if prev_rows is not None else None,
                              detail=f"{rows_now} rows now" + ("" if previous else "; no previous version")))

    def mix(column: str) -> dict[str, float]:
        return dict(con.execute(
            f"select {column}, count(*) from fct_preference_pairs where replica_index = 0 group by 1"
        ).fetchall())

    for name, column, key in (("label_source_shift", "label_source", "label_source_mix"),
                              ("category_shift", "category", "category_mix")):
        prev_mix = prev_stats.get(key)
        shift = _tvd(mix(column), prev_mix) if prev_mix else 0.0
        results.append(GateResult(name, shift, thresholds[f"{name}_max"],
                                  detail="vs LATEST" if prev_mix else "no previous version"))

    for name, metric, threshold, previous_value in (
        ("ai_label_share", "ai", thresholds["ai_label_share_max"], _prev_share(prev_stats)),
        ("chosen_longer_share", "longer", thresholds["chosen_longer_share_max"], None),
        ("length_ratio", "ratio", thresholds["length_ratio_max"], None),
    ):
        results.append(_worst_slice(name, metric, threshold, pair_slices, previous_value))
    results.append(GateResult("eval_overlap_share", contaminated / captured if captured else 0.0,
                              thresholds["eval_overlap_share_max"]))
    results.append(GateResult("train_test_leakage", float(leak), float(thresholds["train_test_leakage_max"]),
                              detail="near-duplicate clusters with rows in both train and test"))

    results.extend(_judge_gates(con, thresholds))

    accepted = {a["gate"]: a.get("reason") or "accepted without a reason" for a in thresholds.get("accept") or []}
    for r in results:
        if not r.within and r.name in accepted:
            r.accepted = accepted[r.name]
    return results


def _judge_gates(con: duckdb.DuckDBPyConnection, thresholds: dict[str, Any]) -> list[GateResult]:
    """Judge quality gates bite only when AI labels reach the candidate: a judge that labels
    nothing (below its accuracy floor, or no pair needed a label) has nothing to block."""
    ai_pairs = con.execute(
        "select count(*) from fct_preference_pairs where replica_index = 0 and label_source = 'ai_judge'"
    ).fetchone()[0]
    try:
        metrics = dict(con.execute("select metric, value from judge_metrics").fetchall())
    except duckdb.CatalogException:
        metrics = {}

    def value(key: str) -> float | None:
        raw = metrics.get(key)
        return None if raw in (None, "null") else float(raw)

    out = []
    for name, key, threshold in (
        ("judge_position_consistency", "position_consistency", thresholds["judge_position_consistency_min"]),
        ("judge_human_agreement", "judge_human_agreement", thresholds["judge_human_agreement_min"]),
    ):
        observed = value(key)
        if ai_pairs == 0 or observed is None:
            out.append(GateResult(name, float(threshold), float(threshold), upper=False,
                                  detail=f"no AI-labeled pairs in the candidate ({ai_pairs}); nothing to gate"))
        else:
            out.append(GateResult(name, observed, float(threshold), upper=False,
                                  detail=f"{ai_pairs} AI-labeled pairs in the candidate"))
    return out


# A day slice needs this many pairs before its share means anything.
MIN_SLICE_PAIRS = 30


def _pair_slices(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float]]:
    """Pair-level shares on the whole candidate ("all") and on every day's new pairs."""
    rows = con.execute(
        """
        select coalesce(cast(partition_date as varchar), 'all') as slice, count(*) as n,
               avg(case when label_source like 'ai_%' then 1.0 else 0.0 end) as ai,
               avg(case when length(chosen_content) > length(rejected_content) then 1.0 else 0.0 end) as longer,
               exp(avg(ln(greatest(length(chosen_content), 1) * 1.0 / greatest(length(rejected_content), 1))))
                   as ratio
        from fct_preference_pairs where replica_index = 0
        group by grouping sets ((partition_date), ())
        """
    ).fetchall()
    return {s: {"n": n, "ai": ai or 0.0, "longer": longer or 0.0, "ratio": ratio or 1.0} for s, n, ai, longer, ratio in rows}


def _worst_slice(name: str, metric: str, threshold: float, slices: dict[str, dict[str, float]],
                 previous: float | None) -> GateResult:
    whole = slices.get("all", {"n": 0, metric: 0.0})
    days = {k: v for k, v in slices.items() if k != "all" and v["n"] >= MIN_SLICE_PAIRS}
    worst_day = max(days, key=lambda d: days[d][metric]) if days else None
    observed, where = whole[metric], "whole candidate"
    if worst_day and days[worst_day][metric] > observed:
        observed, where = days[worst_day][metric], f"day {worst_day}"
    return GateResult(
        name, float(observed), float(threshold), previous=previous,
        detail=f"worst slice: {where} (whole candidate {whole[metric]:.4g})",
        extra={"per_day": {d: round(v[metric], 4) for d, v in days.items()}},
    )


def _prev_share(prev_stats: dict[str, Any]) -> float | None:
    mix = prev_stats.get("label_source_mix")
    if not mix:
        return None
    total = sum(mix.values()) or 1
    return sum(v for k, v in mix.items() if k.startswith("ai_")) / total
