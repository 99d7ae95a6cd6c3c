"""Krippendorff's alpha (nominal) as prefline computes it, checked against the independent
`krippendorff` package on PandaLM's three-vote human test set and on small hand cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.pair_construction.agreement import alpha_nominal

PANDALM = Path("/work/shared/data/pandalm/testset-v1.json")


def _long(matrix):
    """annotators x items (NaN missing) -> parallel item/label arrays, missing dropped."""
    matrix = np.asarray(matrix, dtype=float)
    annotators, items = np.nonzero(~np.isnan(matrix))
    return items, matrix[annotators, items]


@pytest.mark.skipif(not PANDALM.exists(), reason="PandaLM test set not present")
def test_alpha_on_pandalm_three_votes_matches_the_krippendorff_package():
    krippendorff = pytest.importorskip("krippendorff")
    rows = json.loads(PANDALM.read_text())
    matrix = np.array([[float(r[f"annotator{k}"]) for r in rows] for k in (1, 2, 3)])
    assert matrix.shape == (3, 999)
    ours = alpha_nominal(*_long(matrix))
    theirs = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert round(ours, 3) == round(theirs, 3)
    assert 0.7 < ours < 1.0  # PandaLM reports pairwise Cohen's kappa 0.85-0.88


def test_alpha_with_missing_labels_matches_the_package_and_hand_cases():
    krippendorff = pytest.importorskip("krippendorff")
    nan = np.nan
    matrix = [[1, 2, 3, 3, 2, 1, 4, 1, 2, nan, nan, nan],
              [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, nan, 3],
              [nan, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, nan],
              [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, nan]]
    expected = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal")
    assert alpha_nominal(*_long(matrix)) == pytest.approx(expected, abs=1e-9)
    assert alpha_nominal(["a", "a", "b", "b"], ["x", "x", "y", "y"]) == pytest.approx(1.0)
    # Every item split evenly between two labels: worse than chance.
    assert alpha_nominal(["a", "a", "b", "b"], ["x", "y", "x", "y"]) < 0
    # Undefined: one item, or no variation at all.
    assert alpha_nominal(["a", "a"], ["x", "y"]) is None
    assert alpha_nominal(["a", "a", "b", "b"], ["x", "x", "x", "x"]) is None
    with pytest.raises(ValueError):
        alpha_nominal(["a"], ["x", "y"])
