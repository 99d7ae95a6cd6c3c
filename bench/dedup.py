"""Near-duplicate prompt clustering: prefline vs HuggingFace datatrove, side by side.

    .venv/bin/python bench/dedup.py --prompts 100000
    .venv/bin/python bench/dedup.py --prompts 1000000 --increment 100000

Generates N prompts (20-200 words from a Zipf vocabulary of real words) with a known ground
truth: 4% of them get a near-duplicate made by word substitutions at a target word-3-gram
Jaccard in [0.8, 0.95], 2% a hard negative at [0.3, 0.5]. Each system clusters the same
prompts in its own process; wall time and peak RSS of the process tree are measured, and
pairs are scored: recall over injected pairs with true Jaccard >= 0.8, precision over every
pair a system put in one cluster (true when its exact Jaccard is >= 0.7). Both use word
3-gram shingles and 20 bands x 5 rows. datatrove runs with 2 tasks and 2 workers from the
bench-only venv bench/.venv-datatrove (created on first use; never a project dependency).

--increment K also times prefline's nightly path: K new prompts clustered against the N of
history with cached signatures and edges, vs clustering all N + K from scratch.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DT_VENV = ROOT / "bench" / ".venv-datatrove"
SHARED = ROOT.parent / "shared" / "data"
SHINGLE, BANDS, ROWS = 3, 20, 5


# ---------------------------------------------------------------- data with ground truth
def _vocabulary() -> list[str]:
    words: dict[str, int] = {}
    for path in [SHARED / "hh-rlhf" / "harmless-base-test.jsonl.gz", SHARED / "oasst" / "en_100_message.jsonl"]:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8") as fh:
            for w in re.findall(r"[a-z]+", fh.read().lower()):
                words[w] = words.get(w, 0) + 1
    return [w for w, _ in sorted(words.items(), key=lambda kv: (-kv[1], kv[0]))]


def _shingles(words: list[str]) -> set[tuple[str, ...]]:
    if len(words) < SHINGLE:
        return {tuple(words)}
    return {tuple(words[i:i + SHINGLE]) for i in range(len(words) - SHINGLE + 1)}


def jaccard(a: str, b: str) -> float:
    sa, sb = _shingles(a.split()), _shingles(b.split())
    return len(sa & sb) / len(sa | sb)


def _edit_to(words: list[str], target: tuple[float, float], rng, vocab) -> tuple[str, float]:
    """Substitute words until the word-3-gram Jaccard with the original falls in ``target``."""
    out = list(words)
    base = " ".join(words)
    order = rng.permutation(len(words))
    best = (base, 1.0)
    for k, pos in enumerate(order):
        out[pos] = vocab[int(rng.integers(len(vocab)))]
        if k % 2 == 0 or k == len(order) - 1:
            text = " ".join(out)
            j = jaccard(base, text)
            if target[0] <= j <= target[1]:
                return text, j
            if j < target[0]:
                break
            best = (text, j)
    return best


def generate(n: int, seed: int = 7) -> tuple[list[str], list[tuple[int, int, float]]]:
    rng = np.random.default_rng(seed)
    vocab = _vocabulary()
    ranks = np.minimum(rng.zipf(1.15, size=n * 120), len(vocab)) - 1
    lengths = rng.integers(20, 201, size=n)
    texts: list[str] = []
    pos = 0
    for length in lengths:
        texts.append(" ".join(vocab[r] for r in ranks[pos:pos + length]))
        pos += length
    truth = []
    n_near, n_hard = int(n * 0.04), int(n * 0.02)
    picks = rng.choice(n, size=n_near + n_hard, replace=False)
    for k, i in enumerate(picks):
        target = (0.8, 0.95) if k < n_near else (0.3, 0.5)
        text, j = _edit_to(texts[i].split(), target, rng, vocab)
        truth.append((int(i), len(texts), j))
        texts.append(text)
    order = rng.permutation(len(texts))  # near-duplicates don't sit next to their originals
    where = np.empty_like(order)
    where[order] = np.arange(len(order))
    texts = [texts[i] for i in order]
    truth = [(int(where[a]), int(where[b]), j) for a, b, j in truth]
    return texts, truth


# ---------------------------------------------------------------- measured runs
def _tree_rss_kb(pid: int) -> int:
    total, children = 0, {pid}
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
                procs[int(entry)] = ppid
            except (OSError, ValueError, IndexError):
                pass
    changed = True
    while changed:
        changed = False
        for p, pp in procs.items():
            if pp in children and p not in children:
                children.add(p)
                changed = True
    for p in children:
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def run_measured(cmd: list[str]) -> dict:
    start = time.monotonic()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_rss_kb(proc.pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-4000:]}")
    return {"wall_s": round(time.monotonic() - start, 2), "peak_tree_rss_mb": round(peak / 1024, 1), "log": out}


def prefline_worker(prompts: Path, labels_out: Path, history: Path | None) -> None:
    """Cluster through prefline's warehouse path (the same function the dedup asset calls),
    on a DuckDB file of its own. With ``history``, that file already holds the signatures and
    edges of the history, and the timing covers the new day only."""
    import duckdb

    sys.path.insert(0, str(ROOT))
    from pipeline.lib.clusters import assign_clusters

    db = history if history is not None else labels_out.with_suffix(".duckdb")
    con = duckdb.connect(str(db), config={"memory_limit": "1GB", "threads": 2})
    con.execute(f"create or replace table normalized_events as select md5(text) as prompt_hash, text as prompt_text "
                f"from read_parquet('{prompts}')")
    started = time.monotonic()
    stats = assign_clusters(con, {"shingle_words": SHINGLE, "bands": BANDS, "rows": ROWS})
    stats["cluster_s"] = round(time.monotonic() - started, 2)
    con.execute(f"copy (select c.cluster_id, p.i from (select md5(text) as h, i from read_parquet('{prompts}')) p "
                f"join prompt_clusters c on c.prompt_hash = p.h order by p.i) to '{labels_out}' (format parquet)")
    con.close()
    print(json.dumps(stats))


DATATROVE_SCRIPT = r'''
import json, sys, time
from datatrove.executor.local import LocalPipelineExecutor
from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                               MinhashDedupSignature)
from datatrove.pipeline.readers import JsonlReader
from datatrove.utils.hashing import HashConfig
from datatrove.utils.word_tokenizers import WordTokenizer

class Whitespace(WordTokenizer):
    def word_tokenize(self, text): return text.split()
    def sent_tokenize(self, text): return [text]
    def span_tokenize(self, text): return [(0, len(text))]

def main():
    inp, work, bands, rows, shingle = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    config = MinhashConfig(n_grams=shingle, num_buckets=bands, hashes_per_bucket=rows,
                           hash_config=HashConfig(precision=64))
    t = time.monotonic()
    LocalPipelineExecutor(pipeline=[JsonlReader(inp), MinhashDedupSignature(output_folder=f"{work}/sigs", config=config,
                          language=Whitespace())], tasks=2, workers=2, logging_dir=f"{work}/logs/1").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupBuckets(input_folder=f"{work}/sigs", output_folder=f"{work}/buckets",
                          config=config)], tasks=config.num_buckets, workers=2, logging_dir=f"{work}/logs/2").run()
    LocalPipelineExecutor(pipeline=[MinhashDedupCluster(input_folder=f"{work}/buckets", output_folder=f"{work}/clusters",
                          config=config, save_cluster_id=True)], tasks=1, logging_dir=f"{work}/logs/3").run()
    print(json.dumps({"cluster_s": round(time.monotonic() - t, 2)}))


if __name__ == "__main__":  # the executor's worker processes import this file
    main()
'''


def run_datatrove(texts: list[str], work: Path, bands: int = BANDS, rows: int = ROWS) -> tuple[dict, np.ndarray]:
    if not (DT_VENV / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", str(DT_VENV)], check=True)
        subprocess.run([str(DT_VENV / "bin" / "pip"), "install", "-q", "datatrove==0.10.1", "xxhash==3.5.0", "regex", "tokenizers", "orjson"], check=True)
    inp = work / "dt_in"
    inp.mkdir(parents=True, exist_ok=True)
    out = work / f"dt-{bands}x{rows}"
    half = (len(texts) + 1) // 2
    for k, part in enumerate((texts[:half], texts[half:])):
        with open(inp / f"{k:02d}.jsonl", "w") as fh:
            for i, t in enumerate(part):
                fh.write(json.dumps({"text": t, "id": str(k * half + i)}) + "\n")
    script = work / "dt.py"
    script.write_text(DATATROVE_SCRIPT)
    measured = run_measured([str(DT_VENV / "bin" / "python"), str(script), str(inp), str(out),
                             str(bands), str(rows), str(SHINGLE)])
    labels = np.arange(len(texts), dtype=np.int64) + 10**9  # singletons: their own label
    for k, offset in enumerate((0, half)):
        path = out / "clusters" / f"{k:06d}.clusters"
        if path.exists():
            pairs = np.frombuffer(path.read_bytes(), dtype="<u4").reshape(-1, 2)
            labels[offset + pairs[:, 0].astype(np.int64)] = pairs[:, 1]
    measured.update(json.loads(measured.pop("log").strip().splitlines()[-1]))
    return measured, labels


def run_prefline(prompts: Path, work: Path, history: Path | None = None) -> tuple[dict, np.ndarray]:
    labels_out = work / f"prefline-{prompts.stem}.parquet"
    measured = run_measured([sys.executable, __file__, "--worker", str(prompts), str(labels_out)]
                            + ([str(history)] if history else []))
    measured.update(json.loads(measured.pop("log").strip().splitlines()[-1]))
    ids = pq.read_table(labels_out).column("cluster_id").to_pylist()
    _, labels = np.unique(np.array(ids, dtype=object).astype(str), return_inverse=True)
    return measured, labels


# ---------------------------------------------------------------- scoring
def score(labels: np.ndarray, texts: list[str], truth: list[tuple[int, int, float]], sample: int = 20_000) -> dict:
    """Recall over injected pairs with J >= 0.8; precision over predicted same-cluster pairs
    (exact over up to ``sample`` pairs, drawn uniformly when there are more)."""
    positives = [(a, b) for a, b, j in truth if j >= 0.8]
    recall = sum(bool(labels[a] == labels[b]) for a, b in positives) / max(1, len(positives))
    _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    weights = sizes * (sizes - 1) // 2
    predicted = int(weights.sum())
    if predicted == 0:
        return {"recall_at_0.8": round(recall, 4), "precision": None, "predicted_pairs": 0,
                "largest_cluster": int(sizes.max(initial=0)), "injected_positive_pairs": len(positives)}
    rng = np.random.default_rng(0)
    members = {c: np.flatnonzero(inverse == c) for c in np.flatnonzero(sizes > 1)}
    picks = rng.choice(len(weights), size=min(sample, predicted), p=weights / predicted)
    true = 0
    for c in picks:
        a, b = rng.choice(members[c], size=2, replace=False)
        true += jaccard(texts[a], texts[b]) >= 0.7
    return {"recall_at_0.8": round(recall, 4), "precision": round(true / len(picks), 4), "predicted_pairs": predicted,
            "largest_cluster": int(sizes.max()), "injected_positive_pairs": len(positives)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=100_000)
    ap.add_argument("--increment", type=int, default=0, help="also time a nightly day of this many new prompts")
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        prefline_worker(Path(args.worker[0]), Path(args.worker[1]), Path(args.worker[2]) if len(args.worker) > 2 else None)
        return

    n = args.prompts
    with tempfile.TemporaryDirectory(prefix="prefline-dedup-") as tmp:
        work = Path(tmp)
        t = time.monotonic()
        texts, truth = generate(n + args.increment)
        gen_s = time.monotonic() - t
        # The generator adds injected near-duplicates on top of n + increment prompts; the last
        # ``increment`` are the nightly day, the history is everything before them.
        n = len(texts) - args.increment
        history, new = texts[:n], texts[n:]
        truth_hist = [(a, b, j) for a, b, j in truth if a < n and b < n]
        prompts = work / "prompts.parquet"
        pq.write_table(pa.table({"i": np.arange(n), "text": history}), prompts)
        result = {"prompts": n, "generate_s": round(gen_s, 1), "shingle_words": SHINGLE, "bands": BANDS, "rows": ROWS,
                  "injected_pairs": len(truth_hist)}
        measured, labels = run_prefline(prompts, work)
        result["prefline"] = {**measured, **score(labels, history, truth_hist)}
        print("prefline", result["prefline"], flush=True)
        if not args.skip_datatrove:
            # With prefline's banding, and with datatrove's own default (14 bands x 8 rows).
            for name, bands, rows in (("datatrove", BANDS, ROWS), ("datatrove 14x8", 14, 8)):
                measured, labels = run_datatrove(history, work, bands, rows)
                result[name] = {**measured, **score(labels, history, truth_hist), "bands": bands, "rows": rows}
                print(name, result[name], flush=True)
        if args.increment:
            everything = work / "all.parquet"
            pq.write_table(pa.table({"i": np.arange(len(texts)), "text": texts}), everything)
            nightly, _ = run_prefline(everything, work, history=prompts.with_name("prefline-prompts.duckdb"))
            full, _ = run_prefline(everything, work)
            result["increment"] = {"new_prompts": len(texts) - n, "nightly": nightly, "full": full,
                                   "ratio": round(nightly["cluster_s"] / full["cluster_s"], 3)}
            print("increment", result["increment"], flush=True)

    RESULTS.mkdir(parents=True, exist_ok=True)
    stem = RESULTS / f"dedup-{args.prompts}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    rows = [("system", "wall s", "cluster s", "peak MB", "prompts/s", "recall (J>=0.8)", "precision", "largest cluster")]
    for name in ("prefline", "datatrove", "datatrove 14x8"):
        if name in result:
            r = result[name]
            rows.append((name, r["wall_s"], r["cluster_s"], r["peak_tree_rss_mb"], round(n / r["wall_s"]),
                         r["recall_at_0.8"], r["precision"], r["largest_cluster"]))
    table = "\n".join("| " + " | ".join(map(str, r)) + " |" + ("\n|---|---:|---:|---:|---:|---:|---:|---:|" if k == 0 else "")
                      for k, r in enumerate(rows))
    text = f"# dedup-{args.prompts}: {n:,} prompts\n\n{table}\n"
    if "increment" in result:
        inc = result["increment"]
        text += (f"\nNightly increment: {inc['new_prompts']:,} new prompts against {n:,} of history: "
                 f"{inc['nightly']['cluster_s']} s vs {inc['full']['cluster_s']} s re-clustering all "
                 f"(ratio {inc['ratio']}).\n")
    text += f"\n```\n{json.dumps(result, indent=2)}\n```\n"
    stem.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
