"""Upsampling: train pairs weighted toward category targets, after labeling and the split
(dbt_project/models/intermediate/upsampling/); this folder holds its GX suite."""

from dagster import Definitions, load_asset_checks_from_modules


def defs() -> Definitions:
    from pipeline.upsampling import checks

    return Definitions(asset_checks=load_asset_checks_from_modules([checks]))
