"""A gate: an observed value against its threshold from the `gates` config, decided the same
way and rendered the same way (run log, UI, CLI, manifest) wherever it is computed.

A gate needs evidence before it blocks. A share measured on n rows blocks only when its whole
Wilson interval (at `gates.confidence`, 95% by default) lies beyond the threshold, so one
thumbs pair whose chosen side is longer (share 1.0, interval 0.21-1.0) passes while 500
length-biased pairs still block. Gates that are not shares state their own rule (a bound on
the mean log length ratio, a minimum sample for mix shifts); counts of things that must never
happen (train/test leakage, an empty candidate) block on the count itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any


@dataclass
class GateResult:
    name: str
    observed: float
    threshold: float
    upper: bool = True  # observed must be <= threshold (else >=)
    n: int | None = None  # rows the value is measured on (None: a count, no sampling)
    low: float | None = None  # the interval the decision reads; None: the observed value itself
    high: float | None = None
    previous: float | None = None
    detail: str = ""
    rule: str = ""  # how the gate decides, for the summary and the README table
    accepted: str | None = None  # reason from gates.accept, when a known shift is let through
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def decisive(self) -> float:
        """The end of the interval nearest the threshold: the value that must breach it."""
        if self.upper:
            return self.observed if self.low is None else self.low
        return self.observed if self.high is None else self.high

    @property
    def within(self) -> bool:
        return self.decisive <= self.threshold if self.upper else self.decisive >= self.threshold

    @property
    def breach_without_evidence(self) -> bool:
        """The point value is beyond the threshold but the sample is too small to say so."""
        point = self.observed <= self.threshold if self.upper else self.observed >= self.threshold
        return self.within and not point

    @property
    def passed(self) -> bool:
        return self.within or self.accepted is not None

    @property
    def status(self) -> str:
        if self.within:
            return "passed"
        return "accepted" if self.accepted else "failed"

    def summary(self) -> str:
        """The one line a person reads in the run log, the UI and the CLI."""
        rel = "<=" if self.upper else ">="
        text = f"{self.name}: observed {self.observed:.4g}"
        if self.n is not None:
            text += f" on {self.n:,} rows"
            if self.low is not None and self.high is not None:
                text += f" (interval {self.low:.4g} to {self.high:.4g})"
        text += f", must be {rel} {self.threshold:.4g}"
        if self.previous is not None:
            text += f" (previous version {self.previous:.4g})"
        if self.detail:
            text += f"; {self.detail}"
        if self.breach_without_evidence:
            text += "; too few rows to block"
        if not self.within:
            text += f" — ACCEPTED: {self.accepted}" if self.accepted else " — BLOCKED"
        return text

    def metadata(self) -> dict[str, Any]:
        """The gate's numbers as plain values (check metadata, the manifest)."""
        out: dict[str, Any] = {
            "status": self.status,
            "observed": float(self.observed),
            "threshold": float(self.threshold),
            "direction": "max" if self.upper else "min",
            "summary": self.summary(),
        }
        for key in ("n", "low", "high", "previous"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value if key == "n" else float(value)
        if self.rule:
            out["rule"] = self.rule
        if self.accepted:
            out["accepted_reason"] = self.accepted
        return out


SHARE_RULE = "share: blocks when its whole Wilson interval is beyond the threshold"
MIX_RULE = "mix shift: needs {min} rows in the candidate and in LATEST"
COUNT_RULE = "count: blocks on the count itself"


def z_value(thresholds: dict[str, Any]) -> float:
    confidence = float(thresholds.get("confidence", 0.95))
    return NormalDist().inv_cdf(0.5 + confidence / 2)


def wilson(successes: float, n: int, z: float) -> tuple[float, float]:
    """Wilson score interval of a binomial share; (0, 1) when there is no sample."""
    if n <= 0:
        return 0.0, 1.0
    p = successes / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    return max(0.0, round(center - half, 9)), min(1.0, round(center + half, 9))


def share_gate(name: str, successes: float, n: int, threshold: float, z: float, *, upper: bool = True,
               detail: str = "", **kw: Any) -> GateResult:
    low, high = wilson(successes, n, z)
    return GateResult(name, successes / n if n else 0.0, float(threshold), upper=upper, n=int(n), low=low, high=high,
                      detail=detail, rule=SHARE_RULE, **kw)


def worst_share(name: str, slices: dict[str, tuple[float, int]], threshold: float, z: float, *,
                upper: bool = True, what: str = "day", **kw: Any) -> GateResult:
    """The slice with the strongest evidence against the threshold: for a maximum, the
    highest lower bound; for a minimum, the lowest upper bound. ``slices``: name ->
    (successes, rows)."""
    if not slices:
        return share_gate(name, 0, 0, threshold, z, upper=upper, detail=f"no {what}s", **kw)
    gates = {key: share_gate(name, s, n, threshold, z, upper=upper) for key, (s, n) in slices.items()}
    worst = (max if upper else min)(gates, key=lambda k: (gates[k].decisive, gates[k].observed if upper
                                                            else -gates[k].observed, k))
    result = share_gate(name, *slices[worst], threshold, z, upper=upper, detail=f"worst {what} {worst}", **kw)
    result.extra["per_slice"] = {k: round(g.observed, 4) for k, g in gates.items()}
    return result


def apply_accepts(results: Iterable[GateResult], accept: list[dict[str, Any]] | None) -> None:
    """``gates.accept`` lets a known shift through: a gate outside its threshold passes as
    accepted, with the reason recorded. Entries name the gate with or without `gate_`."""
    reasons = {}
    for entry in accept or []:
        name = str(entry.get("gate", "")).removeprefix("gate_")
        reasons[name] = entry.get("reason") or "accepted without a reason"
    for result in results:
        if not result.within and result.name in reasons:
            result.accepted = reasons[result.name]
