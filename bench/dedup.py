"""Near-duplicate prompt clustering: prefline vs HuggingFace datatrove, side by side.

    .venv/bin/python bench/dedup.py --prompts 100000 --increment 10000
    .venv/bin/python bench/dedup.py --prompts 1000000 --increment 100000
    .venv/bin/python bench/dedup.py --prompts 100000 --sweep --skip-datatrove   # LSH settings

Generates N (+ K) prompts (20-200 words from a Zipf vocabulary of the real words in the
bundled HH-RLHF and OASST text) with a known ground truth: 4% of the base prompts get a
near-duplicate made by word substitutions at a target word-3-gram Jaccard in [0.8, 0.95],
2% a hard negative at [0.3, 0.5], all shuffled. Each system clusters the same N prompts in
its own process; wall time, peak RSS of the process tree, CPU seconds and the load other
processes put on the machine meanwhile are measured, and pairs are scored: recall over
injected pairs with true Jaccard >= 0.8, precision over the pairs a system put in one
cluster (true when their exact Jaccard is >= 0.7). prefline runs `assign_clusters` (what
the dedup asset calls) with the `dedup:` defaults of prefline.yaml on a DuckDB file;
datatrove runs MinhashDedupSignature -> MinhashDedupBuckets -> MinhashDedupCluster through
LocalPipelineExecutor (2 tasks, 2 workers) with the same shingles and banding, and again
with its default 14 x 8, from the bench-only venv bench/.venv-datatrove (created on first
use; never a project dependency).

--increment K also times prefline's nightly path: the K last prompts clustered against the
N of history with signatures, band hashes and edges cached, vs all N + K from scratch.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
DT_VENV = ROOT / "bench" / ".venv-datatrove"
SHARED = ROOT.parent / "shared" / "data"
SHINGLE = 3  # the ground truth's Jaccard is over word 3-grams
DEDUP = yaml.safe_load((ROOT / "prefline.yaml").read_text())["dedup"]  # prefline runs with its defaults
BANDS, ROWS = DEDUP["bands"], DEDUP["rows"]
DUCKDB_MEMORY = "1GB"


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


def generate(total: int, seed: int = 7) -> tuple[list[str], list[tuple[int, int, float]]]:
    """``total`` prompts: base prompts plus 4% (of the bases) near-duplicates and 2% hard
    negatives, shuffled; the ground truth lists (original, edited, exact Jaccard)."""
    rng = np.random.default_rng(seed)
    vocab = _vocabulary()
    n = round(total / 1.06)
    n_near = int(n * 0.04)
    n_hard = total - n - n_near
    ranks = np.minimum(rng.zipf(1.15, size=n * 120), len(vocab)) - 1
    lengths = rng.integers(20, 201, size=n)
    texts: list[str] = []
    pos = 0
    for length in lengths:
        texts.append(" ".join(vocab[r] for r in ranks[pos:pos + length]))
        pos += length
    truth = []
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
def _tree_sample(pid: int, cpu: dict[tuple[int, int], float]) -> int:
    """RSS (kB) of ``pid`` and its descendants now; records each one's CPU seconds so far in
    ``cpu`` (keyed by pid and start time, so a reused pid is another process)."""
    total, children = 0, {pid}
    procs = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    fields = fh.read().rsplit(")", 1)[1].split()
                procs[int(entry)] = fields
            except (OSError, ValueError, IndexError):
                pass
    changed = True
    while changed:
        changed = False
        for p, fields in procs.items():
            if int(fields[1]) in children and p not in children:
                children.add(p)
                changed = True
    tick = os.sysconf("SC_CLK_TCK")
    for p in children:
        if p in procs:
            fields = procs[p]  # fields[11], [12]: utime, stime; [19]: start time
            cpu[(p, int(fields[19]))] = (int(fields[11]) + int(fields[12])) / tick
        try:
            with open(f"/proc/{p}/status") as fh:
                for line in fh:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def _machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy since boot (all cores)."""
    with open("/proc/stat") as fh:
        fields = [int(x) for x in fh.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_measured(cmd: list[str]) -> dict:
    """Run ``cmd``; wall time, peak RSS of its process tree (sampled every 50 ms), its CPU
    seconds, and the cores other processes kept busy meanwhile (how loaded the machine was)."""
    start = time.monotonic()
    busy0, own0 = _machine_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak = 0
    tree_cpu: dict[tuple[int, int], float] = {}
    done = threading.Event()

    def sample():
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _tree_sample(proc.pid, tree_cpu))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, _ = proc.communicate()
    done.set()
    sampler.join()
    wall = time.monotonic() - start
    own1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU of the whole tree: what the waited-for processes report, or the sampled sum over
    # every process seen (workers that are never waited for), whichever is larger.
    cpu = max((own1.ru_utime - own0.ru_utime) + (own1.ru_stime - own0.ru_stime), sum(tree_cpu.values()))
    other = max(0.0, _machine_busy_s() - busy0 - cpu) / wall
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out[-4000:]}")
    return {"wall_s": round(wall, 2), "peak_tree_rss_mb": round(peak / 1024, 1), "cpu_s": round(cpu, 1),
            "other_load_cores": round(other, 2), "log": out}


def prefline_worker(prompts: Path, labels_out: Path, history: Path | None) -> None:
    """Cluster through prefline's warehouse path (the same function the dedup asset calls),
    on a DuckDB file of its own. With ``history``, that file already holds the signatures,
    bands and edges of the history, and the timing covers the new day only."""
    import duckdb

    sys.path.insert(0, str(ROOT))
    from pipeline.dedup.clusters import assign_clusters

    db = history if history is not None else labels_out.with_suffix(".duckdb")
    con = duckdb.connect(str(db), config={"memory_limit": DUCKDB_MEMORY, "threads": 2,
                                          "preserve_insertion_order": False})
    con.execute(f"create or replace table normalized_events as select md5(text) as prompt_hash, text as prompt_text "
                f"from read_parquet('{prompts}')")
    con.execute("checkpoint")  # the input is on disk before the clock starts, as dbt leaves it
    started = time.monotonic()
    stats = assign_clusters(con, DEDUP)
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
        subprocess.run([str(DT_VENV / "bin" / "pip"), "install", "-q", "datatrove==0.10.1", "xxhash==3.5.0", "regex",
                        "tokenizers", "orjson"], check=True)
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
    """Recall over injected pairs with J >= 0.8; precision over the pairs a system put in one
    cluster (all of them when there are at most ``sample``, else a uniform sample)."""
    positives = [(a, b) for a, b, j in truth if j >= 0.8]
    recall = sum(bool(labels[a] == labels[b]) for a, b in positives) / max(1, len(positives))
    _, inverse, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    weights = sizes * (sizes - 1) // 2
    predicted = int(weights.sum())
    edge = [(a, b) for a, b, j in truth if 0.8 <= j < 0.85]
    hard = [(a, b) for a, b, j in truth if j <= 0.5]
    result = {"recall_at_0.8": round(recall, 4),
              "recall_0.80_0.85": round(sum(bool(labels[a] == labels[b]) for a, b in edge) / max(1, len(edge)), 4),
              "hard_negatives_merged": round(sum(bool(labels[a] == labels[b]) for a, b in hard) / max(1, len(hard)), 4),
              "precision": None, "predicted_pairs": predicted,
              "largest_cluster": int(sizes.max(initial=0)), "injected_positive_pairs": len(positives)}
    if predicted == 0:
        return result
    order = np.argsort(inverse, kind="stable")
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    multi = np.flatnonzero(sizes > 1)
    rng = np.random.default_rng(0)
    if predicted <= sample:
        pairs = [(order[bounds[c] + i], order[bounds[c] + j]) for c in multi
                 for i in range(sizes[c]) for j in range(i + 1, sizes[c])]
    else:
        pairs = []
        for c in rng.choice(len(weights), size=sample, p=weights / predicted):
            i, j = rng.choice(sizes[c], size=2, replace=False)
            pairs.append((order[bounds[c] + i], order[bounds[c] + j]))
    result["precision"] = round(sum(jaccard(texts[a], texts[b]) >= 0.7 for a, b in pairs) / len(pairs), 4)
    return result


# ---------------------------------------------------------------- defaults
SWEEP = [  # (bands, rows, threshold)
    (10, 5, 0.7), (16, 4, 0.7), (12, 8, 0.7), (14, 8, 0.7), (20, 5, 0.6), (20, 5, 0.7), (20, 5, 0.75),
    (25, 4, 0.7), (32, 4, 0.7),
]


def sweep(texts: list[str], truth: list[tuple[int, int, float]]) -> list[dict]:
    """prefline's signatures and in-memory LSH (the same chaining and verification as the
    warehouse path) over a grid of bands x rows and thresholds, in this process."""
    sys.path.insert(0, str(ROOT))
    from pipeline.dedup.minhash import MinHashConfig, cluster, signatures

    arr = pa.array(texts)
    rows = []
    for bands, r, threshold in SWEEP:
        config = MinHashConfig(shingle_words=DEDUP["shingle_words"], bands=bands, rows=r, threshold=threshold,
                               seed=DEDUP["seed"])
        t = time.monotonic()
        sigs = signatures(arr, config)
        sign_s = time.monotonic() - t
        t = time.monotonic()
        labels, edges, _ = cluster(sigs, config)
        rows.append({"bands": bands, "rows": r, "num_perm": config.num_perm, "threshold": threshold,
                     "sign_s": round(sign_s, 2), "lsh_s": round(time.monotonic() - t, 2), "edges": len(edges),
                     **score(labels, texts, truth)})
        print(rows[-1], flush=True)
    return rows


def _md_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" + "---:|" * (len(header) - 1)]
    lines += ["| " + " | ".join(str(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def _load_note(runs: list[dict]) -> str:
    loads = [r["other_load_cores"] for r in runs if "other_load_cores" in r]
    if not loads:
        return ""
    return (f"Other processes kept {min(loads):.2f}-{max(loads):.2f} of the machine's {os.cpu_count()} cores busy "
            f"during the measured runs (column `other load`): "
            + ("the machine was busy, so wall times are pessimistic." if max(loads) > 0.5 else
               "the machine was lightly loaded." if max(loads) > 0.1 else "the machine was otherwise idle.")
            + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--prompts", type=int, default=100_000, help="prompts of history (default 100000; 1000000 for the big run)")
    ap.add_argument("--increment", type=int, default=0, help="also time a nightly day of this many new prompts")
    ap.add_argument("--skip-datatrove", action="store_true")
    ap.add_argument("--sweep", action="store_true", help="compare bands x rows x threshold settings instead")
    ap.add_argument("--worker", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        prefline_worker(Path(args.worker[0]), Path(args.worker[1]), Path(args.worker[2]) if len(args.worker) > 2 else None)
        return

    n = args.prompts
    t = time.monotonic()
    texts, truth = generate(n + args.increment)
    gen_s = time.monotonic() - t
    RESULTS.mkdir(parents=True, exist_ok=True)
    if args.sweep:
        rows = sweep(texts, truth)
        stem = RESULTS / f"dedup-sweep-{n}"
        stem.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n")
        keys = ["bands", "rows", "num_perm", "threshold", "sign_s", "lsh_s", "recall_at_0.8", "recall_0.80_0.85",
                "precision", "hard_negatives_merged", "predicted_pairs", "largest_cluster"]
        text = (f"# dedup-sweep-{n}: LSH settings on {n:,} prompts\n\n"
                f"prefline's signatures and in-memory LSH, one process; {len([1 for *_, j in truth if j >= 0.8]):,} "
                f"injected pairs at Jaccard >= 0.8. Machine load average at the start: "
                f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} cores.\n\n"
                + _md_table(keys, [[r[k] for k in keys] for r in rows]) + "\n")
        stem.with_suffix(".md").write_text(text)
        print(text)
        return

    with tempfile.TemporaryDirectory(prefix="prefline-dedup-") as tmp:
        work = Path(tmp)
        # The last ``increment`` prompts are the nightly day; the history is everything before.
        history = texts[:n]
        truth_hist = [(a, b, j) for a, b, j in truth if a < n and b < n]
        prompts = work / "prompts.parquet"
        pq.write_table(pa.table({"i": np.arange(n), "text": history}), prompts)
        result = {"prompts": n, "generate_s": round(gen_s, 1), "shingle_words": DEDUP["shingle_words"],
                  "bands": BANDS, "rows": ROWS, "threshold": DEDUP["threshold"], "duckdb_memory_limit": DUCKDB_MEMORY,
                  "cores": os.cpu_count(), "injected_pairs": len(truth_hist)}
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
            nightly, labels_nightly = run_prefline(everything, work, history=prompts.with_name("prefline-prompts.duckdb"))
            full, labels_full = run_prefline(everything, work)
            same = bool((labels_nightly == labels_full).all())
            result["increment"] = {"new_prompts": len(texts) - n, "history_prompts": n, "nightly": nightly, "full": full,
                                   "same_clusters": same,
                                   "ratio_cluster_s": round(nightly["cluster_s"] / full["cluster_s"], 3),
                                   "ratio_wall_s": round(nightly["wall_s"] / full["wall_s"], 3)}
            print("increment", result["increment"], flush=True)

    stem = RESULTS / f"dedup-{n}"
    stem.with_suffix(".json").write_text(json.dumps(result, indent=2) + "\n")
    header = ["system", "wall s", "cluster s", "peak MB", "prompts/s (wall)", "recall (J>=0.8)", "precision",
              "largest cluster", "CPU s", "other load"]
    rows, runs = [], []
    for name in ("prefline", "datatrove", "datatrove 14x8"):
        if name in result:
            r = result[name]
            runs.append(r)
            rows.append([name, r["wall_s"], r["cluster_s"], r["peak_tree_rss_mb"], round(n / r["wall_s"]),
                         r["recall_at_0.8"], r["precision"], r["largest_cluster"], r["cpu_s"], r["other_load_cores"]])
    text = (f"# dedup-{n}: {n:,} prompts\n\nprefline: {DEDUP['shingle_words']}-word shingles, {BANDS} bands x {ROWS} rows, "
            f"threshold {DEDUP['threshold']}, DuckDB capped at {DUCKDB_MEMORY}. {result['injected_pairs']:,} injected pairs.\n\n"
            + _md_table(header, rows) + "\n")
    if "increment" in result:
        inc = result["increment"]
        runs += [inc["nightly"], inc["full"]]
        text += (f"\nNightly increment: {inc['new_prompts']:,} new prompts against {n:,} of history (signatures, bands "
                 f"and edges cached): {inc['nightly']['cluster_s']} s vs {inc['full']['cluster_s']} s clustering all "
                 f"{len(texts):,} from scratch (ratio {inc['ratio_cluster_s']}; whole process {inc['nightly']['wall_s']} s "
                 f"vs {inc['full']['wall_s']} s, ratio {inc['ratio_wall_s']}); peak {inc['nightly']['peak_tree_rss_mb']} MB "
                 f"vs {inc['full']['peak_tree_rss_mb']} MB; same clusters: {inc['same_clusters']}.\n")
    text += "\n" + _load_note(runs)
    text += f"\n```\n{json.dumps(result, indent=2)}\n```\n"
    stem.with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
