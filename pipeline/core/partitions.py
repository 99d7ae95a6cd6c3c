"""The daily partitions of the incremental stages (capture, staging, filtering, normalization).

A partition is a landing day: `landing/<YYYY-MM-DD>/`. The partitions are Dagster dynamic
partitions, added as landing days appear — by `prefline build`, by the sensor that watches the
landing folder and by the nightly schedule — so the catalog shows the days that exist, from an
export of 2023 to today, and nothing else. Nothing scans the landing folder at import.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

from dagster import DagsterInstance, DynamicPartitionsDefinition

LANDING_DAYS = "landing_days"

daily_partitions = DynamicPartitionsDefinition(name=LANDING_DAYS)


def is_day(name: str) -> bool:
    try:
        return date.fromisoformat(name).isoformat() == name
    except ValueError:
        return False


def landing_days(landing_root: Path) -> list[str]:
    """The landing day folders that exist, in date order."""
    if not landing_root.is_dir():
        return []
    return sorted(p.name for p in landing_root.iterdir() if p.is_dir() and is_day(p.name))


def register_days(instance: DagsterInstance, days: list[str]) -> list[str]:
    """Add the days that are not yet partitions (in date order); returns the ones added."""
    known = set(instance.get_dynamic_partitions(LANDING_DAYS))
    new = sorted(set(days) - known)
    if new:
        instance.add_dynamic_partitions(LANDING_DAYS, new)
    return new


def window_days(context) -> list[str]:
    """The days of a run's partition window, in date order: one day, or a range in a
    single-run backfill."""
    return sorted(context.partition_keys)


def window_bounds(context) -> tuple[str, str]:
    """First and last day of the window, for SQL that selects `between` them. A range of
    dynamic partitions that skips a calendar day recomputes that day too, with the same result
    (`prefline build` runs only consecutive days together)."""
    days = window_days(context)
    return days[0], days[-1]
