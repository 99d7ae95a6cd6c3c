"""Dedup: near-duplicate prompt clusters by MinHash/LSH (minhash.py, clusters.py), eval-set
decontamination (decontam.py), and exact duplicates in SQL (dbt_project/models/intermediate/dedup/)."""

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules


def defs() -> Definitions:
    from pipeline.dedup import assets, checks

    return Definitions(assets=load_assets_from_modules([assets]), asset_checks=load_asset_checks_from_modules([checks]))
