"""prefline.yaml settings handed to dbt as --vars, so SQL and Python read one config."""

from __future__ import annotations

from statistics import NormalDist
from typing import Any

ANNOTATOR_POLICIES = ("keep", "weight_down", "hold_out")


def dbt_vars(config: dict[str, Any], bounds: tuple[str, str] | None = None) -> dict[str, Any]:
    """``bounds``: the first and last day (inclusive) of the partition window, if any."""
    filtering, pairs = config["filtering"], config["pairs"]
    split, upsampling = config["split"], config["upsampling"]
    trust = config.get("label_trust") or {}
    policy = trust.get("annotator_policy", "weight_down")
    if policy not in ANNOTATOR_POLICIES:
        raise ValueError(f"label_trust.annotator_policy must be one of {', '.join(ANNOTATOR_POLICIES)}, got {policy!r}")
    confidence = float((config.get("gates") or {}).get("confidence", 0.95))
    out: dict[str, Any] = {
        "max_prompt_chars": filtering["max_prompt_chars"],
        "max_response_chars": filtering["max_response_chars"],
        "languages": list(filtering.get("languages") or []),
        "rating_min_gap": pairs["rating_min_gap"],
        "max_pairs_per_prompt": pairs["max_pairs_per_prompt"],
        "max_pairs_per_cluster": pairs["max_pairs_per_cluster"],
        "kto_desirable_min_score": pairs["kto_desirable_min_score"],
        "kto_undesirable_max_score": pairs["kto_undesirable_max_score"],
        "include_regenerate": bool(pairs["include_regenerate"]),
        "test_fraction": split["test_fraction"],
        "split_salt": split["salt"],
        "upsampling_mode": upsampling["mode"],
        "max_weight": upsampling["max_weight"],
        "category_targets": dict(upsampling.get("category_targets") or {}),
        "annotator_policy": policy,
        "annotator_agreement_floor": float(trust.get("annotator_agreement_floor", 0.6)),
        "annotator_min_peer_labels": int(trust.get("annotator_min_peer_labels", 10)),
        "annotator_weight_down": float(trust.get("annotator_weight_down", 0.5)),
        "gates_z": NormalDist().inv_cdf(0.5 + confidence / 2),
    }
    if bounds is not None:
        out["partition_start"], out["partition_end"] = bounds
    return out
