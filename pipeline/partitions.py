"""The daily partitions of the incremental stages (capture, staging, filtering, normalization)."""

from dagster import DailyPartitionsDefinition

from pipeline.config import definition_settings

daily_partitions = DailyPartitionsDefinition(
    start_date=definition_settings()["start_date"],
    timezone=definition_settings().get("timezone", "UTC"),
)


def window_days(context) -> list[str]:
    """The days of a run's partition window: one day, or a range in a single-run backfill."""
    return list(context.partition_keys)


def window_bounds(context) -> tuple[str, str]:
    days = window_days(context)
    return days[0], days[-1]
