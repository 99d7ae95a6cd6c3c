"""The Judge resource: which judge labels the pairs nobody labeled.

`reward_model` (the offline default) trains a Bradley–Terry reward model on the window's
human train-split pairs; `openai` calls any OpenAI-compatible chat-completions endpoint.
Tests swap in a fake judge through the same resource key.
"""

from __future__ import annotations

import os
from typing import Any

from dagster import ConfigurableResource

from pipeline.core import paths
from pipeline.judge_labeling.judges import Judge, OpenAICompatibleJudge, RewardModelJudge

HumanPair = tuple[list[dict[str, str]], str, str]  # prompt messages, chosen, rejected


class JudgeResource(ConfigurableResource):
    kind: str = "reward_model"
    base_url: str = "http://127.0.0.1:8000/v1"
    model: str = "judge"
    concurrency: int = 4
    timeout_s: float = 30.0
    max_retries: int = 3

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> JudgeResource:
        judge = config["judge"]
        openai = judge.get("openai", {})
        return cls(
            kind=os.environ.get("PREFLINE_JUDGE", judge["kind"]),
            base_url=os.environ.get("PREFLINE_JUDGE_BASE_URL", openai.get("base_url", cls.model_fields["base_url"].default)),
            model=os.environ.get("PREFLINE_JUDGE_MODEL", openai.get("model", "judge")),
            concurrency=int(openai.get("concurrency", 4)),
            timeout_s=float(openai.get("timeout_s", 30)),
            max_retries=int(openai.get("max_retries", 3)),
        )

    def build(self, train_pairs: list[HumanPair]) -> Judge:
        if self.kind == "reward_model":
            return RewardModelJudge().fit(train_pairs, cache_dir=paths.home() / "cache" / "judge")
        if self.kind == "openai":
            return OpenAICompatibleJudge(
                base_url=self.base_url,
                model=self.model,
                concurrency=self.concurrency,
                timeout_s=self.timeout_s,
                max_retries=self.max_retries,
            )
        raise ValueError(f"unknown judge kind {self.kind!r}: use reward_model or openai")
