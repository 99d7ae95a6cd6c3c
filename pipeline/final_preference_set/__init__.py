"""Final preference set, write-audit-publish: the candidate version written aside (export.py,
manifest.py, card_plots.py), audited by blocking checks (checks.py, gates.py) and published
only on recorded evidence (evidence.py, audit.py, publish.py)."""

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules


def defs() -> Definitions:
    from pipeline.final_preference_set import assets, checks

    return Definitions(assets=load_assets_from_modules([assets]), asset_checks=load_asset_checks_from_modules([checks]))
