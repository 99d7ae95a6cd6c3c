"""Judges for pairs nobody labeled: the interface, a reward-model judge, an OpenAI-compatible
HTTP judge, and the both-orders runner with its cache and bias metrics."""

from pipeline.judge_labeling.judges.base import Judge, JudgeItem, Verdict
from pipeline.judge_labeling.judges.openai_compat import OpenAICompatibleJudge, parse_verdict
from pipeline.judge_labeling.judges.reward_model import RewardModelJudge
from pipeline.judge_labeling.judges.runner import judge_pairs

__all__ = ["Judge", "JudgeItem", "Verdict", "OpenAICompatibleJudge", "RewardModelJudge", "judge_pairs", "parse_verdict"]
