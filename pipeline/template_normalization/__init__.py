"""Template normalization: every kept prompt, in whatever chat template it was rendered, as
canonical messages with a prompt hash (templates.py, normalize.py), PII screened (pii.py)."""

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules


def defs() -> Definitions:
    from pipeline.template_normalization import assets, checks

    return Definitions(assets=load_assets_from_modules([assets]), asset_checks=load_asset_checks_from_modules([checks]))
