"""Blocking checks on filtering: every record of the day has one decision, and a dropped record its reason."""

from pipeline.core.checks import warehouse_suite
from pipeline.core.partitions import daily_partitions

WINDOW = "partition_date between ?::date and ?::date"

filtered_suite = warehouse_suite(
    "int_feedback__filtered",
    f"select record_id, kept, reason, kept = (reason is null) as decision_consistent "
    f"from int_feedback__filtered where {WINDOW}",
    daily_partitions,
)
