"""A judge behind any OpenAI-compatible chat-completions endpoint (vLLM, Ollama, llama.cpp
server, hosted APIs): a versioned rubric, bounded concurrency, retries with backoff on 429,
5xx and timeouts (honouring Retry-After), and a parser that tolerates messy replies.
Failures never raise: they come back as Verdict(None, 0, reason) so the pair reaches the
ledger with its reason."""

from __future__ import annotations

import json
import os
import re
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from pipeline.judge_labeling.judges.base import Judge, JudgeItem, Verdict

RUBRIC_VERSION = "pairwise-v1"
RUBRIC = """You are judging two assistant responses to the same conversation.
Prefer the response that is more helpful, honest and harmless for the user's last request.
Ignore response length and the order in which the responses are shown.
Answer with exactly one of: [[A]], [[B]] or [[TIE]]."""

_BRACKET = re.compile(r"\[\[\s*(A|B|TIE)\s*\]\]", re.I)
_PHRASE = re.compile(r"\b(?:response|answer|assistant|option)\s*(A|B)\b\s*(?:is|was)?\s*(?:better|preferred|wins)", re.I)
_LEADING = re.compile(r"^\W*(A|B|TIE)\b", re.I)


def parse_verdict(text: str) -> str | None:
    """'a', 'b', 'tie', or None when the reply names no verdict."""
    if not text:
        return None
    stripped = text.strip()
    try:
        obj = json.loads(stripped)
        if isinstance(obj, dict):
            value = str(obj.get("winner") or obj.get("verdict") or obj.get("choice") or "").strip().lower()
            return {"a": "a", "b": "b", "tie": "tie", "response a": "a", "response b": "b"}.get(value)
    except ValueError:
        pass  # not JSON: read it as text below
    for pattern in (_BRACKET, _PHRASE, _LEADING):
        found = {m.group(1).lower() for m in pattern.finditer(stripped)}
        if len(found) == 1:
            return found.pop()
        if len(found) > 1:  # names both: ambiguous, not a verdict
            return None
    if re.search(r"\b(tie|equally good|both are equal)\b", stripped, re.I):
        return "tie"
    return None


def _render(item: JudgeItem) -> str:
    convo = "\n".join(f"{m['role'].upper()}: {m['content']}" for m in item.prompt_messages)
    return (f"[Conversation]\n{convo}\n\n[Response A]\n{item.response_a}\n\n"
            f"[Response B]\n{item.response_b}\n\nWhich response is better?")


class OpenAICompatibleJudge(Judge):
    def __init__(self, base_url: str, model: str, api_key: str | None = None, rubric: str = RUBRIC,
                 rubric_version: str = RUBRIC_VERSION, concurrency: int = 4, max_retries: int = 3,
                 backoff_s: float = 0.5, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("PREFLINE_JUDGE_API_KEY")
        self.rubric = rubric
        self.rubric_version = rubric_version
        self.concurrency = max(1, concurrency)
        self.max_retries = max_retries
        self.backoff_s = backoff_s
        self.timeout_s = timeout_s
        self.judge_id = f"openai:{model}"
        self.judge_version = model

    def _post(self, body: bytes) -> dict:
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(f"{self.base_url}/chat/completions", data=body, headers=headers)
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            return json.loads(response.read())

    def _one(self, item: JudgeItem) -> Verdict:
        body = json.dumps({
            "model": self.model,
            "temperature": 0,
            "max_tokens": 16,
            "messages": [{"role": "system", "content": self.rubric}, {"role": "user", "content": _render(item)}],
        }).encode()
        last_error = "no attempt"
        for attempt in range(self.max_retries + 1):
            try:
                reply = self._post(body)
                text = reply["choices"][0]["message"]["content"] or ""
                winner = parse_verdict(text)
                if winner is None:
                    return Verdict(None, 0.0, f"judge_unparsable: {text[:60]!r}")
                return Verdict(winner, 1.0, text[:60])
            except urllib.error.HTTPError as exc:
                last_error = f"http {exc.code}"
                if exc.code != 429 and exc.code < 500:
                    return Verdict(None, 0.0, f"judge_http_{exc.code}")
                retry_after = exc.headers.get("Retry-After") if exc.headers else None
                wait = float(retry_after) if retry_after and retry_after.replace(".", "", 1).isdigit() else None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                last_error = f"{type(exc).__name__}: {getattr(exc, 'reason', exc)}"
                wait = None
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                return Verdict(None, 0.0, f"judge_bad_response: {exc}")
            if attempt < self.max_retries:
                time.sleep(wait if wait is not None else self.backoff_s * (2 ** attempt))
        return Verdict(None, 0.0, f"judge_unavailable: {last_error} after {self.max_retries + 1} attempts")

    def compare_batch(self, items: list[JudgeItem]) -> list[Verdict]:
        with ThreadPoolExecutor(max_workers=self.concurrency) as pool:
            return list(pool.map(self._one, items))
