"""Chat templates <-> canonical messages.

Feedback arrives with prompts either as messages or as text rendered in a chat format.
prefline parses six families into canonical messages (roles system/user/assistant,
CRLF folded to LF, contents stripped) so the same conversation deduplicates whatever
format it was logged in:

    chatml   <|im_start|>user\\n...<|im_end|>\\n<|im_start|>assistant\\n
    llama-3  <|begin_of_text|><|start_header_id|>user<|end_header_id|>\\n\\n...<|eot_id|>...
    llama-2  <s>[INST] <<SYS>>\\n...\\n<</SYS>>\\n\\n... [/INST] answer </s><s>[INST] ... [/INST]
    alpaca   ### Instruction:\\n...\\n\\n### Input:\\n...\\n\\n### Response:\\n
    hh       \\n\\nHuman: ...\\n\\nAssistant: ...\\n\\nHuman: ...\\n\\nAssistant:
    plain    the user's text, nothing else

A rendered prompt ends where the assistant's reply would start. Alpaca's optional
"### Input:" section is joined to the instruction with a blank line.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

TEMPLATE_FAMILIES = ("chatml", "llama-3", "llama-2", "alpaca", "hh", "plain")
TEMPLATE_VERSION = "1"
STRUCTURED = "messages"
ROLES = ("system", "user", "assistant")

ALIASES = {
    "chatml": "chatml", "im_start": "chatml",
    "llama-3": "llama-3", "llama3": "llama-3", "llama-3.1": "llama-3", "llama3.1": "llama-3",
    "llama-2": "llama-2", "llama2": "llama-2", "inst": "llama-2", "llama-2-chat": "llama-2",
    "alpaca": "alpaca",
    "hh": "hh", "anthropic": "hh", "human_assistant": "hh", "hh-rlhf": "hh",
    "plain": "plain", "text": "plain", "raw": "plain",
}

REASONS = (
    "template_unknown",  # the named template is not a known family and no markup is recognised
    "template_malformed",  # markup of the named family does not parse
    "prompt_empty",  # no non-empty user content
    "prompt_last_turn_not_user",  # the conversation does not end with the user's turn
    "prompt_bad_role",  # a role outside system/user/assistant, or system after the first turn
)


class TemplateError(ValueError):
    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class ParsedPrompt(NamedTuple):
    messages: list[dict[str, str]]
    template_id: str
    template_version: str


def _clean(text: str) -> str:
    return text.replace("\r\n", "\n").strip()


def _msg(role: str, content: str) -> dict[str, str]:
    return {"role": role, "content": _clean(content)}


def canonical_messages(messages: list[dict[str, Any]]) -> list[dict[str, str]]:
    """Validate and canonicalize a prompt conversation; raises TemplateError."""
    if not isinstance(messages, list) or not messages:
        raise TemplateError("prompt_empty", "no messages")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("content"), str):
            raise TemplateError("prompt_bad_role", f"message {i} is not {{role, content}}")
        role = m.get("role")
        if role not in ROLES or (role == "system" and i != 0):
            raise TemplateError("prompt_bad_role", f"message {i} has role {role!r}")
        content = _clean(m["content"])
        if not content:
            raise TemplateError("prompt_empty", f"message {i} ({role}) is empty")
        out.append({"role": role, "content": content})
    if out[-1]["role"] != "user":
        raise TemplateError("prompt_last_turn_not_user", f"last turn is the {out[-1]['role']}'s")
    return out


# ---------------------------------------------------------------- rendering

def _split_system(messages: list[dict[str, str]]) -> tuple[str | None, list[dict[str, str]]]:
    if messages and messages[0]["role"] == "system":
        return messages[0]["content"], messages[1:]
    return None, messages


def _turn_pairs(turns: list[dict[str, str]]) -> list[tuple[str, str | None]]:
    """(user, assistant-or-None) pairs for families that alternate strictly."""
    pairs: list[tuple[str, str | None]] = []
    i = 0
    while i < len(turns):
        if turns[i]["role"] != "user":
            raise ValueError("this family needs turns that alternate user/assistant, starting with the user")
        answer = turns[i + 1]["content"] if i + 1 < len(turns) else None
        if answer is not None and turns[i + 1]["role"] != "assistant":
            raise ValueError("this family needs turns that alternate user/assistant")
        pairs.append((turns[i]["content"], answer))
        i += 2
    return pairs


def render_prompt(messages: list[dict[str, str]], template: str) -> str:
    """Render a prompt conversation (last turn the user's) in a chat format, ending where the
    assistant's reply starts. Raises ValueError when the family cannot express it (plain and
    alpaca hold a single user turn, optionally after a system preamble)."""
    family = ALIASES.get(template, template)
    if family == "chatml":
        body = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
        return body + "<|im_start|>assistant\n"
    if family == "llama-3":
        body = "".join(
            f"<|start_header_id|>{m['role']}<|end_header_id|>\n\n{m['content']}<|eot_id|>" for m in messages
        )
        return "<|begin_of_text|>" + body + "<|start_header_id|>assistant<|end_header_id|>\n\n"
    system, turns = _split_system(messages)
    if family == "llama-2":
        parts = []
        for i, (user, answer) in enumerate(_turn_pairs(turns)):
            if i == 0 and system is not None:
                user = f"<<SYS>>\n{system}\n<</SYS>>\n\n{user}"
            parts.append(f"<s>[INST] {user} [/INST]" + (f" {answer} </s>" if answer is not None else ""))
        return "".join(parts)
    if family == "hh":
        body = "".join(
            f"\n\nHuman: {user}" + (f"\n\nAssistant: {answer}" if answer is not None else "")
            for user, answer in _turn_pairs(turns)
        )
        return (system or "") + body + "\n\nAssistant:"
    if family in ("alpaca", "plain"):
        if len(turns) != 1:
            raise ValueError(f"{family} holds one user turn, not {len(turns)} turns")
        if family == "plain":
            if system is not None:
                raise ValueError("plain text has no system preamble")
            return turns[0]["content"]
        preamble = f"{system}\n\n" if system is not None else ""
        return f"{preamble}### Instruction:\n{turns[0]['content']}\n\n### Response:\n"
    raise ValueError(f"unknown template {template!r}")


# ---------------------------------------------------------------- parsing

_CHATML = re.compile(r"<\|im_start\|>([a-z]+)\n(.*?)(?:<\|im_end\|>\s*|(?=<\|im_start\|>)|\Z)", re.S)
_LLAMA3 = re.compile(r"<\|start_header_id\|>([a-z]+)<\|end_header_id\|>\n\n(.*?)(?:<\|eot_id\|>|\Z)", re.S)
_LLAMA2_SEG = re.compile(r"\[INST\](.*?)\[/INST\](.*?)(?=\[INST\]|\Z)", re.S)
_LLAMA2_SYS = re.compile(r"^\s*<<SYS>>\n?(.*?)\n?<</SYS>>\s*", re.S)
_HH_SPLIT = re.compile(r"\n\n(Human|Assistant):[ \t]?")
_ALPACA = re.compile(r"### (Instruction|Input|Response):[ \t]*\n?")


def _drop_open_assistant(messages: list[dict[str, str]]) -> list[dict[str, str]]:
    """A rendered prompt ends with an empty assistant header: that is where the reply goes."""
    if messages and messages[-1]["role"] == "assistant" and not messages[-1]["content"]:
        return messages[:-1]
    return messages


def _parse_chatml(text: str) -> list[dict[str, str]]:
    stripped = text.strip()
    if not stripped.startswith("<|im_start|>"):
        raise TemplateError("template_malformed", "chatml text does not start with <|im_start|>")
    found = [_msg(role, content) for role, content in _CHATML.findall(stripped)]
    if not found:
        raise TemplateError("template_malformed", "no chatml turns")
    return _drop_open_assistant(found)


def _parse_llama3(text: str) -> list[dict[str, str]]:
    stripped = text.strip().removeprefix("<|begin_of_text|>")
    if not stripped.startswith("<|start_header_id|>"):
        raise TemplateError("template_malformed", "llama-3 text does not start with a header")
    found = [_msg(role, content) for role, content in _LLAMA3.findall(stripped)]
    if not found:
        raise TemplateError("template_malformed", "no llama-3 turns")
    return _drop_open_assistant(found)


def _parse_llama2(text: str) -> list[dict[str, str]]:
    body = text.replace("<s>", "").replace("</s>", "")
    segments = _LLAMA2_SEG.findall(body)
    if not segments or body.split("[INST]", 1)[0].strip():
        raise TemplateError("template_malformed", "llama-2 text is not a sequence of [INST] ... [/INST] turns")
    messages: list[dict[str, str]] = []
    for i, (user, answer) in enumerate(segments):
        if i == 0:
            sys_match = _LLAMA2_SYS.match(user)
            if sys_match:
                messages.append(_msg("system", sys_match.group(1)))
                user = user[sys_match.end():]
        messages.append(_msg("user", user))
        if answer.strip():
            messages.append(_msg("assistant", answer))
    return messages


def split_hh_transcript(text: str) -> list[dict[str, str]]:
    """Split an HH ("\\n\\nHuman: … \\n\\nAssistant: …") transcript into messages. Only a
    blank line followed by "Human:" or "Assistant:" starts a turn, so the words appearing
    inside a turn do not split it. Text before the first turn is a system preamble; an empty
    last assistant turn (the prompt's open slot) is kept, as transcripts may end with one."""
    if not text.startswith("\n\n") and text.lstrip().startswith(("Human:", "Assistant:")):
        text = "\n\n" + text.lstrip()
    parts = _HH_SPLIT.split(text)
    preamble, rest = parts[0], parts[1:]
    if not rest:
        raise TemplateError("template_malformed", "no Human:/Assistant: turns")
    messages = [_msg("system", preamble)] if preamble.strip() else []
    for speaker, content in zip(rest[0::2], rest[1::2]):
        messages.append(_msg("user" if speaker == "Human" else "assistant", content))
    return messages


def _parse_hh(text: str) -> list[dict[str, str]]:
    return _drop_open_assistant(split_hh_transcript(text))


def _parse_alpaca(text: str) -> list[dict[str, str]]:
    pieces = _ALPACA.split(text)
    preamble, rest = pieces[0], pieces[1:]
    sections: dict[str, str] = {}
    for name, content in zip(rest[0::2], rest[1::2]):
        if name in sections:
            raise TemplateError("template_malformed", f"alpaca section {name} appears twice")
        sections[name] = content
    if "Instruction" not in sections:
        raise TemplateError("template_malformed", "alpaca text has no ### Instruction: section")
    if _clean(sections.get("Response", "")):
        raise TemplateError("template_malformed", "alpaca prompt already holds a response")
    user = _clean(sections["Instruction"])
    if _clean(sections.get("Input", "")):
        user = f"{user}\n\n{_clean(sections['Input'])}"
    messages = [_msg("system", preamble)] if preamble.strip() else []
    return messages + [{"role": "user", "content": user}]


def _parse_plain(text: str) -> list[dict[str, str]]:
    return [_msg("user", text)]


PARSERS = {
    "chatml": _parse_chatml,
    "llama-3": _parse_llama3,
    "llama-2": _parse_llama2,
    "alpaca": _parse_alpaca,
    "hh": _parse_hh,
    "plain": _parse_plain,
}


def detect_family(text: str) -> str | None:
    """The markup family a rendered prompt is in, or None when it has no chat markup."""
    if "<|im_start|>" in text:
        return "chatml"
    if "<|start_header_id|>" in text:
        return "llama-3"
    if "[INST]" in text and "[/INST]" in text:
        return "llama-2"
    if "\n\nHuman:" in text or text.lstrip().startswith("Human:"):
        return "hh"
    if "### Instruction:" in text:
        return "alpaca"
    return None


def parse_text(text: str, template: str | None) -> ParsedPrompt:
    text = text.replace("\r\n", "\n")
    named = (template or "auto").strip().lower()
    family = ALIASES.get(named)
    if family is None:
        family = detect_family(text)
        if family is None:
            if named != "auto":
                raise TemplateError("template_unknown", f"template {template!r} is not a known family "
                                                        f"and the text has no chat markup")
            family = "plain"
    messages = PARSERS[family](text)
    return ParsedPrompt(canonical_messages(messages), family, TEMPLATE_VERSION)


def parse_prompt(prompt: Any) -> ParsedPrompt:
    """Parse a contract prompt: {"messages": [...]} or {"text": ..., "template": ...}."""
    if not isinstance(prompt, dict):
        raise TemplateError("prompt_empty", "prompt is not an object")
    if "messages" in prompt:
        return ParsedPrompt(canonical_messages(prompt["messages"]), STRUCTURED, TEMPLATE_VERSION)
    text = prompt.get("text")
    if not isinstance(text, str) or not text.strip():
        raise TemplateError("prompt_empty", "prompt text is empty")
    return parse_text(text, prompt.get("template"))


def parse_prompts(prompts: list[Any]) -> list[ParsedPrompt | TemplateError]:
    """Batch form for the pipeline: errors are returned in place, never raised."""
    out: list[ParsedPrompt | TemplateError] = []
    for prompt in prompts:
        try:
            out.append(parse_prompt(prompt))
        except TemplateError as exc:
            out.append(exc)
    return out
