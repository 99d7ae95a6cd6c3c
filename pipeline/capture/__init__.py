"""Raw feedback capture: a day's landing files read against the event contract into events,
responses and quarantine (landing.py, contract.py), and the deletion requests (deletions.py)."""

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules


def defs() -> Definitions:
    from pipeline.capture import assets, checks

    return Definitions(assets=load_assets_from_modules([assets]), asset_checks=load_asset_checks_from_modules([checks]))
