"""Write-audit-publish: candidates are content-addressed, publishing is atomic, and LATEST
only ever names a complete, audited version."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest

from pipeline.final_preference_set.card_plots import FIGURES
from pipeline.final_preference_set.publish import (
    DATA_FILES,
    PublishRefused,
    current_candidate,
    latest_version,
    publications,
    publish,
    verify_candidate,
    write_candidate,
)

CONFIG = {"split": {"test_fraction": 0.1}}
PASSED = {"conservation": {"status": "passed", "run_id": "r1"}}


def _tables(n: int) -> dict[str, pa.Table]:
    turn = lambda text: [{"role": "assistant", "content": text}]  # noqa: E731
    rows = pa.table({"pair_id": [f"p{i}" for i in range(n)], "weight": [1.0] * n,
                     "chosen": [turn("a fairly long helpful answer " * (i + 1)) for i in range(n)],
                     "rejected": [turn("short") for _ in range(n)]})
    return {name: rows for name in DATA_FILES}


def test_same_rows_and_config_give_same_version_and_bytes(tmp_path):
    a = write_candidate(tmp_path / "s1", _tables(5), CONFIG, {"parent_version": None}, "card {{VERSION_ID}}")
    b = write_candidate(tmp_path / "s2", _tables(5), CONFIG, {"parent_version": None}, "card {{VERSION_ID}}")
    assert a.version_id == b.version_id
    for name in [f"{n}.parquet" for n in DATA_FILES] + ["manifest.json", "README.md", *FIGURES]:
        assert (a.path / name).read_bytes() == (b.path / name).read_bytes()
    assert a.version_id in (a.path / "README.md").read_text()


def test_rows_or_config_change_the_version(tmp_path):
    base = write_candidate(tmp_path / "s", _tables(5), CONFIG, {}, "")
    more = write_candidate(tmp_path / "s", _tables(6), CONFIG, {}, "")
    other = write_candidate(tmp_path / "s", _tables(5), {"split": {"test_fraction": 0.2}}, {}, "")
    assert len({base.version_id, more.version_id, other.version_id}) == 3


def test_the_engine_is_recorded_but_not_part_of_the_version(tmp_path):
    on_duckdb = {**CONFIG, "warehouse": {"engine": "duckdb", "threads": 2}}
    on_spark = {**CONFIG, "warehouse": {"engine": "spark", "threads": 2}}
    a = write_candidate(tmp_path / "s1", _tables(5), on_duckdb, {}, "")
    b = write_candidate(tmp_path / "s2", _tables(5), on_spark, {}, "")
    assert a.version_id == b.version_id
    assert json.loads((b.path / "manifest.json").read_text())["config"]["warehouse"]["engine"] == "spark"


def test_publish_moves_candidate_and_points_latest(tmp_path):
    staging, root = tmp_path / "staging", tmp_path / "datasets"
    candidate = write_candidate(staging, _tables(3), CONFIG, {}, "")
    assert current_candidate(staging) == candidate
    assert latest_version(root) is None
    target = publish(candidate, root, PASSED, run_id="r1", published_at="t1")
    assert target == root / candidate.version_id and target.is_dir() and not candidate.path.exists()
    assert latest_version(root) == candidate.version_id
    assert '"status": "passed"' in (target / "manifest.json").read_text()
    assert publications(root)[-1]["run_id"] == "r1"


def test_republishing_the_same_version_leaves_it_untouched(tmp_path):
    staging, root = tmp_path / "staging", tmp_path / "datasets"
    first = publish(write_candidate(staging, _tables(3), CONFIG, {}, ""), root, PASSED)
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in first.iterdir()}
    again = publish(write_candidate(staging, _tables(3), CONFIG, {}, ""), root, PASSED)
    assert again == first
    assert {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in first.iterdir()} == before


def test_an_unpublished_candidate_leaves_latest_alone(tmp_path):
    staging, root = tmp_path / "staging", tmp_path / "datasets"
    published = publish(write_candidate(staging, _tables(3), CONFIG, {}, ""), root, PASSED)
    blocked = write_candidate(staging, _tables(1), CONFIG, {}, "")
    assert latest_version(root) == published.name
    assert blocked.path.exists(), "a blocked candidate stays in staging for inspection"
    assert not (root / blocked.version_id).exists()


def test_figures_travel_with_the_version_and_are_listed_in_its_manifest(tmp_path):
    import json

    history = [("aaaaaaaa11111111", {"human_pairwise": 8, "ai_judge": 2})]
    c = write_candidate(tmp_path / "s", _tables(4), CONFIG, {"stats": {"label_source_mix": {"human_pairwise": 3}}},
                        "", label_history=history)
    manifest = json.loads((c.path / "manifest.json").read_text())
    assert set(manifest["figures"]) == set(FIGURES)
    for name in FIGURES:
        data = (c.path / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and 5_000 < len(data) < 100_000


@pytest.mark.parametrize("checks", [
    {},
    {"conservation": {"status": "failed"}},
    {"conservation": {"status": "passed"}, "gate_length_ratio": {"status": "never ran"}},
])
def test_publish_refuses_without_passing_evidence_and_leaves_latest(tmp_path, checks):
    staging, root = tmp_path / "staging", tmp_path / "datasets"
    first = publish(write_candidate(staging, _tables(3), CONFIG, {}, ""), root, PASSED)
    blocked = write_candidate(staging, _tables(4), CONFIG, {}, "")
    with pytest.raises(PublishRefused):
        publish(blocked, root, checks)
    assert latest_version(root) == first.name and not (root / blocked.version_id).exists()
    assert blocked.path.is_dir()


def test_an_accepted_check_publishes(tmp_path):
    staging, root = tmp_path / "staging", tmp_path / "datasets"
    candidate = write_candidate(staging, _tables(3), CONFIG, {}, "")
    publish(candidate, root, {"gate_category_shift": {"status": "accepted", "accepted_reason": "launch"}})
    assert latest_version(root) == candidate.version_id


def test_a_file_changed_after_writing_is_found(tmp_path):
    candidate = write_candidate(tmp_path / "s", _tables(3), CONFIG, {}, "")
    assert verify_candidate(candidate) == []
    import pyarrow.parquet as pq

    pq.write_table(_tables(2)["train"], candidate.path / "train.parquet")
    assert verify_candidate(candidate) == ["train.parquet differs from the digest in its manifest"]
