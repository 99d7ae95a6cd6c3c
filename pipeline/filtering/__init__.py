"""Filtering: consent, deletion requests, length, language and redelivery decisions, one per
captured record (dbt_project/models/intermediate/filtering/); this folder holds their GX suite."""

from dagster import Definitions, load_asset_checks_from_modules


def defs() -> Definitions:
    from pipeline.filtering import checks

    return Definitions(asset_checks=load_asset_checks_from_modules([checks]))
