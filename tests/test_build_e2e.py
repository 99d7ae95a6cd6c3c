"""End-to-end builds through Dagster on generated feedback: what a user relies on when they
run `prefline build`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from tests.homes import pointed_at
from tests.trl_rules import kto_row_problems, preference_row_problems

pytestmark = pytest.mark.slow

DAYS = ["2026-11-01", "2026-11-02"]


def _generate(home: Path, events_per_day: int = 400) -> None:
    from pipeline.synth.generate import write_landing

    write_landing(home / "landing", n=events_per_day, days=len(DAYS), start=date.fromisoformat(DAYS[0]), seed=11)


def _build(days=DAYS):
    from pipeline.cli.build import run_build

    return run_build(list(days))


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory):
    """One build shared by this module's tests; the test that adds a broken day runs last."""
    with pointed_at(tmp_path_factory.mktemp("e2e") / "home") as home:
        _generate(home)
        outcome = _build()
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        yield home, outcome


def _version_dir(home: Path, version: str) -> Path:
    return home / "datasets" / "preference_pairs" / version


def test_build_publishes_trl_ready_version(built):
    home, outcome = built
    root = home / "datasets" / "preference_pairs"
    assert (root / "LATEST").read_text().strip() == outcome.version_id
    vdir = _version_dir(home, outcome.version_id)
    for name in ("train.parquet", "test.parquet", "kto.parquet", "lineage.parquet", "rejected.parquet",
                 "manifest.json", "README.md"):
        assert (vdir / name).exists(), name

    from datasets import load_dataset

    ds = load_dataset("parquet", data_files={"train": str(vdir / "train.parquet"), "test": str(vdir / "test.parquet")})
    assert ds["train"].num_rows > 0 and ds["test"].num_rows > 0
    for split in ("train", "test"):
        for row in ds[split]:
            assert preference_row_problems(row) == [], row["pair_id"]
            assert row["source_event_ids"] and row["label_source"]
            assert row["weight"] > 0 and row["split"] == split
            if row["label_source"] == "ai_judge":
                assert row["judge_id"]
    kto = load_dataset("parquet", data_files=str(vdir / "kto.parquet"))["train"]
    assert kto.num_rows > 0
    assert {True, False} <= set(kto["label"])
    for row in kto:
        assert kto_row_problems(row) == []


def test_every_captured_record_ends_in_exactly_one_place(built):
    home, outcome = built
    vdir = _version_dir(home, outcome.version_id)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    captured = {r[0] for r in con.execute(
        "select record_id from raw_feedback_events union all select record_id from raw_quarantine").fetchall()}
    con.close()
    published = set(pq.read_table(vdir / "lineage.parquet", columns=["record_id"]).column(0).to_pylist())
    dropped = pq.read_table(vdir / "rejected.parquet", columns=["record_id", "reason"])
    dropped_ids = dropped.column("record_id").to_pylist()
    assert len(dropped_ids) == len(set(dropped_ids))
    assert published.isdisjoint(dropped_ids)
    assert published | set(dropped_ids) == captured
    assert all(dropped.column("reason").to_pylist())
    manifest = json.loads((vdir / "manifest.json").read_text())
    assert sum(manifest["ledger"]["places"].values()) == len(captured)
    assert "lost" not in manifest["ledger"]["places"]


def test_consent_and_deletions_never_reach_a_published_row(built):
    home, outcome = built
    vdir = _version_dir(home, outcome.version_id)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    lineage = str(vdir / "lineage.parquet")
    leaked = con.execute(
        f"""
        select count(*) from read_parquet('{lineage}') l
        join raw_feedback_events e on e.record_id = l.record_id
        where e.consent_training is distinct from true
           or e.user_id in (select user_id from deletion_requests)
        """
    ).fetchone()[0]
    opted_out = con.execute("select count(*) from raw_feedback_events where not consent_training").fetchone()[0]
    deleted = con.execute(
        "select count(*) from raw_feedback_events where user_id in (select user_id from deletion_requests)"
    ).fetchone()[0]
    con.close()
    assert opted_out > 0 and deleted > 0, "the generated sample must exercise both filters"
    assert leaked == 0


def test_rebuild_gives_the_same_version_and_bytes(built):
    home, outcome = built
    vdir = _version_dir(home, outcome.version_id)
    before = {p.name: p.read_bytes() for p in vdir.iterdir()}
    again = _build()
    assert again.success and again.version_id == outcome.version_id
    assert {p.name: p.read_bytes() for p in vdir.iterdir()} == before


def _materializations(home: Path, run_ids: list[str]) -> list:
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(str(home / "dagster")) as instance:
        return [event.asset_materialization for run_id in run_ids
                for event in instance.all_logs(run_id, of_type=DagsterEventType.ASSET_MATERIALIZATION)]


def _canonical_rows(home: Path) -> dict[str, tuple[int, str]]:
    """Per day of int_events__canonical: (rows, the dbt invocation that computed them)."""
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        rows = con.execute("select partition_date, count(*), min(computed_in_invocation), "
                           "count(distinct computed_in_invocation) from int_events__canonical group by 1").fetchall()
    finally:
        con.close()
    assert all(n_invocations == 1 for *_, n_invocations in rows), "a day was computed in parts"
    return {str(day): (n, invocation) for day, n, invocation, _ in rows}


def test_a_nightly_build_touches_only_its_day_and_reuses_cached_work(built):
    home, outcome = built
    canonical_before = _canonical_rows(home)
    nightly = _build([DAYS[-1]])
    assert nightly.success and nightly.version_id == outcome.version_id
    # The day was captured and normalized again with the same content: its content keys stand.
    assert _canonical_rows(home) == canonical_before
    mats = _materializations(home, nightly.run_ids)
    partitions = {m.partition for m in mats if m.partition is not None}
    assert partitions == {DAYS[-1]}, "an unchanged earlier day was rebuilt"
    assert any(m.asset_key.path[-1] == "raw_feedback_events" for m in mats)
    judge = next(m for m in mats if m.asset_key.path[-1] == "judge_verdicts")
    assert judge.metadata["judge_calls"].value == 0 and judge.metadata["cache_hits"].value > 0
    clusters = next(m for m in mats if m.asset_key.path[-1] == "prompt_clusters")
    assert clusters.metadata["signed"].value == 0 and clusters.metadata["compared"].value == 0
    assert clusters.metadata["reused"].value == clusters.metadata["prompts"].value > 0


def test_a_changed_day_alone_is_keyed_again(built, tmp_path):
    """The incremental dedup input recomputes exactly the days whose inputs changed."""
    home = tmp_path / "home"
    shutil.copytree(built[0], home)
    with pointed_at(home):
        before = _canonical_rows(home)
        changed, unchanged = DAYS[0], DAYS[1]
        dropped = sorted((home / "landing" / changed).iterdir())[0]
        dropped.unlink()
        (home / "prefline.yaml").write_text(
            "gates:\n  accept:\n  - {gate: row_count_drop, reason: the test removes a landing file}\n")
        outcome = _build([changed])
        assert outcome.success, (outcome.blocked, outcome.failed_steps)
        after = _canonical_rows(home)
        assert after[unchanged] == before[unchanged], "an unchanged day was recomputed"
        assert after[changed][0] < before[changed][0], "the day lost a landing file but kept its rows"
        assert after[changed][1] != before[changed][1], "the changed day's rows were not rewritten"

        # The canonical suite compares every day with its inputs: a stale day fails it.
        from pipeline.core.checks import suite_check
        from pipeline.dedup.checks import CANONICAL_PER_DAY_SQL

        con = duckdb.connect(str(home / "warehouse.duckdb"))
        try:
            assert suite_check("int_events__canonical", con.execute(CANONICAL_PER_DAY_SQL).df()).passed
            con.execute("delete from int_events__canonical where record_id in "
                        "(select record_id from int_events__canonical where partition_date = ? limit 3)", [unchanged])
            stale = suite_check("int_events__canonical", con.execute(CANONICAL_PER_DAY_SQL).df())
        finally:
            con.close()
        assert not stale.passed and "missing_records" in stale.description


def test_no_near_duplicate_cluster_straddles_train_and_test(built):
    home, outcome = built
    vdir = _version_dir(home, outcome.version_id)
    con = duckdb.connect()
    straddling = con.execute(
        f"""select count(*) from (
              select cluster_id from read_parquet('{vdir / "lineage.parquet"}')
              group by cluster_id having count(distinct split) > 1)"""
    ).fetchone()[0]
    near = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True).execute(
        "select count(*) from prompt_clusters where prompt_hash <> cluster_id").fetchone()[0]
    assert straddling == 0 and near > 0


def _dbt_unit_tests(home: Path, tmp_path: Path, vars_: dict | None = None) -> dict[str, str]:
    """dbt's unit tests of the SQL rules, run in-process on the built warehouse (its tables give
    the mocked inputs their column types): test name -> status."""
    import json as json_

    from dbt.cli.main import dbtRunner

    from pipeline.core.dbt_run import _close_duckdb
    from pipeline.core.paths import DBT_PROJECT_DIR

    results: dict[str, str] = {}

    def collect(msg) -> None:
        if msg.info.name == "LogTestResult":
            results[msg.data.name.split("::")[-1]] = msg.data.status

    args = ["test", "--select", "test_type:unit", "--project-dir", str(DBT_PROJECT_DIR),
            "--profiles-dir", str(DBT_PROJECT_DIR), "--target-path", str(tmp_path / "target"),
            "--log-path", str(tmp_path / "target"), "--quiet"]
    if vars_:
        args += ["--vars", json_.dumps(vars_)]
    try:
        dbtRunner(callbacks=[collect]).invoke(args)
    finally:
        _close_duckdb()
    return results


def test_the_sql_rules_pass_their_dbt_unit_tests(built, tmp_path):
    home, _ = built
    results = _dbt_unit_tests(home, tmp_path)
    assert set(results) == {
        "the_split_follows_the_cluster_not_the_row", "a_larger_test_fraction_moves_more_clusters_to_test",
        "every_event_left_out_of_pairs_says_why", "ratings_on_one_prompt_pair_by_score_gap_and_equal_scores_never_pair",
        "votes_on_one_comparison_are_one_pair_by_majority_and_a_tie_has_no_majority",
        "one_comparison_is_one_pair_whichever_rules_built_it",
        "flagged_annotators_votes_count_by_their_weight_and_held_out_votes_are_left_out",
        "an_annotator_who_disagrees_with_the_peer_majority_is_flagged_and_weighted_down",
    }
    assert set(results.values()) == {"pass"}, results
    # A rule changed under the tests fails them: with a minimum rating gap of 3, 5 vs 3 is no pair.
    changed = _dbt_unit_tests(home, tmp_path, {"rating_min_gap": 3})
    assert changed["ratings_on_one_prompt_pair_by_score_gap_and_equal_scores_never_pair"] == "fail", changed


def test_dagster_cli_validates_and_materializes_a_partition(built, tmp_path):
    # A copy of the built home, so the CLI's process owns its warehouse outright.
    home = tmp_path / "home"
    shutil.copytree(built[0], home)
    outcome = built[1]
    bin_dir = Path(sys.executable).parent
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PREFLINE_HOME": str(home),
           "DAGSTER_HOME": str(home / "dagster")}
    validate = subprocess.run([str(bin_dir / "dagster"), "definitions", "validate", "-m", "pipeline.definitions"],
                              capture_output=True, text=True, env=env, timeout=300)
    assert validate.returncode == 0, validate.stderr[-2000:]
    run = subprocess.run([str(bin_dir / "dagster"), "asset", "materialize", "-m", "pipeline.definitions",
                          "--select", "*", "--partition", DAYS[-1]],
                         capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    latest = (home / "datasets" / "preference_pairs" / "LATEST").read_text().strip()
    assert latest == outcome.version_id, "the CLI rebuild of an unchanged day gives the same version"


def test_trace_a_published_pair_and_a_dropped_event(built):
    home, outcome = built
    from pipeline.cli.trace import render, trace
    from pipeline.core import warehouse

    vdir = _version_dir(home, outcome.version_id)
    lineage = pq.read_table(vdir / "lineage.parquet").to_pylist()
    pair = next(r for r in lineage if r["row_kind"] == "pair" and r["pair_rule"] == "rating_gap")
    rejected = pq.read_table(vdir / "rejected.parquet").to_pylist()
    dropped = next(r for r in rejected if r["reason"] == "consent")
    with warehouse.connect(read_only=True) as con:
        traced = trace(con, pair["row_id"], home / "datasets" / "preference_pairs")
        event = trace(con, dropped["event_id"], home / "datasets" / "preference_pairs")
    expected_records = {r["record_id"] for r in lineage if r["row_id"] == pair["row_id"]}
    assert traced["kind"] == "pair" and traced["published_in"] == [outcome.version_id]
    assert {s["record_id"] for s in traced["sources"]} == expected_records and len(expected_records) == 2
    stages = {st["stage"] for s in traced["sources"] for st in s["stages"]}
    assert {"filtering", "template_normalization", "dedup", "pair_construction", "judge_labeling",
            "final_preference_set"} <= stages
    assert traced["row"]["label_source"] == "human_rating"
    text = render(event)
    assert "filtering: kept=False, reason=consent" in text and "published in: none" in text
    assert dropped["source_file"] in text


def test_forget_rebuild_diff_and_republish(built):
    home, outcome = built
    from pipeline.cli.build import run_build
    from pipeline.cli.diff import diff_versions
    from pipeline.cli.forget import deleted_users, record_deletion, republish_without, versions_with_users
    from pipeline.cli.versions import list_versions
    from pipeline.core import warehouse

    root = home / "datasets" / "preference_pairs"
    vdir = _version_dir(home, outcome.version_id)
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    user = con.execute(
        f"""select e.user_id from read_parquet('{vdir / "lineage.parquet"}') l
            join raw_feedback_events e using (record_id) where l.row_kind = 'pair'
            group by 1 order by count(*) desc, 1 limit 1"""
    ).fetchone()[0]
    user_rows = {r[0] for r in con.execute(
        f"""select distinct l.row_id from read_parquet('{vdir / "lineage.parquet"}') l
            join raw_feedback_events e using (record_id) where e.user_id = ?""", [user]).fetchall()}
    con.close()

    record_deletion(home / "control", user, "test request")
    with warehouse.connect(read_only=True) as con:
        assert versions_with_users(con, root, {user}) == {outcome.version_id: len(user_rows)}

    rebuilt = run_build([DAYS[-1]])
    assert rebuilt.success and rebuilt.version_id != outcome.version_id
    diff = diff_versions(root, outcome.version_id, rebuilt.version_id)
    removed = {r["row_id"] for r in diff["removed"]}
    # Rows built only with the user's events are gone; a row another user's events also back
    # (two raters, one rating pair) stays, without the user's event in its lineage.
    assert removed and removed <= user_rows
    assert all(any(reason.endswith(":deletion") for reason in r["reasons"]) for r in diff["removed"])
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    leaked = con.execute(
        f"""select count(*) from read_parquet('{root / rebuilt.version_id / "lineage.parquet"}') l
            join raw_feedback_events e using (record_id) where e.user_id = ?""", [user]).fetchone()[0]
    con.close()
    assert leaked == 0

    with warehouse.connect(read_only=True) as con:
        result = republish_without(con, root, outcome.version_id, deleted_users(home / "control"))
    successor = root / result["successor"]
    assert user_rows.isdisjoint(pq.read_table(successor / "lineage.parquet").column("row_id").to_pylist())
    manifest = json.loads((successor / "manifest.json").read_text())
    assert manifest["parent_version"] == outcome.version_id
    assert (root / "LATEST").read_text().strip() == rebuilt.version_id, "republishing an old version leaves LATEST"
    assert (root / outcome.version_id).exists(), "the old folder is left for the operator"
    listed = [v["version"] for v in list_versions(root)]
    assert listed[0] == result["successor"] and set(listed) == {outcome.version_id, rebuilt.version_id,
                                                                result["successor"]}


def test_a_broken_capture_day_blocks_the_set_and_keeps_latest(built):
    home, outcome = built
    latest = home / "datasets" / "preference_pairs" / "LATEST"
    before = latest.read_text()
    broken = home / "landing" / "2026-11-03"
    broken.mkdir()
    good = next((home / "landing" / DAYS[0]).glob("*.jsonl"))  # the generator writes one plain jsonl a day
    lines = good.read_text().splitlines()[:50]
    # Half the day is truncated JSON: far above the quarantine-share gate.
    (broken / "events.jsonl").write_text(
        "\n".join(line if i % 2 else line[: len(line) // 2] for i, line in enumerate(lines)) + "\n"
    )
    blocked = _build(["2026-11-03"])
    assert not blocked.success
    assert any("gate_quarantine_share" in b for b in blocked.blocked), blocked.blocked
    assert latest.read_text() == before


def test_a_day_normalized_in_slices_equals_the_day_at_once(built):
    """Large days are normalized slice by slice to bound memory; the slices add up to the day."""
    from pipeline.template_normalization.normalize import normalize_day

    home, _ = built
    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        whole = normalize_day(con, DAYS[0])
        sliced = normalize_day(con, DAYS[0], chunk_events=60)
        stored = con.execute("select * from normalized_events where partition_date = ?::date order by record_id",
                             [DAYS[0]]).to_arrow_table()
    finally:
        con.close()
    for name, table in whole.items():
        assert table.num_rows > 0 or name == "normalization_rejections"
        key = ["record_id", "position"] if name == "normalized_responses" else ["record_id"]
        assert sliced[name].sort_by([(k, "ascending") for k in key]).equals(
            table.sort_by([(k, "ascending") for k in key])), name
    assert whole["normalized_events"].sort_by("record_id").select(stored.column_names).equals(stored)
