"""Figures beside the dataset card, where a person would rather look than read: length
distributions of chosen vs rejected responses, and the label-source mix over versions.

Both are written into the candidate folder before it is audited and published, so they travel
with the version, and are listed with their md5 in its manifest.json (`figures`). Rendered with
matplotlib's Agg backend, no Software/date metadata and a fixed hash salt, so a rebuild of the
same input writes the same bytes. The length histogram and medians are computed by DuckDB over
train.parquet: only the bin counts reach Python, whatever the size of the set."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np

FIGURES = ("lengths.png", "label_sources.png")
BINS = 40
# How many earlier versions the label-source figure shows beside the candidate.
HISTORY_DEPTH = 9
_PNG = {"dpi": 100, "metadata": {"Software": None}}
_SIZE = (6.4, 3.4)
# One color per label source, the same in every version's figure.
SOURCE_COLORS = {
    "human_pairwise": "#1f77b4",
    "human_rating": "#6baed6",
    "human_thumbs": "#9ecae1",
    "human_edit": "#2ca02c",
    "human_regenerate": "#98df8a",
    "ai_judge": "#ff7f0e",
    "ai_annotator": "#d62728",
}
_EXTRA_COLORS = ("#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf")
_SIDES = (("chosen", "#2b7bba"), ("rejected", "#d95f02"))


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "prefline", "font.size": 9, "font.family": "DejaVu Sans"})
    return plt


@dataclass(frozen=True)
class LengthHistogram:
    """Log-spaced histogram of response lengths in characters, per side of the pair."""

    edges: np.ndarray  # BINS + 1 bin edges, from 1 char
    counts: dict[str, np.ndarray]  # side -> BINS counts
    median: dict[str, float]
    n: int  # train pairs (first replica of each)


def length_histogram(train_parquet: Path, bins: int = BINS) -> LengthHistogram:
    """Characters in the last chosen and rejected turn of each train pair, binned by DuckDB.
    Replicas (`replica_index` > 0, up-weighted copies) are counted once."""
    con = duckdb.connect()
    try:
        con.execute("set threads to 2")
        src = f"read_parquet('{str(train_parquet).replace(chr(39), chr(39) * 2)}')"
        columns = {r[0] for r in con.execute(f"describe select * from {src}").fetchall()}
        where = "where replica_index = 0" if "replica_index" in columns else ""
        con.execute(
            f"""create temp table lengths as
                select greatest(coalesce(length(chosen[-1].content), 0), 1) as chosen,
                       greatest(coalesce(length(rejected[-1].content), 0), 1) as rejected
                from {src} {where}"""
        )
        n, top, med_c, med_r = con.execute(
            "select count(*), greatest(max(chosen), max(rejected), 10), "
            "median(chosen), median(rejected) from lengths"
        ).fetchone()
        top = int(top or 10)
        # Bin i covers [10^(i*w), 10^((i+1)*w)), w = log10(top + 1) / bins; the top value lands
        # in the last bin.
        width = math.log10(top + 1) / bins
        rows = con.execute(
            f"""select side, least(cast(floor(log10(chars) / {width!r}) as integer), {bins - 1}) as bin,
                       count(*)
                from (unpivot lengths on chosen, rejected into name side value chars)
                group by all order by all"""
        ).fetchall()
    finally:
        con.close()
    counts = {side: np.zeros(bins, dtype=np.int64) for side, _ in _SIDES}
    for side, b, c in rows:
        counts[side][b] += c
    edges = np.logspace(0, math.log10(top + 1), bins + 1)
    median = {"chosen": float(med_c or 0), "rejected": float(med_r or 0)}
    return LengthHistogram(edges, counts, median, int(n))


def plot_lengths(hist: LengthHistogram, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=_SIZE)
    for side, color in _SIDES:
        label = f"{side}: median {hist.median[side]:,.0f} chars"
        ax.stairs(hist.counts[side], hist.edges, fill=True, alpha=0.45, color=color, label=label)
        ax.stairs(hist.counts[side], hist.edges, color=color, linewidth=1.0)
        if hist.n:
            ax.axvline(max(hist.median[side], 1), color=color, linestyle="--", linewidth=1.0)
    ax.set_xscale("log")
    used = np.flatnonzero(hist.counts["chosen"] + hist.counts["rejected"])
    ax.set_xlim(hist.edges[used[0]] if len(used) else 1, hist.edges[-1])
    ax.set_xlabel("response length (characters, log scale); dashed: median")
    ax.set_ylabel("train pairs")
    ax.set_title(f"Length of chosen vs rejected responses (train, {hist.n:,} pairs)")
    ax.legend(frameon=False, loc="upper left")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)


def _source_order(history: list[tuple[str, dict[str, int]]]) -> list[str]:
    seen = {s for _, mix in history for s in mix}
    return [s for s in SOURCE_COLORS if s in seen] + sorted(seen - set(SOURCE_COLORS))


def plot_label_sources(history: list[tuple[str, dict[str, int]]], path: Path) -> None:
    """Stacked share of pairs per label source, one bar per version, oldest first; the last
    bar is the version the card describes."""
    plt = _plt()
    sources = _source_order(history)
    extra = iter(_EXTRA_COLORS * (len(sources) // len(_EXTRA_COLORS) + 1))
    colors = {s: SOURCE_COLORS.get(s) or next(extra) for s in sources}
    fig, ax = plt.subplots(figsize=_SIZE)
    x = np.arange(len(history))
    totals = np.array([sum(mix.values()) for _, mix in history], dtype=float)
    bottom = np.zeros(len(history))
    for source in sources:
        share = np.array([mix.get(source, 0) for _, mix in history], dtype=float) / np.maximum(totals, 1)
        ax.bar(x, share, bottom=bottom, width=0.7, label=source, color=colors[source])
        bottom += share
    ticks = [f"{v[:8]}\n{int(t):,} pairs" for (v, _), t in zip(history, totals)]
    if ticks:
        ticks[-1] = ticks[-1].replace("\n", " (this)\n", 1)
    ax.set_xticks(x, ticks, fontsize=7)
    pad = max(0, 4 - len(history)) / 2  # a short history stays centered, bars keep their width
    ax.set_xlim(-0.6 - pad, len(history) - 0.4 + pad)
    ax.set_ylim(0, 1)
    ax.set_xlabel("version (oldest first)")
    ax.set_ylabel("share of pairs")
    ax.set_title("Label sources over versions")
    if sources:
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], frameon=False, fontsize=7, loc="center left",
                  bbox_to_anchor=(1.0, 0.5))
    else:
        ax.text(0.5, 0.5, "no labeled pairs", ha="center", va="center", transform=ax.transAxes)
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)


def write_figures(folder: Path, history: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Write FIGURES into a version folder that already holds train.parquet. ``history``:
    (version id, label-source mix) per version, oldest first, ending with this one; only the
    last HISTORY_DEPTH + 1 are drawn."""
    plot_lengths(length_histogram(folder / "train.parquet"), folder / "lengths.png")
    plot_label_sources(history[-(HISTORY_DEPTH + 1):], folder / "label_sources.png")
    return list(FIGURES)
