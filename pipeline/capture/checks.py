"""Blocking checks on capture: the day's events meet their GX suite, and the day's
quarantine share is within its gate."""


from dagster import AssetCheckExecutionContext, AssetCheckResult, AssetKey, asset_check

from pipeline import warehouse
from pipeline.checks_common import gate_check, suite_check
from pipeline.config import load_config
from pipeline.partitions import daily_partitions

CAPTURE_FRAME_SQL = """
select record_id, event_id, event_type, user_id, consent_training, annotator_kind,
       label_score, content_hash,
       date_diff('day', cast(created_at as date), partition_date) as days_before_partition
from raw_feedback_events
where partition_date = ?::date
"""


@asset_check(
    asset=AssetKey("raw_feedback_events"),
    partitions_def=daily_partitions,
    blocking=True,
    description="GX suite expectations/raw_feedback_events.json on the day's captured events.",
)
def capture_suite(context: AssetCheckExecutionContext) -> AssetCheckResult:
    with warehouse.connect(read_only=True) as con:
        frame = con.execute(CAPTURE_FRAME_SQL, [context.partition_key]).df()
    return suite_check("raw_feedback_events", frame)


@asset_check(
    asset=AssetKey("raw_feedback_events"),
    partitions_def=daily_partitions,
    blocking=True,
    description="Gate: share of the day's landing records quarantined (gates.quarantine_share_max).",
)
def capture_quarantine_share(context: AssetCheckExecutionContext) -> AssetCheckResult:
    day = context.partition_key
    with warehouse.connect(read_only=True) as con:
        n_events, n_quarantined = con.execute(
            """
            select (select count(*) from raw_feedback_events where partition_date = ?::date),
                   (select count(*) from raw_quarantine where partition_date = ?::date)
            """,
            [day, day],
        ).fetchone()
    total = n_events + n_quarantined
    share = n_quarantined / total if total else 0.0
    return gate_check(
        "quarantine_share",
        share,
        load_config()["gates"]["quarantine_share_max"],
        quarantined=int(n_quarantined),
        captured=int(total),
    )
