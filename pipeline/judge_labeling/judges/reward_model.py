"""A Bradley–Terry reward model as the offline judge.

score(response) = w · φ(response), with φ hashed word uni- and bigrams of the response plus a
few length and format features (refusal openers, lists, code); w is fit by
logistic regression on φ(chosen) − φ(rejected) of the window's human train pairs. The model is
antisymmetric by construction — judging (b, a) mirrors (a, b) exactly — and deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from pipeline.core.hashing import content_id
from pipeline.judge_labeling.judges.base import Judge, JudgeItem, Verdict

Pair = tuple[list[dict[str, str]], str, str]  # prompt messages, chosen, rejected

MIN_TRAIN_PAIRS = 20
C_GRID = (0.1, 0.3, 1.0)
CV_FOLDS = 3


def _format_features(texts: Sequence[str]) -> np.ndarray:
    rows = []
    for t in texts:
        chars = len(t)
        rows.append([
            math.log1p(chars),
            math.log1p(t.count("\n")),
            float("```" in t),
            float(any(line.lstrip().startswith(("-", "*", "1.")) for line in t.splitlines())),
            float("?" in t),
            float(t.lower().startswith(("i'm sorry", "i am sorry", "sorry", "i can't", "i cannot", "i won't"))),
        ])
    return np.asarray(rows, dtype=np.float64)


class RewardModelJudge(Judge):
    rubric_version = "bt-v1"

    def __init__(self, n_features: int = 2**18, seed: int = 0) -> None:
        self.n_features = n_features
        self.seed = seed
        self.vectorizer = HashingVectorizer(
            n_features=n_features, ngram_range=(1, 2), alternate_sign=False, norm="l2", lowercase=True
        )
        self.model: LogisticRegression | None = None
        self.judge_id = "reward_model:bt-hashed-ngrams"
        self.judge_version = "untrained"
        self.cv_accuracy: float | None = None
        self.C: float | None = None

    def _phi(self, responses: Sequence[str]) -> sparse.csr_matrix:
        return sparse.hstack(
            [self.vectorizer.transform(list(responses)), sparse.csr_matrix(_format_features(responses))]
        ).tocsr()

    def _diffs(self, pairs: Sequence[Pair]) -> sparse.csr_matrix:
        return self._phi([p[1] for p in pairs]) - self._phi([p[2] for p in pairs])

    def fit(self, pairs: Sequence[Pair], cache_dir: Path | None = None) -> RewardModelJudge:
        """Fit on human (prompt, chosen, rejected) pairs. With ``cache_dir``, a model already fit
        on exactly these pairs is loaded instead: a rebuild does not retrain."""
        pairs = sorted(pairs, key=lambda p: (p[1], p[2]))
        if len(pairs) < MIN_TRAIN_PAIRS:
            raise ValueError(f"a reward model needs at least {MIN_TRAIN_PAIRS} human train pairs, got {len(pairs)}")
        self.judge_version = content_id(
            {"pairs": content_id([[p[1], p[2]] for p in pairs]), "grid": C_GRID, "folds": CV_FOLDS,
             "n_features": self.n_features, "seed": self.seed}
        )[:12]
        cached = cache_dir / f"reward-model-{self.judge_version}.npz" if cache_dir else None
        if cached is not None and cached.exists():
            saved = np.load(cached)
            self.model = LogisticRegression(C=float(saved["C"]), fit_intercept=False)
            self.model.classes_ = np.array([0.0, 1.0])
            self.model.coef_ = saved["coef"]
            self.model.intercept_ = np.zeros(1)
            self.C, self.cv_accuracy = float(saved["C"]), float(saved["cv_accuracy"])
            return self
        d = self._diffs(pairs)
        # Mirror every pair so the fit sees both orders: no intercept, an antisymmetric scorer.
        x = sparse.vstack([d, -d]).tocsr()
        y = np.concatenate([np.ones(d.shape[0]), np.zeros(d.shape[0])])
        self.C, self.cv_accuracy = self._choose_c(d)
        self.model = LogisticRegression(C=self.C, fit_intercept=False, max_iter=2000, solver="liblinear")
        self.model.fit(x, y)
        if cached is not None:
            cached.parent.mkdir(parents=True, exist_ok=True)
            tmp = cached.with_name(cached.stem + ".tmp.npz")
            np.savez(tmp, coef=self.model.coef_, C=self.C, cv_accuracy=self.cv_accuracy)
            tmp.replace(cached)
        return self

    def _choose_c(self, d: sparse.csr_matrix) -> tuple[float, float]:
        """Pick C by cross-validation inside the training pairs (never on the test split)."""
        n = d.shape[0]
        folds = StratifiedKFold(n_splits=min(CV_FOLDS, max(2, n // 10)), shuffle=True, random_state=self.seed)
        labels = np.arange(n) % 2  # alternate the order so each fold sees both classes
        signs = np.where(labels == 1, 1.0, -1.0)
        xs = sparse.diags(signs) @ d
        best = (C_GRID[0], -1.0)
        for c in C_GRID:
            scores = []
            for train, held in folds.split(np.zeros(n), labels):
                m = LogisticRegression(C=c, fit_intercept=False, max_iter=2000, solver="liblinear")
                m.fit(xs[train], labels[train])
                scores.append(float((m.predict(xs[held]) == labels[held]).mean()))
            mean = float(np.mean(scores))
            if mean > best[1]:
                best = (c, mean)
        return best

    def prob_first_better(self, responses_a: Sequence[str], responses_b: Sequence[str]) -> np.ndarray:
        if self.model is None:
            raise RuntimeError("the reward model is not trained")
        d = self._phi(responses_a) - self._phi(responses_b)
        return self.model.predict_proba(d)[:, 1]

    def evaluate(self, pairs: Sequence[Pair]) -> dict[str, float]:
        """Held-out accuracy and Brier score on human (chosen, rejected) pairs."""
        if not pairs:
            return {"accuracy": float("nan"), "brier": float("nan"), "n": 0}
        p = self.prob_first_better([x[1] for x in pairs], [x[2] for x in pairs])
        return {"accuracy": float((p > 0.5).mean()), "brier": float(((1 - p) ** 2).mean()), "n": len(pairs)}

    def compare_batch(self, items: list[JudgeItem]) -> list[Verdict]:
        if not items:
            return []
        p = self.prob_first_better([i.response_a for i in items], [i.response_b for i in items])
        return [Verdict("a" if q > 0.5 else "b" if q < 0.5 else "tie", float(abs(2 * q - 1))) for q in p]
