"""The daily partitions of the incremental stages (capture, staging, filtering, normalization)."""

from dagster import DailyPartitionsDefinition

from pipeline.config import definition_settings

daily_partitions = DailyPartitionsDefinition(
    start_date=definition_settings()["start_date"],
    timezone=definition_settings().get("timezone", "UTC"),
)
