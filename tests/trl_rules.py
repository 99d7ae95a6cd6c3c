"""TRL's documented rules for the conversational preference and unpaired preference formats,
as a checker the tests apply to every published row (importing TRL itself pulls torch)."""

from __future__ import annotations

from typing import Any

ROLES = {"system", "user", "assistant"}


def _messages_problem(value: Any, name: str) -> str | None:
    if not isinstance(value, list) or not value:
        return f"{name} is not a non-empty list of messages"
    for message in value:
        if not isinstance(message, dict) or set(message) != {"role", "content"}:
            return f"{name} has a message that is not exactly {{role, content}}: {message!r}"
        if message["role"] not in ROLES or not isinstance(message["content"], str):
            return f"{name} has a bad message: {message!r}"
        if not message["content"].strip():
            return f"{name} has an empty message"
    return None


def preference_row_problems(row: dict[str, Any]) -> list[str]:
    problems = [p for k in ("prompt", "chosen", "rejected") if (p := _messages_problem(row.get(k), k))]
    if problems:
        return problems
    if row["prompt"][-1]["role"] != "user":
        problems.append("prompt does not end with the user's turn")
    for key in ("chosen", "rejected"):
        if [m["role"] for m in row[key]] != ["assistant"]:
            problems.append(f"{key} is not one assistant message")
    if row["chosen"] == row["rejected"]:
        problems.append("chosen == rejected")
    return problems


def kto_row_problems(row: dict[str, Any]) -> list[str]:
    problems = [p for k in ("prompt", "completion") if (p := _messages_problem(row.get(k), k))]
    if not isinstance(row.get("label"), bool):
        problems.append("label is not a bool")
    return problems
