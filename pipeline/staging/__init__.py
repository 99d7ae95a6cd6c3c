"""Staging: dbt views that type and flatten the tables the Python stages write
(dbt_project/models/staging/<producing stage>/); this folder holds their GX suites."""

from dagster import Definitions, load_asset_checks_from_modules


def defs() -> Definitions:
    from pipeline.staging import checks

    return Definitions(asset_checks=load_asset_checks_from_modules([checks]))
