"""Pair construction: pairwise, edit, rating and thumbs events into (chosen, rejected) pairs and
KTO rows, split by near-duplicate cluster (dbt_project/models/intermediate/pair_construction/);
this folder holds their GX suites and the trainer-readiness token counts
(trainer_readiness.py)."""

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules


def defs() -> Definitions:
    from pipeline.pair_construction import checks, trainer_readiness

    return Definitions(assets=load_assets_from_modules([trainer_readiness]),
                       asset_checks=load_asset_checks_from_modules([checks]))
