"""The build job: every asset, for one landing day (or a range of them)."""

from dagster import AssetSelection, define_asset_job

build_job = define_asset_job(
    name="build",
    selection=AssetSelection.all(),
    description=(
        "One day's capture, staging, filtering and normalization, then the window build: dedup, "
        "pairs, judge labels, upsampling and the audited preference set."
    ),
)
