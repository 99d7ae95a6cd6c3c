"""The figures beside the dataset card: drawn from train.parquet by DuckDB, valid small PNGs,
the same bytes on every rebuild, listed in the manifest and shown by the card."""

from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.core.hashing import md5_hex
from pipeline.final_preference_set import card_plots
from pipeline.final_preference_set.card_plots import FIGURES, length_histogram, write_figures
from pipeline.final_preference_set.manifest import render_card
from pipeline.final_preference_set.publish import DATA_FILES, write_candidate

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
HISTORY = [
    ("aaaaaaaa11111111", {"human_pairwise": 80, "human_rating": 20}),
    ("bbbbbbbb22222222", {"human_pairwise": 60, "human_rating": 25, "ai_judge": 15}),
    ("cccccccc33333333", {"human_pairwise": 50, "ai_judge": 30, "ai_annotator": 10, "human_edit": 10}),
]


def _turn(text: str) -> list[dict[str, str]]:
    return [{"role": "assistant", "content": text}]


def _train(n: int = 60) -> pa.Table:
    rng = np.random.default_rng(0)
    chosen = [int(x) for x in rng.lognormal(6.0, 0.8, n)]
    rejected = [int(x) for x in rng.lognormal(5.0, 0.9, n)]
    rows = {
        "prompt": [[{"role": "user", "content": f"question {i}"}] for i in range(n)],
        "chosen": [_turn("c" * k) for k in chosen],
        "rejected": [_turn("r" * k) for k in rejected],
        "pair_id": [f"p{i:03d}" for i in range(n)],
        "replica_index": [0] * n,
        "weight": [1.0] * n,
    }
    table = pa.table(rows)
    # An up-weighted copy of the first pair: counted once in the length figure.
    replica = table.slice(0, 1).set_column(4, "replica_index", pa.array([1], pa.int64()))
    return pa.concat_tables([table, replica])


@pytest.fixture
def version_folder(tmp_path):
    folder = tmp_path / "v"
    folder.mkdir()
    pq.write_table(_train(), folder / "train.parquet")
    return folder


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    assert data[:8] == PNG_SIGNATURE
    out, pos = [], 8
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        out.append((kind, body))
        pos += 12 + length
    return out


def test_lengths_are_binned_by_duckdb_with_the_right_medians_and_replicas_once(version_folder):
    hist = length_histogram(version_folder / "train.parquet")
    table = _train().slice(0, 60)  # without the replica
    chosen = [len(m[-1]["content"]) for m in table["chosen"].to_pylist()]
    rejected = [len(m[-1]["content"]) for m in table["rejected"].to_pylist()]
    assert hist.n == 60
    assert hist.counts["chosen"].sum() == 60 and hist.counts["rejected"].sum() == 60
    assert hist.median["chosen"] == pytest.approx(np.median(chosen))
    assert hist.median["rejected"] == pytest.approx(np.median(rejected))
    assert hist.edges[0] == 1 and hist.edges[-1] >= max(chosen + rejected)
    # The same bins numpy would give.
    expected, _ = np.histogram(chosen, bins=hist.edges)
    assert np.abs(hist.counts["chosen"] - expected).sum() <= 2  # at most a value on a bin edge


def test_an_empty_train_split_still_draws(tmp_path):
    folder = tmp_path / "empty"
    folder.mkdir()
    pq.write_table(_train().slice(0, 0), folder / "train.parquet")
    assert write_figures(folder, [("dddddddd44444444", {})]) == list(FIGURES)
    assert all((folder / name).read_bytes()[:8] == PNG_SIGNATURE for name in FIGURES)


def test_figures_are_small_valid_pngs_without_dates_or_software(version_folder):
    write_figures(version_folder, HISTORY)
    for name in FIGURES:
        data = (version_folder / name).read_bytes()
        assert 5_000 < len(data) < 100_000, (name, len(data))
        chunks = _chunks(data)
        kinds = [k for k, _ in chunks]
        assert kinds[0] == b"IHDR" and kinds[-1] == b"IEND" and b"IDAT" in kinds
        width, height = struct.unpack(">II", chunks[0][1][:8])
        assert (width, height) == (640, 340)
        assert b"tIME" not in kinds
        text = b"".join(body for kind, body in chunks if kind in (b"tEXt", b"iTXt", b"zTXt"))
        assert b"Software" not in text and b"Date" not in text


def test_figures_are_the_same_bytes_on_every_rebuild_even_in_a_fresh_process(tmp_path, version_folder):
    write_figures(version_folder, HISTORY)
    again = tmp_path / "again"
    again.mkdir()
    (again / "train.parquet").write_bytes((version_folder / "train.parquet").read_bytes())
    subprocess.run(
        [sys.executable, "-c",
         "import json, sys; from pathlib import Path; from pipeline.final_preference_set.card_plots import write_figures; "
         "write_figures(Path(sys.argv[1]), [tuple(h) for h in json.loads(sys.argv[2])])",
         str(again), json.dumps(HISTORY)],
        check=True,
    )
    for name in FIGURES:
        assert (version_folder / name).read_bytes() == (again / name).read_bytes(), name


def test_label_sources_show_at_most_ten_versions_ending_with_this_one(version_folder, monkeypatch):
    drawn = []
    monkeypatch.setattr(card_plots, "plot_label_sources", lambda history, path: drawn.append(history))
    history = [(f"{i:016x}", {"human_pairwise": i + 1}) for i in range(15)]
    write_figures(version_folder, history)
    assert [v for v, _ in drawn[0]] == [v for v, _ in history[-10:]]


def _tables() -> dict[str, pa.Table]:
    train = _train()
    return {name: train for name in DATA_FILES}


def _card_manifest() -> dict:
    return {
        "parent_version": None,
        "partitions": ["2026-11-01"],
        "code": {"git_commit": None},
        "stats": {
            "pairs": {"train": 60, "test": 0},
            "kto": {"desirable": 1},
            "label_source_mix": {"human_pairwise": 40, "ai_judge": 20},
            "category_mix": {"general": 60},
            "audit_flags": {},
            "length": {"chosen_longer_share": 0.8, "mean_chosen_chars": 500.0, "mean_rejected_chars": 200.0},
        },
        "ledger": {"places": {"published": 60}, "dropped_by_stage_and_reason": {}},
    }


def test_the_candidate_carries_the_figures_lists_them_and_its_card_shows_them(tmp_path):
    manifest = _card_manifest()
    card = render_card(manifest)
    for name in FIGURES:
        assert f"]({name})" in card and "![" in card.split(f"]({name})")[0].rsplit("\n", 1)[-1]
    a = write_candidate(tmp_path / "s1", _tables(), {"k": 1}, manifest, card, label_history=HISTORY)
    b = write_candidate(tmp_path / "s2", _tables(), {"k": 1}, manifest, card, label_history=HISTORY)
    listed = json.loads((a.path / "manifest.json").read_text())["figures"]
    assert set(listed) == set(FIGURES)
    for name in FIGURES:
        data = (a.path / name).read_bytes()
        assert listed[name] == md5_hex(data)
        assert data == (b.path / name).read_bytes()
    assert (a.path / "README.md").read_text().count("](lengths.png)") == 1
