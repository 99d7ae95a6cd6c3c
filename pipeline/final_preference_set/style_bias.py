"""Style bias beyond length: how much more often the chosen response carries a style marker
than the rejected one, in the spirit of AlpacaEval's length control and Arena-Hard's style
control (a preference set that rewards flattery, hedging or markdown teaches the trainer a
style, not substance).

Three documented marker families, each a set of RE2 regular expressions matched in DuckDB
(``regexp_matches``, vectorised over the column; case-insensitive, ``^`` at line starts):

- ``flattery``: agreement and flattery openers at the start of the response: "Great
  question", "What a wonderful idea", "You're absolutely right", "Certainly!", "Absolutely!",
  "Of course!", "I completely agree", "Thank you for asking";
- ``hedging``: "I think", "I believe", "I guess", "I'm not sure", "it's possible", "it seems",
  "it depends", "might", "maybe", "perhaps", "possibly", "probably";
- ``markdown``: a header line (``#`` to ``######``), a bullet or numbered list line, bold
  (``**text**``) or a code fence.

A pair is marked on a side when any of the family's patterns matches that side. The rate
difference chosen - rejected is paired data (both sides come from one pair), so its interval
is Newcombe's hybrid score interval for paired proportions (Newcombe 1998, method 10), built
from the two sides' Wilson intervals and their correlation: the same small-sample rule as the
share gates (pipeline/core/gates.py), a gap measured on a handful of pairs cannot block; and,
as for the mix-shift gates, a slice needs ``gates.mix_min_rows`` pairs before it can block.
"""

from __future__ import annotations

import math
from typing import Any

import duckdb

from pipeline.core.gates import GateResult, wilson

OPENER = r"(?i)\A\W*"
MARKERS: dict[str, tuple[str, ...]] = {
    "flattery": (
        OPENER + r"(what an? )?(great|good|excellent|fantastic|wonderful|interesting|insightful) "
                 r"(question|point|idea|observation)",
        OPENER + r"(you'?re|you are) (absolutely|totally|completely|so|quite) right",
        OPENER + r"(certainly|absolutely|of course|sure thing|definitely)\s*[!.,]",
        OPENER + r"i (completely|totally|fully|absolutely) agree",
        OPENER + r"(thank you|thanks) (so much )?for (asking|the question|sharing|your question)",
    ),
    "hedging": (
        r"(?i)\b(i think|i believe|i guess|i'?m not sure|i am not sure|it'?s possible|it is possible"
        r"|it seems|it depends)\b",
        r"(?i)\b(might|maybe|perhaps|possibly|probably)\b",
    ),
    "markdown": (
        r"(?m)^#{1,6} \S",
        r"(?m)^[ \t]*([-*+]|\d+[.)]) \S",
        r"\*\*[^*\n]+\*\*",
        r"(?m)^```",
    ),
}
FAMILIES = tuple(MARKERS)
RULE = ("rate gap chosen - rejected: blocks when its whole paired interval (Newcombe, from the "
        "sides' Wilson intervals) is above the threshold, on slices of mix_min_rows pairs or more")


def marker_sql(column: str, family: str) -> str:
    """A boolean SQL expression: the column carries the family's marker."""
    return "(" + " or ".join(
        f"regexp_matches(coalesce({column}, ''), '{pattern.replace(chr(39), chr(39) * 2)}')"
        for pattern in MARKERS[family]) + ")"


def style_counts(con: duckdb.DuckDBPyConnection, relation: str) -> dict[str, dict[str, dict[str, int]]]:
    """Per slice and family, the paired 2x2 counts of a relation with columns ``slice``,
    ``chosen`` and ``rejected`` (text): n pairs, both marked, chosen only, rejected only.
    The slice 'whole candidate' is every row of the relation."""
    selects = ",\n".join(
        f"count(*) filter (where {marker_sql('chosen', f)} and {marker_sql('rejected', f)}) as {f}_both, "
        f"count(*) filter (where {marker_sql('chosen', f)} and not {marker_sql('rejected', f)}) as {f}_chosen, "
        f"count(*) filter (where not {marker_sql('chosen', f)} and {marker_sql('rejected', f)}) as {f}_rejected"
        for f in FAMILIES)
    cur = con.execute(f"""
        select coalesce(slice, 'whole candidate') as slice, count(*) as n, {selects}
        from ({relation}) r
        group by grouping sets ((slice), ())
        order by 1
    """)
    names = [d[0] for d in cur.description]
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row in cur.fetchall():
        values = dict(zip(names, row))
        if not values["n"]:
            continue
        out[values["slice"]] = {
            f: {"n": int(values["n"]), "both": int(values[f"{f}_both"]), "chosen_only": int(values[f"{f}_chosen"]),
                "rejected_only": int(values[f"{f}_rejected"])}
            for f in FAMILIES
        }
    return out


def paired_gap(both: int, chosen_only: int, rejected_only: int, n: int, z: float) -> tuple[float, float, float]:
    """Rate difference chosen - rejected and Newcombe's method-10 interval for paired data."""
    if n <= 0:
        return 0.0, -1.0, 1.0
    a, b, c = both, chosen_only, rejected_only
    d = n - a - b - c
    p1, p2 = (a + b) / n, (a + c) / n
    l1, u1 = wilson(a + b, n, z)
    l2, u2 = wilson(a + c, n, z)
    denom = (a + b) * (c + d) * (a + c) * (b + d)
    phi = (a * d - b * c) / math.sqrt(denom) if denom else 0.0
    gap = p1 - p2
    low = gap - math.sqrt(max(0.0, (p1 - l1) ** 2 - 2 * phi * (p1 - l1) * (u2 - p2) + (u2 - p2) ** 2))
    high = gap + math.sqrt(max(0.0, (u1 - p1) ** 2 - 2 * phi * (u1 - p1) * (p2 - l2) + (p2 - l2) ** 2))
    return gap, max(-1.0, low), min(1.0, high)


def rates(counts: dict[str, dict[str, dict[str, int]]]) -> dict[str, dict[str, dict[str, float]]]:
    """Chosen and rejected marker rates and their gap per slice and family (manifest, card)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for slice_, families in counts.items():
        out[slice_] = {}
        for f, k in families.items():
            n = k["n"]
            out[slice_][f] = {"pairs": n, "chosen_rate": round((k["both"] + k["chosen_only"]) / n, 4),
                              "rejected_rate": round((k["both"] + k["rejected_only"]) / n, 4),
                              "gap": round((k["chosen_only"] - k["rejected_only"]) / n, 4)}
    return out


def style_bias_gate(counts: dict[str, dict[str, dict[str, int]]], thresholds: dict[str, Any], z: float) -> GateResult:
    """The (slice, family) whose gap interval's lower end stands furthest above its family's
    threshold (``style_<family>_gap_max``); every slice's gaps ride along in ``extra``. A slice
    of fewer than ``mix_min_rows`` pairs cannot block: a style rate is a property of a mix."""
    min_rows = int(thresholds.get("mix_min_rows", 30))
    worst: GateResult | None = None
    per_slice: dict[str, dict[str, float]] = {}
    for slice_, families in sorted(counts.items()):
        for f, k in families.items():
            gap, low, high = paired_gap(k["both"], k["chosen_only"], k["rejected_only"], k["n"], z)
            per_slice.setdefault(slice_, {})[f] = round(gap, 4)
            threshold = float(thresholds[f"style_{f}_gap_max"])
            if k["n"] < min_rows:
                low = min(low, -1.0)
            gate = GateResult("style_bias", gap, threshold, n=k["n"], low=low, high=high, rule=RULE,
                              detail=f"worst {f} in {slice_} (chosen - rejected marker rate)")
            if worst is None or gate.decisive - gate.threshold > worst.decisive - worst.threshold:
                worst = gate
    if worst is None:
        worst = GateResult("style_bias", 0.0, float(thresholds["style_flattery_gap_max"]), n=0, low=-1.0, high=1.0,
                           rule=RULE, detail="no pairs")
    worst.extra["per_slice"] = per_slice
    return worst


PAIRS_RELATION = """
    select cast(partition_date as varchar) as slice, chosen_content as chosen, rejected_content as rejected
    from fct_preference_pairs where replica_index = 0
"""


def candidate_counts(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, dict[str, int]]]:
    """The candidate's published pairs, per day (slice 'day <date>') and whole."""
    counts = style_counts(con, PAIRS_RELATION)
    return {(s if s == "whole candidate" else f"day {s}"): v for s, v in counts.items()}
