"""Blocking checks on capture: the day's events meet their GX suite, and the day's
quarantine share is within its gate."""


from typing import Any

from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetKey, asset_check

from pipeline.core import warehouse
from pipeline.core.checks import day_frames, gate_result, suite_check, warehouse_suite
from pipeline.core.config import load_config
from pipeline.core.gates import GateResult, apply_accepts, worst_share, z_value
from pipeline.core.partitions import daily_partitions, window_days

CAPTURE_FRAME_SQL = """
select record_id, event_id, event_type, user_id, consent_training, annotator_kind,
       label_score, content_hash,
       date_diff('day', cast(created_at as date), partition_date) as days_before_partition
from raw_feedback_events
where partition_date between ?::date and ?::date
"""


@asset_check(
    asset=AssetKey("raw_feedback_events"),
    partitions_def=daily_partitions,
    blocking=True,
    description="GX suite capture/expectations/raw_feedback_events.json on the day's captured events.",
)
def capture_suite(context: AssetCheckExecutionContext) -> AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        return suite_check("raw_feedback_events",
                           day_frames(con, CAPTURE_FRAME_SQL, window_days(context), "raw_feedback_events"))


def quarantine_share_gate(per_day: dict[str, tuple[int, int]], thresholds: dict[str, Any]) -> GateResult:
    """Capture's gate: (quarantined, captured) per landing day."""
    result = worst_share("quarantine_share", per_day, thresholds["quarantine_share_max"], z_value(thresholds))
    apply_accepts([result], thresholds.get("accept"))
    return result


@asset_check(
    asset=AssetKey("raw_feedback_events"),
    partitions_def=daily_partitions,
    blocking=True,
    description=(
        "Gate: share of the day's landing records quarantined (gates.quarantine_share_max; blocks when the "
        "share's Wilson interval lies above it)."
    ),
)
def gate_quarantine_share(context: AssetCheckExecutionContext) -> AssetCheckResult:
    days = window_days(context)
    with warehouse.connect(read_only=True) as con:
        per_day = con.execute(
            """
            with c as (
                select partition_date, 0 as q from raw_feedback_events where partition_date in (select unnest(?::date[]))
                union all
                select partition_date, 1 from raw_quarantine where partition_date in (select unnest(?::date[]))
            )
            select cast(partition_date as varchar), sum(q), count(*) from c group by 1 order by 1
            """,
            [days, days],
        ).fetchall()
    return gate_result(quarantine_share_gate({day: (int(q), n) for day, q, n in per_day}, load_config()["gates"]))


responses_suite = warehouse_suite(
    "raw_feedback_responses",
    # the suite needs to know a text is present, not the text: a million responses stay in DuckDB
    "select record_id, position, response_id, content is not null as content_present "
    "from raw_feedback_responses where partition_date between ?::date and ?::date",
    daily_partitions,
)
quarantine_suite = warehouse_suite(
    "raw_quarantine",
    "select record_id, source_file, source_line, reason, detail, raw_record from raw_quarantine "
    "where partition_date between ?::date and ?::date",
    daily_partitions,
)
deletions_suite = warehouse_suite("deletion_requests", "select user_id from deletion_requests")
