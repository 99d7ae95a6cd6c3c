"""Figures beside the dataset card, where a person would rather look than read: length
distributions of chosen vs rejected responses, and the label-source mix over versions.
Rendered with matplotlib's Agg backend and no timestamps, so a rebuild writes the same bytes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import numpy as np

FIGURES = ("lengths.png", "label_sources.png")
_PNG = {"dpi": 100, "metadata": {"Software": None}}


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "prefline", "font.size": 9})
    return plt


def response_lengths(train_parquet: Path) -> tuple[np.ndarray, np.ndarray]:
    """Characters in the final chosen and rejected turn of every train pair (DuckDB over the file)."""
    con = duckdb.connect()
    try:
        got = con.execute(
            f"""select length(chosen[-1].content) as chosen, length(rejected[-1].content) as rejected
                from read_parquet('{train_parquet}')"""
        ).fetchnumpy()
    finally:
        con.close()
    return np.asarray(got["chosen"], dtype=np.int64), np.asarray(got["rejected"], dtype=np.int64)


def plot_lengths(chosen: np.ndarray, rejected: np.ndarray, path: Path) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 3.2))
    top = max(int(chosen.max(initial=1)), int(rejected.max(initial=1)), 10)
    bins = np.logspace(0, np.log10(top + 1), 40)
    for values, name, color in ((chosen, "chosen", "#2b7bba"), (rejected, "rejected", "#d95f02")):
        median = float(np.median(values)) if len(values) else 0.0
        ax.hist(np.maximum(values, 1), bins=bins, alpha=0.55, color=color,
                label=f"{name} (median {median:,.0f} chars, n={len(values):,})")
    ax.set_xscale("log")
    ax.set_xlabel("response length (characters, log scale)")
    ax.set_ylabel("train pairs")
    ax.set_title("Length of chosen vs rejected responses")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)


def plot_label_sources(history: list[tuple[str, dict[str, int]]], path: Path) -> None:
    """Stacked share of each label source, one bar per version (oldest first)."""
    plt = _plt()
    sources = sorted({s for _, mix in history for s in mix})
    fig, ax = plt.subplots(figsize=(6, 3.2))
    bottom = np.zeros(len(history))
    colors = plt.get_cmap("tab10")
    for k, source in enumerate(sources):
        totals = np.array([max(1, sum(mix.values())) for _, mix in history], dtype=float)
        share = np.array([mix.get(source, 0) for _, mix in history], dtype=float) / totals
        ax.bar(range(len(history)), share, bottom=bottom, label=source, color=colors(k % 10))
        bottom += share
    ax.set_xticks(range(len(history)), [v[:8] for v, _ in history], rotation=30, ha="right")
    ax.set_ylabel("share of pairs")
    ax.set_ylim(0, 1)
    ax.set_title("Label sources over versions")
    ax.legend(frameon=False, fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.tight_layout()
    fig.savefig(path, **_PNG)
    plt.close(fig)


def write_figures(folder: Path, history: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Write FIGURES into a version folder that already holds train.parquet."""
    chosen, rejected = response_lengths(folder / "train.parquet")
    plot_lengths(chosen, rejected, folder / "lengths.png")
    plot_label_sources(history, folder / "label_sources.png")
    return list(FIGURES)
