"""Blocking checks on upsampling: positive weights, and test pairs never up-weighted."""

from pipeline.core.checks import warehouse_suite

weighted_suite = warehouse_suite(
    "int_pairs__weighted",
    "select weight, category_weight, split, split = 'train' or category_weight = 1 as test_unweighted "
    "from int_pairs__weighted",
)
