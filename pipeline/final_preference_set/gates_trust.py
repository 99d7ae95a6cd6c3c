"""Label-trust gates no row-level rule shows: style bias beyond length, trainer readiness,
a rubric/policy version shift of the label mix, and a day whose human labels disagree with the
established judge far more than past days did. Each is computed on every day's slice and on
the whole candidate; the decision rule (Wilson intervals, minimum rows) is pipeline/core/gates.py's.

``trust_measures`` is what the gates read, kept in the manifest (``label_gates``) so the next
build compares against it and the dataset card shows it."""

from __future__ import annotations

import math
from typing import Any

import duckdb

from pipeline.core.gates import GateResult, share_gate, wilson, worst_share
from pipeline.final_preference_set import style_bias

TRUST_GATE_NAMES = ("style_bias", "trainer_unready_share", "policy_version_shift", "label_agreement_drop")

TRAINER_REASONS = ("prompt_exceeds_max_length", "identical_within_max_length")
POLICY_RULE = ("mix shift per day and whole vs LATEST: needs {min} versioned labels in the slice and in LATEST")
UNVERSIONED = "unversioned"
DROP_RULE = ("agreement drop vs earlier days (whole candidate: vs LATEST): blocks when the drop's whole "
             "interval (Newcombe, from the two Wilson intervals) is above the threshold")


def _exists(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(con.execute("select count(*) from information_schema.tables where table_name = ?",
                            [table]).fetchone()[0])


def trainer_readiness(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per day (and 'all'): pairs that reached labeling with a chance to publish (not capped,
    not split votes) and those ledgered for trainer readiness, by reason."""
    if not _exists(con, "int_pairs__labeled"):
        return {}
    rows = con.execute(f"""
        select coalesce(cast(partition_date as varchar), 'all'), count(*),
               count(*) filter (where reason = '{TRAINER_REASONS[0]}'),
               count(*) filter (where reason = '{TRAINER_REASONS[1]}')
        from int_pairs__labeled
        where reason is null or reason not in ('duplicate_near', 'annotators_disagree')
        group by grouping sets ((partition_date), ()) order by 1
    """).fetchall()
    return {day: {"pairs": n, TRAINER_REASONS[0]: p, TRAINER_REASONS[1]: i} for day, n, p, i in rows if n}


def policy_mix(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Published labels (pairs and KTO rows) by policy_version, per day and 'all'."""
    rows = con.execute("""
        with labels as (
            select partition_date, policy_version from fct_preference_pairs where replica_index = 0
            union all
            select o.partition_date, k.policy_version
            from fct_kto_rows k join fct_event_outcomes o on o.record_id = k.record_id
        )
        select coalesce(cast(partition_date as varchar), 'all'), coalesce(policy_version, 'unversioned'), count(*)
        from labels group by grouping sets ((partition_date, policy_version), (policy_version)) order by 1, 2
    """).fetchall()
    out: dict[str, dict[str, int]] = {}
    for day, version, n in rows:
        out.setdefault(day, {})[version] = int(n)
    return out


def human_judge_agreement(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, int]]:
    """Per day (and 'all'): human-labeled pairs the judge judged blind (the held-out audit) and
    how many of them it agreed with. A human pair's chosen side is ``a`` in the candidates."""
    if not (_exists(con, "judge_verdicts") and _exists(con, "int_pairs__candidates")):
        return {}
    rows = con.execute("""
        select coalesce(cast(c.partition_date as varchar), 'all'), count(*), count(*) filter (where v.winner = 'a')
        from int_pairs__candidates c join judge_verdicts v on v.pair_id = c.pair_id
        where not c.needs_judge and c.label_source like 'human_%' and v.winner in ('a', 'b')
        group by grouping sets ((c.partition_date), ()) order by 1
    """).fetchall()
    return {day: {"judged": int(n), "agree": int(a)} for day, n, a in rows if n}


def trust_measures(con: duckdb.DuckDBPyConnection, counts: dict | None = None) -> dict[str, Any]:
    """What the label-trust gates read, for the manifest and the card (``counts``: the
    candidate's style-marker counts, when already computed)."""
    counts = style_bias.candidate_counts(con) if counts is None else counts
    return {
        "style_bias": style_bias.rates(counts),
        "style_markers": {f: list(p) for f, p in style_bias.MARKERS.items()},
        "trainer_readiness": trainer_readiness(con),
        "policy_version_mix": policy_mix(con),
        "human_judge_agreement": human_judge_agreement(con),
    }


def _tvd(a: dict[str, float], b: dict[str, float]) -> float:
    ta, tb = sum(a.values()) or 1, sum(b.values()) or 1
    return 0.5 * sum(abs(a.get(k, 0) / ta - b.get(k, 0) / tb) for k in set(a) | set(b))


def policy_version_shift(mix: dict[str, dict[str, int]], previous: dict[str, int] | None, threshold: float,
                         min_rows: int) -> GateResult:
    """The largest total variation distance of a day's (or the whole candidate's) policy-version
    mix from LATEST's, among slices with ``min_rows`` labels (LATEST needs as many). Only labels
    given under a policy version count: a day of app feedback without one (``unversioned``) is a
    different label source, not a rubric change (that is label_source_shift's)."""
    rule = POLICY_RULE.format(min=min_rows)
    previous = {k: v for k, v in (previous or {}).items() if k != UNVERSIONED}
    if not previous:
        return GateResult("policy_version_shift", 0.0, threshold, rule=rule,
                          detail="no previous version with versioned labels")
    enough_prev = sum(previous.values()) >= min_rows
    worst: GateResult | None = None
    for key, labels in sorted(mix.items()):
        now = {k: v for k, v in labels.items() if k != UNVERSIONED}
        if not now:
            continue
        n = sum(now.values())
        name = "whole candidate" if key == "all" else f"day {key}"
        gate = GateResult("policy_version_shift", _tvd(now, previous), threshold, n=n,
                          low=None if enough_prev and n >= min_rows else 0.0, rule=rule,
                          detail=f"worst slice {name} vs LATEST ({', '.join(f'{k} {v}' for k, v in sorted(now.items()))}"
                                 f" vs {', '.join(f'{k} {v}' for k, v in sorted(previous.items()))})")
        if worst is None or (gate.decisive, gate.observed) > (worst.decisive, worst.observed):
            worst = gate
    return worst or GateResult("policy_version_shift", 0.0, threshold, n=0, rule=rule,
                               detail="no labels with a policy version")


def independent_gap(x1: int, n1: int, x2: int, n2: int, z: float) -> tuple[float, float, float]:
    """p1 - p2 of two independent samples with Newcombe's hybrid score interval (1998, method 10)."""
    p1, p2 = (x1 / n1 if n1 else 0.0), (x2 / n2 if n2 else 0.0)
    l1, u1 = wilson(x1, n1, z)
    l2, u2 = wilson(x2, n2, z)
    gap = p1 - p2
    return gap, gap - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2), gap + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)


def label_agreement_drop(agreement: dict[str, dict[str, int]], previous: dict[str, int] | None,
                         threshold: float, z: float) -> GateResult:
    """Each day's human-judge agreement against the pooled earlier days of the candidate, and
    the whole candidate's against LATEST's; the slice whose drop has the highest lower bound."""
    days = sorted(d for d in agreement if d != "all")
    comparisons: list[tuple[str, dict[str, int], dict[str, int]]] = []
    for i, day in enumerate(days[1:], start=1):
        before = {"judged": sum(agreement[d]["judged"] for d in days[:i]),
                  "agree": sum(agreement[d]["agree"] for d in days[:i])}
        comparisons.append((f"day {day} vs {days[0]}..{days[i - 1]}", agreement[day], before))
    if previous and previous.get("judged") and agreement.get("all"):
        comparisons.append(("whole candidate vs LATEST", agreement["all"], previous))
    worst: GateResult | None = None
    per_slice: dict[str, float] = {}
    for name, now, before in comparisons:
        gap, low, high = independent_gap(before["agree"], before["judged"], now["agree"], now["judged"], z)
        per_slice[name] = round(gap, 4)
        gate = GateResult("label_agreement_drop", gap, threshold, n=now["judged"], low=low, high=high,
                          previous=before["agree"] / before["judged"], rule=DROP_RULE,
                          detail=f"worst {name}: agreement {now['agree'] / now['judged']:.3f} on {now['judged']} "
                                 f"vs {before['agree'] / before['judged']:.3f} on {before['judged']}")
        if worst is None or (gate.decisive, gate.observed) > (worst.decisive, worst.observed):
            worst = gate
    if worst is None:
        return GateResult("label_agreement_drop", 0.0, threshold, rule=DROP_RULE,
                          detail="no earlier day or LATEST with judged human labels to compare with")
    worst.extra["per_slice"] = per_slice
    return worst


def compute_trust_gates(con: duckdb.DuckDBPyConnection, thresholds: dict[str, Any],
                        previous: dict[str, Any] | None, z: float) -> list[GateResult]:
    counts = style_bias.candidate_counts(con)
    measures = trust_measures(con, counts)
    prev = (previous or {}).get("label_gates") or {}
    results = [style_bias.style_bias_gate(counts, thresholds, z)]
    ready = measures["trainer_readiness"]
    results.append(worst_share(
        "trainer_unready_share",
        {("whole candidate" if d == "all" else f"day {d}"): (v[TRAINER_REASONS[0]] + v[TRAINER_REASONS[1]], v["pairs"])
         for d, v in ready.items()},
        thresholds["trainer_unready_share_max"], z, what="slice")
        if ready else share_gate("trainer_unready_share", 0, 0, thresholds["trainer_unready_share_max"], z,
                                 detail="no labeled pairs"))
    results.append(policy_version_shift(measures["policy_version_mix"], (prev.get("policy_version_mix") or {}).get("all"),
                                        float(thresholds["policy_version_shift_max"]),
                                        int(thresholds.get("mix_min_rows", 30))))
    results.append(label_agreement_drop(measures["human_judge_agreement"],
                                        (prev.get("human_judge_agreement") or {}).get("all"),
                                        float(thresholds["label_agreement_drop_max"]), z))
    return results


TRUST_GATE_DESCRIPTIONS = {
    "style_bias": "Style bias beyond length: chosen - rejected rate of flattery openers, hedging and markdown, "
                  "every day and whole.",
    "trainer_unready_share": "Every day and whole: share of pairs ledgered as not trainer-ready (prompt fills "
                             "trainer.max_length, or chosen = rejected within it).",
    "policy_version_shift": "Policy (rubric) version mix of the labels, every day and whole, vs the LATEST version "
                            "(total variation distance).",
    "label_agreement_drop": "A day's human labels agree with the judge far less than earlier days' did (an A/B "
                            "swap upstream); the whole candidate vs LATEST.",
}


def card_lines(measures: dict[str, Any]) -> str:
    """The label-trust gates' measures for the dataset card's Label trust section."""
    if not measures:
        return ""
    lines = []
    whole = (measures.get("style_bias") or {}).get("whole candidate")
    if whole:
        lines.append("- Style markers, chosen vs rejected (share of pairs; markers in `manifest.json` "
                     "`label_gates.style_markers`): " + "; ".join(
                         f"{f} {r['chosen_rate']:.1%} vs {r['rejected_rate']:.1%} (gap {r['gap']:+.3f})"
                         for f, r in whole.items()) + f" over {next(iter(whole.values()))['pairs']:,} pairs.")
    ready = (measures.get("trainer_readiness") or {}).get("all")
    if ready:
        lines.append(f"- Trainer readiness: of {ready['pairs']:,} labeled pairs, {ready[TRAINER_REASONS[0]]:,} have a "
                     f"prompt that fills trainer.max_length and {ready[TRAINER_REASONS[1]]:,} are identical within it "
                     "(both ledgered, not published).")
    mix = (measures.get("policy_version_mix") or {}).get("all")
    if mix:
        lines.append("- Labels by policy version: " + ", ".join(f"{k} {v:,}" for k, v in sorted(mix.items())) + ".")
    agreement = measures.get("human_judge_agreement") or {}
    if agreement.get("all"):
        lines.append("- Human labels the judge agrees with (blind, held-out): " + "; ".join(
            f"{'whole' if d == 'all' else d} {a['agree'] / a['judged']:.3f} of {a['judged']:,}"
            for d, a in sorted(agreement.items(), key=lambda kv: (kv[0] != 'all', kv[0]))) + ".")
    return "\n".join(lines)
