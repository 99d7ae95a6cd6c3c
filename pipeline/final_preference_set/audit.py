"""What publishing may rely on: the recorded evaluation of every blocking check, read back
from the run history, never assumed.

`Evaluation` is one recorded check result, flattened from Dagster's event log (see
pipeline/final_preference_set/evidence.py). `decide` turns the evaluations found for the checks a candidate
must pass into the manifest's `checks` record and the list of what stands in the way; the
message says which checks failed or never ran and how to proceed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

HOW_TO_PROCEED = (
    "fix the data and rebuild (prefline build --date <day>), or, for a known and intended shift, "
    "add the gate to gates.accept in prefline.yaml with a reason and rebuild"
)


@dataclass(frozen=True)
class Evaluation:
    """One recorded evaluation of a check."""

    check: str  # "<asset>:<check>" or, on the candidate, the check name
    passed: bool
    run_id: str
    timestamp: float
    description: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    partition: str | None = None

    @property
    def status(self) -> str:
        if not self.passed:
            return "failed"
        return "accepted" if self.metadata.get("status") == "accepted" else "passed"

    def record(self) -> dict[str, Any]:
        """The manifest's entry for this check."""
        out: dict[str, Any] = {
            "status": self.status,
            "run_id": self.run_id,
            "evaluated_at": datetime.fromtimestamp(self.timestamp, UTC).isoformat(timespec="seconds"),
            "summary": self.description,
        }
        for key in ("observed", "threshold", "direction", "n", "low", "high", "previous", "accepted_reason"):
            if self.metadata.get(key) is not None:
                out[key] = self.metadata[key]
        return out


@dataclass
class Audit:
    candidate: str
    checks: dict[str, dict[str, Any]]  # check -> manifest record (only checks with an evaluation)
    problems: list[str]  # one line per check that failed or has no evaluation, or per file problem

    @property
    def ok(self) -> bool:
        return not self.problems and bool(self.checks)

    def message(self) -> str:
        lines = [f"candidate {self.candidate} is not published:"]
        lines += [f"  - {p}" for p in self.problems or ["no blocking check has evaluated it"]]
        lines.append(f"to proceed: {HOW_TO_PROCEED}")
        return "\n".join(lines)


def decide(candidate: str, expected: list[str], found: dict[str, Evaluation | None],
           file_problems: list[str] = ()) -> Audit:
    """``expected``: every blocking check the candidate must pass; ``found``: the latest
    evaluation of each on this candidate (None: it never ran on it)."""
    checks: dict[str, dict[str, Any]] = {}
    problems = [f"the candidate on disk is not the one its checks audited: {p}" for p in file_problems]
    for name in sorted(expected):
        evaluation = found.get(name)
        if evaluation is None:
            problems.append(f"{name}: never ran on this candidate")
            continue
        checks[name] = evaluation.record()
        if not evaluation.passed:
            problems.append(f"{name} failed (run {evaluation.run_id[:8]}): {evaluation.description}")
    return Audit(candidate, checks, problems)
