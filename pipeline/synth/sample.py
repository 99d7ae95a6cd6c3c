"""The bundled sample `make run` builds: all 2,312 real HH-RLHF harmless-base pairs as pairwise
events plus ~3,000 generated events of every type, over three days, deletion requests for a
few of the generated users, 27 chats that paste a benchmark prompt (they leave as
eval_contamination) and the bundled eval sets."""

from __future__ import annotations

import gzip
import random
import re
import shutil
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import orjson

from pipeline.synth.generate import write_landing
from pipeline.synth.hh_rlhf import hh_events

START = date(2026, 11, 1)
DAYS = 3
GENERATED_PER_DAY = 1_000
SEED = 7
EVALSETS = Path(__file__).resolve().parents[2] / "data" / "evalsets"
HH_FILE = "import-hh-rlhf.jsonl.gz"
LEAK_FILE = "events-benchmark-leak.jsonl.gz"
LEAKED_PER_DAY = 9  # ~0.5% of the sample's events, well under gates.eval_overlap_share_max
# How users paste benchmark prompts into a chat, per benchmark: whole (GSM8K, HumanEval,
# MT-Bench), the first 40 words (Arena-Hard: the 13-gram rule), or a short instruction with its
# input appended (Self-Instruct: mostly the whole-short-prompt rule).
LEAK_WRAPPERS = {
    "gsm8k": ("Can you help me with this one? {q}", "{q}\n\nPlease show your work."),
    "mt-bench": ("hey, quick question: {q} thx",),
    "arena-hard": ("Saw this on a forum: \"{q} ...\" how would you answer it?",),
    "humaneval": ("Complete this function for me:\n\n{q}",),
    "self-instruct": ("{q}\n\nHere it is: the notes from our Monday meeting.",),
}


def _write_jsonl_gz(path: Path, records: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    data = b"".join(orjson.dumps(r) + b"\n" for r in records)
    path.write_bytes(gzip.compress(data, mtime=0))  # no timestamp: the same sample, the same bytes


def copy_evalsets(target: Path, source: Path = EVALSETS) -> list[str]:
    """Copy bundled benchmark prompt files (*.jsonl, *.jsonl.gz, in any subfolder) flat into
    ``target``; a file in a subfolder is named after it (mt-bench/question.jsonl ->
    mt-bench-question.jsonl). Nothing to copy when the bundle is absent."""
    if not source.is_dir():
        return []
    copied = []
    for path in sorted(p for p in source.rglob("*") if p.is_file() and p.name.endswith((".jsonl", ".jsonl.gz"))):
        name = "-".join(path.relative_to(source).parts)
        if (target / name).exists():  # a deployment's own copy stays as it is
            continue
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target / name)
        copied.append(name)
    return copied


def benchmark_leaks(days: int, start: date, source: Path = EVALSETS, seed: int = SEED) -> dict[str, list[dict[str, Any]]]:
    """A few pairwise events per day whose prompt carries a benchmark prompt, as users paste
    homework or a test question into a chat: the demo of eval-set decontamination (each ends as
    eval_contamination). Benchmarks take turns; the items are a seeded pick among those of 8+ words."""
    pools = {}
    for benchmark in LEAK_WRAPPERS:
        path = source / f"{benchmark}.jsonl.gz"
        if path.exists():
            rows = [orjson.loads(line) for line in gzip.decompress(path.read_bytes()).splitlines() if line.strip()]
            pools[benchmark] = sorted(r["prompt"] for r in rows if len(re.findall(r"[^\W_]+", r["prompt"])) >= 8)
    if not pools:
        return {}
    rng = random.Random(seed)
    picks = {b: rng.sample(pool, -(-days * LEAKED_PER_DAY // len(pools))) for b, pool in pools.items()}
    out: dict[str, list[dict[str, Any]]] = {}
    for k in range(days * LEAKED_PER_DAY):
        benchmark = list(pools)[k % len(pools)]
        question = picks[benchmark][k // len(pools)]
        if benchmark == "arena-hard":
            question = " ".join(question.split()[:40])
        wrappers = LEAK_WRAPPERS[benchmark]
        day = (start + timedelta(days=k // LEAKED_PER_DAY)).isoformat()
        out.setdefault(day, []).append({
            "event_id": f"leak-{day}-{k:03d}", "event_type": "pairwise", "created_at": f"{day}T12:{k % 60:02d}:00Z",
            "source": "app:chat", "user_id": f"user-leak-{k % 7}", "consent_training": True,
            "prompt": {"messages": [{"role": "user", "content": wrappers[k // len(pools) % len(wrappers)].format(q=question)}]},
            "responses": [{"response_id": "r0", "content": "Let me work through it step by step.", "model": "acme-chat-7b"},
                          {"response_id": "r1", "content": "I am not sure.", "model": "acme-chat-7b"}],
            "label": {"preferred": "r0"},
        })
    return out


def write_sample(home: Path) -> dict[str, Any]:
    """Write the sample into home/landing/<day>/, home/control/deletions.csv and home/evalsets/."""
    home = Path(home)
    generated = write_landing(home / "landing", n=GENERATED_PER_DAY, days=DAYS, start=START, seed=SEED,
                              control_dir=home / "control")
    hh, hh_counts = hh_events(DAYS, START)
    for day, events in hh.items():
        _write_jsonl_gz(home / "landing" / day / HH_FILE, events)
    leaks = benchmark_leaks(DAYS, START)
    for day, events in leaks.items():
        _write_jsonl_gz(home / "landing" / day / LEAK_FILE, events)
    return {
        "days": sorted(set(generated["days"]) | set(hh)),
        "generated_records": generated["records"],
        "generated_malformed": generated["malformed"],
        "hh_rlhf": hh_counts,
        "benchmark_leaks": sum(len(v) for v in leaks.values()),
        "deleted_users": generated["deleted_users"],
        "evalsets": copy_evalsets(home / "evalsets"),
    }
