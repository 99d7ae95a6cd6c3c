"""The Judge interface: for a prompt and two responses, which is better, how sure, and who said so."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


@dataclass(frozen=True)
class JudgeItem:
    prompt_messages: list[dict[str, str]]
    response_a: str
    response_b: str


@dataclass(frozen=True)
class Verdict:
    winner: str | None  # "a", "b", "tie", or None when the judge gave no usable answer
    confidence: float
    detail: str = ""


class Judge(ABC):
    judge_id: str
    judge_version: str
    rubric_version: str = "none"

    @abstractmethod
    def compare_batch(self, items: list[JudgeItem]) -> list[Verdict]:
        """One verdict per item, in order; errors come back as Verdict(None, 0, reason)."""
