"""Judge labeling: pairs nobody labeled get a judge verdict in both orders (labeling.py, judges/);
human test pairs are judged blind to measure agreement and bias (the Judge resource: resources.py)."""

from dagster import Definitions, load_asset_checks_from_modules, load_assets_from_modules


def defs() -> Definitions:
    from pipeline.core.config import load_config
    from pipeline.judge_labeling import assets, checks
    from pipeline.judge_labeling.resources import JudgeResource

    return Definitions(
        assets=load_assets_from_modules([assets]),
        asset_checks=load_asset_checks_from_modules([checks]),
        resources={"judge": JudgeResource.from_config(load_config())},
    )
