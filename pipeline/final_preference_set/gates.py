"""Distribution gates on the candidate: regressions no single row shows. Each gate is computed
on the day slices (every partition) and on the whole candidate, and against the last
published version's manifest; how a gate decides is in pipeline/core/gates.py."""

from __future__ import annotations

import math
from typing import Any

import duckdb

from pipeline.core.gates import (
    COUNT_RULE,
    MIX_RULE,
    SHARE_RULE,
    GateResult,
    apply_accepts,
    share_gate,
    wilson,
    worst_share,
    z_value,
)
from pipeline.final_preference_set.gates_annotators import ANNOTATOR_GATE_NAMES, annotator_gates
from pipeline.final_preference_set.gates_trust import TRUST_GATE_NAMES, compute_trust_gates

GATE_NAMES = (
    "published_rows",
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
    *TRUST_GATE_NAMES,
) + ANNOTATOR_GATE_NAMES


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
        select cast(o.partition_date as varchar),
               count(*) as captured,
               count(*) filter (where place = 'published') as published,
               count(*) filter (where reason in ('duplicate_redelivery', 'duplicate_exact', 'duplicate_near'))
                   as duplicates,
               coalesce(max(n.unknown), 0) as unknown, coalesce(max(n.total), 0) as normalized
        from o left join norm n on n.partition_date = o.partition_date
        group by 1 order by 1
        """
    ).fetchall()


def compute_gates(con: duckdb.DuckDBPyConnection, thresholds: dict[str, Any],
                  previous: dict[str, Any] | None) -> list[GateResult]:
    z = z_value(thresholds)
    days = _per_day(con)
    results: list[GateResult] = []

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
    rows_now = pairs + kto
    results.append(GateResult("published_rows", float(rows_now), float(thresholds.get("published_rows_min", 1)),
                              upper=False, rule=COUNT_RULE,
                              detail=f"{pairs} pairs and {kto} KTO rows" + ("" if rows_now else
                                                                             "; nothing would be published")))

    survival = {d: (p, c) for d, c, p, *_ in days}
    results.append(worst_share("day_survival_share", survival, thresholds["day_survival_share_min"], z, upper=False))
    results.append(_survival_vs_trailing(survival, thresholds["day_survival_vs_trailing_min"], z))
    results.append(worst_share("day_duplicate_rate", {d: (n, c) for d, c, _, n, *_ in days},
                               thresholds["day_duplicate_rate_max"], z))
    results.append(worst_share("unknown_template_share", {d: (u, t) for d, _, _, _, u, t in days},
                               thresholds["unknown_template_share_max"], z))

    prev_stats = (previous or {}).get("stats", {})
    prev_rows = sum(prev_stats.get("pairs", {}).values()) + sum(prev_stats.get("kto", {}).values()) if previous else None
    results.append(_row_count_drop(rows_now, prev_rows, thresholds["row_count_drop_max"], z))

    min_mix = int(thresholds.get("mix_min_rows", 30))
    for name, column, key in (("label_source_shift", "label_source", "label_source_mix"),
                              ("category_shift", "category", "category_mix")):
        now = dict(con.execute(
            f"select {column}, count(*) from fct_preference_pairs where replica_index = 0 group by 1"
        ).fetchall())
        prev_mix = prev_stats.get(key)
        shift = _tvd(now, prev_mix) if prev_mix else 0.0
        enough = prev_mix and sum(now.values()) >= min_mix and sum(prev_mix.values()) >= min_mix
        results.append(GateResult(
            name, shift, thresholds[f"{name}_max"], n=int(sum(now.values())),
            low=None if enough else 0.0, rule=MIX_RULE.format(min=min_mix),
            detail="vs LATEST" if prev_mix else "no previous version",
        ))

    slices = _pair_slices(con)
    results.append(worst_share("ai_label_share", {s: (v["ai"], v["n"]) for s, v in slices.items()},
                               thresholds["ai_label_share_max"], z, what="slice", previous=_prev_share(prev_stats)))
    results.append(worst_share("chosen_longer_share", {s: (v["longer"], v["n"]) for s, v in slices.items()},
                               thresholds["chosen_longer_share_max"], z, what="slice"))
    results.append(_length_ratio(slices, thresholds["length_ratio_max"], z))
    results.append(share_gate("eval_overlap_share", contaminated, captured, thresholds["eval_overlap_share_max"], z,
                              detail="events dropped as eval-set contamination"))
    results.append(GateResult("train_test_leakage", float(leak), float(thresholds["train_test_leakage_max"]),
                              rule=COUNT_RULE, detail="near-duplicate clusters with rows in both train and test"))
    results.extend(_judge_gates(con, thresholds, z))
    results.extend(annotator_gates(con, thresholds, z))
    results.extend(compute_trust_gates(con, thresholds, previous, z))
    apply_accepts(results, thresholds.get("accept"))
    return results


def _survival_vs_trailing(survival: dict[str, tuple[int, int]], threshold: float, z: float) -> GateResult:
    """The lowest day's survival share against the median day's; the day's upper Wilson bound
    must fall below threshold x median to block."""
    rule = "ratio to the median day: blocks when the day's upper Wilson bound is below it"
    shares = {d: (p / c if c else 0.0) for d, (p, c) in survival.items()}
    if len(shares) < 3:
        return GateResult("day_survival_vs_trailing", 1.0, threshold, upper=False, rule=rule,
                          detail="fewer than 3 days: nothing to compare with")
    values = sorted(shares.values())
    median = values[len(values) // 2]
    if not median:
        return GateResult("day_survival_vs_trailing", 1.0, threshold, upper=False, rule=rule,
                          detail="the median day publishes nothing: see day_survival_share")
    bounds = {d: wilson(p, c, z) for d, (p, c) in survival.items()}
    low_day = min(shares, key=lambda d: (bounds[d][1] / median, d))
    low, high = bounds[low_day]
    return GateResult("day_survival_vs_trailing", shares[low_day] / median, threshold, upper=False,
                      n=survival[low_day][1], low=low / median, high=high / median, rule=rule,
                      detail=f"day {low_day} vs median day share {median:.3f}")


def _row_count_drop(rows_now: int, prev_rows: int | None, threshold: float, z: float) -> GateResult:
    """1 - rows_now / prev_rows, with the kept share's Wilson interval over the previous rows."""
    rule = "drop vs LATEST: blocks when the drop's Wilson interval (over LATEST's rows) is beyond it"
    if not prev_rows:
        return GateResult("row_count_drop", 0.0, threshold, rule=rule, detail=f"{rows_now} rows now; no previous version")
    kept = min(rows_now, prev_rows)
    low, high = wilson(kept, prev_rows, z)
    return GateResult("row_count_drop", 1 - kept / prev_rows, threshold, n=prev_rows, low=1 - high, high=1 - low,
                      previous=float(prev_rows), rule=rule, detail=f"{rows_now} rows now")


def _judge_gates(con: duckdb.DuckDBPyConnection, thresholds: dict[str, Any], z: float) -> list[GateResult]:
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
    for name, key, n_key, threshold in (
        ("judge_position_consistency", "position_consistency", "pairs_judged",
         thresholds["judge_position_consistency_min"]),
        ("judge_human_agreement", "judge_human_agreement", "human_pairs_judged",
         thresholds["judge_human_agreement_min"]),
    ):
        observed = value(key)
        if ai_pairs == 0 or observed is None:
            out.append(GateResult(name, float(threshold), float(threshold), upper=False, rule=SHARE_RULE,
                                  detail=f"no AI-labeled pairs in the candidate ({ai_pairs}); nothing to gate"))
            continue
        n = int(value(n_key) or 0)
        if n:
            out.append(share_gate(name, observed * n, n, threshold, z, upper=False,
                                  detail=f"{ai_pairs} AI-labeled pairs in the candidate"))
        else:  # a judge that reports no sample size is held to its point value
            out.append(GateResult(name, observed, float(threshold), upper=False, rule=SHARE_RULE,
                                  detail=f"{ai_pairs} AI-labeled pairs in the candidate; no sample size reported"))
    return out


def _pair_slices(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, float]]:
    """Pair-level counts on the whole candidate ("all") and on every day's new pairs."""
    rows = con.execute(
        """
        with p as (
            select partition_date, label_source,
                   length(chosen_content) as c, length(rejected_content) as r,
                   ln(greatest(length(chosen_content), 1) * 1.0 / greatest(length(rejected_content), 1)) as log_ratio
            from fct_preference_pairs where replica_index = 0
        )
        select coalesce(cast(partition_date as varchar), 'all') as slice, count(*) as n,
               count(*) filter (where label_source like 'ai_%') as ai,
               count(*) filter (where c > r) as longer,
               avg(log_ratio) as mean_log, stddev_samp(log_ratio) as sd_log
        from p
        group by grouping sets ((partition_date), ())
        """
    ).fetchall()
    return {
        ("whole candidate" if s == "all" else f"day {s}"): {
            "n": n, "ai": ai, "longer": longer, "mean_log": mean_log or 0.0, "sd_log": sd_log,
        }
        for s, n, ai, longer, mean_log, sd_log in rows
        if n
    }


def _length_ratio(slices: dict[str, dict[str, float]], threshold: float, z: float) -> GateResult:
    """Geometric mean of len(chosen) / len(rejected), with a normal interval on the mean log
    ratio; a slice of fewer than 2 pairs has no interval and cannot block."""
    rule = "geometric mean: blocks when the interval of the mean log ratio is beyond it"
    best: GateResult | None = None
    for name, v in sorted(slices.items()):
        n, mean, sd = int(v["n"]), v["mean_log"], v["sd_log"]
        if n >= 2 and sd is not None:
            half = z * sd / math.sqrt(n)
            low, high = math.exp(mean - half), math.exp(mean + half)
        else:
            low, high = 0.0, None
        gate = GateResult("length_ratio", math.exp(mean), threshold, n=n, low=low, high=high, rule=rule,
                          detail=f"worst slice {name}")
        if best is None or gate.decisive > best.decisive:
            best = gate
    return best or GateResult("length_ratio", 1.0, threshold, n=0, low=0.0, rule=rule,
                              detail="no pairs")


def _prev_share(prev_stats: dict[str, Any]) -> float | None:
    mix = prev_stats.get("label_source_mix")
    if not mix:
        return None
    total = sum(mix.values()) or 1
    return sum(v for k, v in mix.items() if k.startswith("ai_")) / total
