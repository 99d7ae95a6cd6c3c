"""Inter-annotator agreement: Krippendorff's alpha (nominal) over items with two or more labels.

Columnar: one pass builds the items x categories count matrix with numpy, then

    D_o = (1/n) * sum_u (m_u^2 - sum_c n_uc^2) / (m_u - 1)
    D_e = (n^2 - sum_c n_c^2) / (n (n - 1))
    alpha = 1 - D_o / D_e

where n_uc counts item u's labels of category c, m_u = sum_c n_uc (only items with m_u >= 2
are pairable) and n_c = sum_u n_uc over those items (Krippendorff 2011, "Computing
Krippendorff's Alpha-Reliability"). Missing labels are simply absent rows.
"""

from __future__ import annotations

import numpy as np


def alpha_nominal(items, labels) -> float | None:
    """Alpha for parallel arrays of item keys and labels (any hashable dtype numpy can sort).
    None when fewer than two items have two labels or every pairable label is the same
    category (alpha is undefined: no expected disagreement)."""
    items = np.asarray(items)
    labels = np.asarray(labels)
    if items.shape != labels.shape:
        raise ValueError(f"items and labels differ in length: {items.shape} vs {labels.shape}")
    if items.size == 0:
        return None
    _, item_idx = np.unique(items, return_inverse=True)
    _, label_idx = np.unique(labels, return_inverse=True)
    counts = np.zeros((item_idx.max() + 1, label_idx.max() + 1), dtype=np.float64)
    np.add.at(counts, (item_idx, label_idx), 1.0)
    m = counts.sum(axis=1)
    counts, m = counts[m >= 2], m[m >= 2]
    n = m.sum()
    if len(m) < 2:
        return None
    n_c = counts.sum(axis=0)
    d_expected = (n * n - np.square(n_c).sum()) / (n * (n - 1))
    if d_expected == 0:
        return None
    d_observed = ((m * m - np.square(counts).sum(axis=1)) / (m - 1)).sum() / n
    return float(1.0 - d_observed / d_expected)
