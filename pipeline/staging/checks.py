"""Blocking checks on staging: the GX suites of the typed, flattened views of capture's tables."""

from pipeline.core.checks import warehouse_suite
from pipeline.core.partitions import daily_partitions

WINDOW = "partition_date between ?::date and ?::date"

stg_events_suite = warehouse_suite(
    "stg_feedback__events",
    f"select record_id, event_type, annotator_kind, category, policy_version from stg_feedback__events where {WINDOW}",
    daily_partitions,
)

stg_responses_suite = warehouse_suite(
    "stg_feedback__responses",
    f"select record_id, position, content_chars from stg_feedback__responses where {WINDOW}",
    daily_partitions,
)

stg_deletions_suite = warehouse_suite("stg_control__deletions", "select user_id from stg_control__deletions")
