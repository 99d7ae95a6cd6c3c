"""Style-marker rates of chosen vs rejected responses on the bundled real preference data,
with prefline's own markers and gap interval (pipeline/final_preference_set/style_bias.py):
HH-RLHF harmless-base test pairs, OASST ranked sibling replies (every better-ranked vs
worse-ranked sibling pair) and PandaLM's test set by three-vote majority (ties left out).
The default `gates.style_<family>_gap_max` thresholds are set so all three pass.

    .venv/bin/python bench/label_trust.py [--data ../shared/data] [--out bench/results/label-trust.json]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import time
from collections import Counter
from pathlib import Path

import duckdb
import pyarrow as pa

from pipeline.core.config import load_config
from pipeline.core.gates import z_value
from pipeline.final_preference_set.style_bias import FAMILIES, paired_gap, rates, style_counts
from pipeline.importers.hh_rlhf import split_pair
from pipeline.synth.hh_rlhf import read_pairs

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def hh_rlhf(data: Path) -> list[tuple[str, str]]:
    out = []
    for record in read_pairs(data / "hh-rlhf" / "harmless-base-test.jsonl.gz"):
        try:
            _, chosen, rejected = split_pair(record["chosen"], record["rejected"])
        except ValueError:
            continue
        if chosen and rejected:
            out.append((chosen, rejected))
    return out


def oasst(data: Path) -> list[tuple[str, str]]:
    out = []

    def walk(message: dict) -> None:
        ranked = sorted((r for r in message.get("replies") or [] if r.get("role") == "assistant"
                         and r.get("rank") is not None and not r.get("deleted")), key=lambda r: r["rank"])
        for i, better in enumerate(ranked):
            for worse in ranked[i + 1:]:
                if better["rank"] < worse["rank"]:
                    out.append((better["text"], worse["text"]))
        for reply in message.get("replies") or []:
            walk(reply)

    with open(data / "oasst" / "en_100_message.jsonl", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                walk(json.loads(line))
    return out


def pandalm(data: Path) -> list[tuple[str, str]]:
    out = []
    for item in json.loads((data / "pandalm" / "testset-v1.json").read_text(encoding="utf-8")):
        votes = Counter(item[f"annotator{i}"] for i in (1, 2, 3))
        winner, count = votes.most_common(1)[0]
        if count >= 2 and winner in (1, 2):
            # a few responses are JSON booleans (answers "True"/"False"): read as their text
            a, b = str(item["response1"]), str(item["response2"])
            out.append((a, b) if winner == 1 else (b, a))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--out", type=Path, default=Path("bench/results/label-trust.json"))
    args = parser.parse_args()
    sets = {"hh-rlhf harmless-base test": hh_rlhf(args.data), "oasst ranked siblings": oasst(args.data),
            "pandalm majority": pandalm(args.data)}
    rows = [(name, c, r) for name, pairs in sets.items() for c, r in pairs]
    con = duckdb.connect()
    con.register("bench_pairs", pa.table({"slice": [r[0] for r in rows], "chosen": [r[1] for r in rows],
                                          "rejected": [r[2] for r in rows]}))
    start, cpu0 = time.perf_counter(), os.times()
    counts = style_counts(con, "select slice, chosen, rejected from bench_pairs where slice is not null")
    wall, cpu1 = time.perf_counter() - start, os.times()
    counts.pop("whole candidate", None)
    thresholds = load_config()["gates"]
    z = z_value(thresholds)
    result = {"rates": rates(counts), "intervals": {}, "thresholds": {f: thresholds[f"style_{f}_gap_max"]
                                                                       for f in FAMILIES},
              "wall_s": round(wall, 3), "cpu_s": round((cpu1.user - cpu0.user) + (cpu1.system - cpu0.system), 3),
              "load": os.getloadavg()[0], "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024}
    print("| data set | pairs | family | chosen rate | rejected rate | gap | 95% interval | threshold | passes |")
    print("|---|---:|---|---:|---:|---:|---|---:|---|")
    for name, families in counts.items():
        for f, k in families.items():
            gap, low, high = paired_gap(k["both"], k["chosen_only"], k["rejected_only"], k["n"], z)
            result["intervals"].setdefault(name, {})[f] = [round(low, 4), round(high, 4)]
            r = result["rates"][name][f]
            limit = float(thresholds[f"style_{f}_gap_max"])
            print(f"| {name} | {k['n']:,} | {f} | {r['chosen_rate']:.3f} | {r['rejected_rate']:.3f} | {gap:+.3f} "
                  f"| {low:+.3f} to {high:+.3f} | {limit:.2f} | {'yes' if low <= limit else 'NO'} |")
    print(f"\nmarkers over {len(rows):,} pairs: wall {wall:.2f} s, cpu {result['cpu_s']:.2f} s, "
          f"load {result['load']:.2f}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
