"""Raw feedback capture: a day's landing files read against the event contract into events,
responses and quarantine (landing.py, contract.py), and the deletion requests (deletions.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import Definitions


def defs() -> Definitions:
    # Dagster is imported here, not with the package: capture's worker processes import
    # landing.py alone, and importing Dagster costs each of them ~1.5 CPU seconds.
    from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules

    from pipeline.capture import assets, checks

    return Definitions(assets=load_assets_from_modules([assets]), asset_checks=load_asset_checks_from_modules([checks]))
