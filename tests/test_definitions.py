"""The asset graph as a reviewed snapshot: a change in lineage shows up as a diff of
tests/snapshots/asset_graph.txt, and the stages keep their order."""

from __future__ import annotations

import os
from datetime import UTC
from pathlib import Path

SNAPSHOT = Path(__file__).parent / "snapshots" / "asset_graph.txt"


def render_graph() -> str:
    from pipeline.definitions import load_defs

    graph = load_defs().resolve_asset_graph()
    lines = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        parents = ", ".join(sorted(p.to_user_string() for p in node.parent_keys))
        partitioned = "daily" if node.partitions_def is not None else "window"
        checks = ", ".join(sorted(c.name for c in node.check_keys))
        lines.append(f"{key.to_user_string()} [{node.group_name}, {partitioned}] <- {parents or '-'}")
        if checks:
            lines.append(f"    checks: {checks}")
    return "\n".join(lines) + "\n"


def test_asset_graph_matches_snapshot():
    rendered = render_graph()
    if os.environ.get("PREFLINE_UPDATE_SNAPSHOTS"):
        SNAPSHOT.parent.mkdir(exist_ok=True)
        SNAPSHOT.write_text(rendered)
    assert SNAPSHOT.exists(), f"no reviewed snapshot at {SNAPSHOT}: write it with PREFLINE_UPDATE_SNAPSHOTS=1 and review it"
    assert rendered == SNAPSHOT.read_text(), "asset graph changed: review and rerun with PREFLINE_UPDATE_SNAPSHOTS=1"


def test_stages_are_groups_in_design_order():
    from pipeline.definitions import load_defs

    graph = load_defs().resolve_asset_graph()
    group = {k.to_user_string(): graph.get(k).group_name for k in graph.get_all_asset_keys()}
    assert group["raw_feedback_events"] == "capture"
    assert group["stg_feedback__events"] == "staging"
    assert group["int_feedback__filtered"] == "filtering"
    assert group["normalized_events"] == "template_normalization"
    assert group["int_events__deduped"] == "dedup"
    assert group["int_pairs__candidates"] == "pair_construction"
    assert group["judge_verdicts"] == "judge_labeling"
    assert group["int_pairs__weighted"] == "upsampling"
    assert group["preference_set"] == "final_preference_set"

    # normalization before dedup; labeling and split before upsampling
    from dagster import AssetKey, AssetSelection

    ups = AssetSelection.assets(AssetKey("int_pairs__weighted")).upstream().resolve(graph)
    assert AssetKey("judge_verdicts") in ups and AssetKey("int_pairs__candidates") in ups
    dedup_ups = AssetSelection.assets(AssetKey("int_events__deduped")).upstream().resolve(graph)
    assert AssetKey("normalized_events") in dedup_ups


def test_nightly_schedule_builds_yesterday_and_the_sensor_adds_new_days(tmp_path, monkeypatch):
    from datetime import datetime

    from dagster import build_schedule_context, build_sensor_context, instance_for_test

    from pipeline.core.partitions import LANDING_DAYS
    from pipeline.orchestration.schedules import nightly_build
    from pipeline.orchestration.sensors import new_landing_day

    monkeypatch.setenv("PREFLINE_HOME", str(tmp_path))
    night = datetime(2026, 11, 24, 2, tzinfo=UTC)
    with instance_for_test() as instance:
        skipped = nightly_build(build_schedule_context(instance=instance, scheduled_execution_time=night))
        assert "no landing folder for 2026-11-23" in skipped.skip_message
        (tmp_path / "landing" / "2026-11-23").mkdir(parents=True)
        request = nightly_build(build_schedule_context(instance=instance, scheduled_execution_time=night))
        assert request.partition_key == "2026-11-23"
        assert instance.get_dynamic_partitions(LANDING_DAYS) == ["2026-11-23"]

    (tmp_path / "landing" / "2026-11-20").mkdir(parents=True)
    (tmp_path / "landing" / "notes").mkdir()
    first = new_landing_day(build_sensor_context(cursor="2026-11-23"))
    assert [r.partition_key for r in first.run_requests] == ["2026-11-20"]
    assert [r.partition_keys for r in first.dynamic_partitions_requests] == [["2026-11-20"]]
    again = new_landing_day(build_sensor_context(cursor="2026-11-20,2026-11-23"))
    assert "no new day" in again.skip_message
