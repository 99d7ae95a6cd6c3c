"""Held-out accuracy and Brier score of prefline's reward-model judge on real HH-RLHF pairs,
next to a bag-of-words baseline. Split 80/20 by prompt hash; hyperparameters are chosen by
cross-validation inside the train split only.

    .venv/bin/python bench/judge_accuracy.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from pipeline.core.hashing import content_id
from pipeline.importers.hh_rlhf import split_pair
from pipeline.judge_labeling.judges import RewardModelJudge
from pipeline.synth.hh_rlhf import read_pairs


def load_pairs():
    pairs = []
    for record in read_pairs():
        try:
            prompt, chosen, rejected = split_pair(record["chosen"], record["rejected"])
        except ValueError:
            continue
        if chosen and rejected:
            pairs.append((prompt, chosen, rejected))
    return pairs


def bag_of_words(train, test):
    vec = CountVectorizer().fit([p[1] for p in train] + [p[2] for p in train])
    d = vec.transform([p[1] for p in train]) - vec.transform([p[2] for p in train])
    model = LogisticRegression(fit_intercept=False, max_iter=2000)
    model.fit(sparse.vstack([d, -d]), np.r_[np.ones(d.shape[0]), np.zeros(d.shape[0])])
    p = model.predict_proba(vec.transform([x[1] for x in test]) - vec.transform([x[2] for x in test]))[:, 1]
    return {"accuracy": float((p > 0.5).mean()), "brier": float(((1 - p) ** 2).mean()), "n": len(test)}


def main() -> None:
    pairs = load_pairs()
    test = [p for p in pairs if int(content_id(p[0])[:8], 16) % 10 < 2]
    train = [p for p in pairs if int(content_id(p[0])[:8], 16) % 10 >= 2]
    start = time.perf_counter()
    judge = RewardModelJudge().fit(train)
    rm = {**judge.evaluate(test), "fit_s": round(time.perf_counter() - start, 2), "C": judge.C,
          "cv_accuracy_in_train": round(judge.cv_accuracy, 4)}
    bow = bag_of_words(train, test)
    chance = float(np.mean([len(p[1]) > len(p[2]) for p in test]))
    result = {"train_pairs": len(train), "test_pairs": len(test), "reward_model": rm, "bag_of_words": bow,
              "always_pick_longer_accuracy": chance}
    lines = ["| judge | held-out accuracy | Brier |", "|---|---:|---:|",
             f"| bag-of-words logistic regression | {bow['accuracy']:.3f} | {bow['brier']:.3f} |",
             f"| prefline RewardModelJudge (hashed 1-2 grams + format, C={judge.C}) | {rm['accuracy']:.3f} | {rm['brier']:.3f} |",
             f"| always pick the longer response | {chance:.3f} | — |"]
    print("\n".join(lines))
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "judge_accuracy.json").write_text(json.dumps(result, indent=2) + "\n")
    (out / "judge_accuracy.md").write_text(f"HH-RLHF harmless-base test, {len(train)} train / {len(test)} held-out pairs "
                                           "(split by prompt hash)\n\n" + "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
