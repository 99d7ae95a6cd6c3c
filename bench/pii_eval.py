"""Accuracy and throughput of prefline's PII detector (pipeline/template_normalization/pii.py).

    .venv/bin/python bench/pii_eval.py                 # accuracy on tests/data/pii_cases.jsonl
    .venv/bin/python bench/pii_eval.py --texts 1000000 # plus scan_batch throughput

Accuracy is span-level: a prediction is a true positive when its kind and its exact
[start, end) equal a labeled span (one-to-one); anything else is a false positive and
each unmatched labeled span a false negative. A case-level table (the set of kinds per
text) is printed beside it. The same set is also run with the version-context rule for
IP addresses switched off, to show what that rule buys.

presidio-analyzer is compared when a bench-only venv exists at bench/.venv-pii
(`python -m venv bench/.venv-pii && bench/.venv-pii/bin/pip install presidio-analyzer`).
Its AnalyzerEngine needs the spaCy model en_core_web_lg, which is not on PyPI and would be
downloaded at run time, so only its pattern recognizers (email, phone, credit card, IP) are
run, called directly without NLP artifacts (no context-word score boosting), and every
result with a score above 0 counts. It has no recognizer for API keys or secrets.

Results: bench/results/pii.md
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = ROOT / "tests" / "data" / "pii_cases.jsonl"
PRESIDIO_PY = ROOT / "bench" / ".venv-pii" / "bin" / "python"
RESULTS = ROOT / "bench" / "results" / "pii.md"
SHARED_DATA = ROOT.parent / "shared" / "data"
KINDS = ("EMAIL", "PHONE", "CREDIT_CARD", "IP_ADDRESS", "SECRET")
PRESIDIO_KINDS = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "CREDIT_CARD": "CREDIT_CARD", "IP_ADDRESS": "IP_ADDRESS"}


def load_cases() -> list[dict]:
    with CASES.open() as fh:
        return [json.loads(line) for line in fh if line.strip()]


def presidio_worker() -> None:
    """Runs inside bench/.venv-pii: texts on stdin (JSON list), findings on stdout."""
    import tldextract

    # The email recognizer would otherwise try to fetch the public suffix list over the network.
    tldextract.extract = tldextract.TLDExtract(suffix_list_urls=())
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IpRecognizer,
        PhoneRecognizer,
    )

    recognizers = [EmailRecognizer(), PhoneRecognizer(), CreditCardRecognizer(), IpRecognizer()]
    out = []
    for text in json.load(sys.stdin):
        found = []
        for rec in recognizers:
            for r in rec.analyze(text, rec.supported_entities, None):
                if r.score > 0 and r.entity_type in PRESIDIO_KINDS:
                    found.append([PRESIDIO_KINDS[r.entity_type], r.start, r.end])
        out.append(found)
    json.dump(out, sys.stdout)


def run_presidio(texts: list[str]) -> list[list[tuple[str, int, int]]] | None:
    if not PRESIDIO_PY.exists():
        return None
    proc = subprocess.run(
        [str(PRESIDIO_PY), __file__, "--presidio-worker"],
        input=json.dumps(texts), capture_output=True, text=True, check=True,
    )
    return [[tuple(f) for f in row] for row in json.loads(proc.stdout)]


def score(cases: list[dict], predictions: list[list[tuple[str, int, int]]]) -> dict[str, Counter]:
    """Per kind: span-level tp/fp/fn and case-level ktp/kfp/kfn."""
    counts = {k: Counter() for k in KINDS}
    for case, pred in zip(cases, predictions):
        gold = {(s["kind"], s["start"], s["end"]) for s in case["spans"]}
        pred_set = set(pred)
        for kind, *_ in pred_set & gold:
            counts[kind]["tp"] += 1
        for kind, *_ in pred_set - gold:
            counts[kind]["fp"] += 1
        for kind, *_ in gold - pred_set:
            counts[kind]["fn"] += 1
        gold_kinds, pred_kinds = {g[0] for g in gold}, {p[0] for p in pred_set}
        for kind in gold_kinds & pred_kinds:
            counts[kind]["ktp"] += 1
        for kind in pred_kinds - gold_kinds:
            counts[kind]["kfp"] += 1
        for kind in gold_kinds - pred_kinds:
            counts[kind]["kfn"] += 1
    return counts


def prf(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    p = tp / (tp + fp) if tp + fp else 1.0
    r = tp / (tp + fn) if tp + fn else 1.0
    f = 2 * p * r / (p + r) if p + r else 0.0
    return p, r, f


def table(counts: dict[str, Counter], kinds: tuple[str, ...], prefix: str = "") -> list[str]:
    rows = [
        "| kind | spans | span P | span R | span F1 | case P | case R | case F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    total = Counter()
    for kind in kinds:
        c = counts[kind]
        total.update(c)
        p, r, f = prf(c["tp"], c["fp"], c["fn"])
        kp, kr, kf = prf(c["ktp"], c["kfp"], c["kfn"])
        rows.append(f"| {kind} | {c['tp'] + c['fn']} | {p:.3f} | {r:.3f} | {f:.3f} | {kp:.3f} | {kr:.3f} | {kf:.3f} |")
    p, r, f = prf(total["tp"], total["fp"], total["fn"])
    kp, kr, kf = prf(total["ktp"], total["kfp"], total["kfn"])
    rows.append(f"| **all{prefix}** | {total['tp'] + total['fn']} | {p:.3f} | {r:.3f} | {f:.3f} "
                f"| {kp:.3f} | {kr:.3f} | {kf:.3f} |")
    return rows


def errors(cases: list[dict], predictions: list[list[tuple[str, int, int]]]) -> list[str]:
    lines = []
    for case, pred in zip(cases, predictions):
        gold = {(s["kind"], s["start"], s["end"]) for s in case["spans"]}
        for kind, s, e in sorted(set(pred) - gold):
            lines.append(f"- FP {kind} `{case['text'][s:e]!r}` in {case['note']!r}")
        for kind, s, e in sorted(gold - set(pred)):
            lines.append(f"- FN {kind} `{case['text'][s:e]!r}` in {case['note']!r}")
    return lines


def real_texts() -> list[tuple[str, str]]:
    """(source, text) from the public corpora in shared/data: dialogues, prompts, math, code."""
    out: list[tuple[str, str]] = []
    with gzip.open(SHARED_DATA / "hh-rlhf" / "harmless-base-test.jsonl.gz", "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            out.append(("hh-rlhf harmless-base test", rec["chosen"]))
            out.append(("hh-rlhf harmless-base test", rec["rejected"].rsplit("\n\nAssistant:", 1)[-1]))

    def walk(msg: dict):
        yield msg["text"]
        for child in msg.get("replies") or []:
            yield from walk(child)

    with (SHARED_DATA / "oasst" / "en_100_message.jsonl").open() as fh:
        for line in fh:
            out += [("oasst messages", t) for t in walk(json.loads(line))]
    with (SHARED_DATA / "oasst" / "prompt_lottery_en_250_text.jsonl").open() as fh:
        out += [("oasst lottery prompts", json.loads(line)) for line in fh]
    for rec in json.loads((SHARED_DATA / "pandalm" / "testset-v1.json").read_text()):
        text = "\n".join(str(rec.get(k) or "") for k in ("instruction", "input", "response1", "response2"))
        out.append(("pandalm", text))
    with (SHARED_DATA / "evalsets" / "arena-hard" / "question-v0.1.jsonl").open() as fh:
        out += [("arena-hard", json.loads(line)["prompt"]) for line in fh]
    with (SHARED_DATA / "evalsets" / "mt-bench" / "question.jsonl").open() as fh:
        out += [("mt-bench", "\n".join(json.loads(line)["turns"])) for line in fh]
    with (SHARED_DATA / "evalsets" / "gsm8k" / "test.jsonl").open() as fh:
        out += [("gsm8k", (r := json.loads(line))["question"] + "\n" + r["answer"]) for line in fh]
    with gzip.open(SHARED_DATA / "evalsets" / "humaneval" / "HumanEval.jsonl.gz", "rt") as fh:
        for line in fh:
            rec = json.loads(line)
            out.append(("humaneval", rec["prompt"] + rec["canonical_solution"] + rec["test"]))
    return out


def _shape(found: str) -> str:
    """The finding with letters and digits masked, so the report shows its form, not the data."""
    return "".join("9" if c.isdigit() else "a" if c.isalpha() else c for c in found)


def real_text_flags() -> list[str]:
    """Every finding on real public text, for a reader to judge: these corpora hold little PII,
    so each flag is either PII-shaped text that is really there or a false alarm."""
    from pipeline.template_normalization import pii

    per_source: dict[str, Counter] = {}
    listed: Counter = Counter()
    for source, text in real_texts():
        c = per_source.setdefault(source, Counter())
        c["texts"] += 1
        findings = pii.find_pii(text)
        c["flagged"] += bool(findings)
        for f in findings:
            c[f.kind] += 1
            before = text[max(0, f.start - 30) : f.start].replace("\n", " ")
            listed[(source, f.kind, before + "<<" + _shape(text[f.start : f.end])[:60] + ">>")] += 1
    rows = [
        "| source | texts | flagged | " + " | ".join(KINDS) + " |",
        "| --- | ---: | ---: | " + " | ".join("---:" for _ in KINDS) + " |",
    ]
    for source, c in per_source.items():
        rows.append(f"| {source} | {c['texts']:,} | {c['flagged']} | " + " | ".join(str(c[k]) for k in KINDS) + " |")
    rows += ["", "Every flag: source, kind, the 30 characters before it, <<its shape>> (letters a, digits 9):", ""]
    rows += [f"- {src} {kind} `{txt}`" + (f" x{n}" if n > 1 else "") for (src, kind, txt), n in sorted(listed.items())]
    return rows


def synthetic_texts(n_distinct: int, seed: int = 7) -> list[str]:
    """~500-char feedback-like texts: prose, code, versions, dates and numbers; ~5% hold PII."""
    rng = random.Random(seed)
    words = ("the model answer was helpful but too long please explain how this function works "
             "and why the loop is slow in python version compare these two responses which is "
             "better rewrite the email to my manager about the meeting schedule summary of the "
             "article on climate policy write a poem about autumn leaves").split()
    fillers = ["Python 3.11.7", "in 2024", "about 3.14159", "v1.2.3", "x = 42", "@dataclass",
               "on 2024-01-15", "at 14:30", "step 3 of 10", "numpy 1.26.4", "costs $19.99", "2^10 = 1024"]
    pii = ["mail me at jane.roe@example.com", "call +44 20 7946 0958", "card 4111 1111 1111 1111",
           "from 203.0.113.42", "key sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv1wXy4z", "phone (202) 555-0143"]
    out = []
    for _ in range(n_distinct):
        parts: list[str] = []
        while sum(len(p) + 1 for p in parts) < 500:
            roll = rng.random()
            parts.append(rng.choice(fillers) if roll < 0.08 else rng.choice(words))
        if rng.random() < 0.05:
            parts.insert(rng.randrange(len(parts)), rng.choice(pii))
        out.append(" ".join(parts))
    return out


def throughput(n: int) -> list[str]:
    import numpy as np
    import pyarrow as pa

    from pipeline.template_normalization import pii

    distinct = pa.array(synthetic_texts(20_000), type=pa.large_string())
    idx = np.random.default_rng(0).integers(0, len(distinct), n)
    texts = distinct.take(pa.array(idx))
    mb = pa.compute.sum(pa.compute.binary_length(texts)).as_py() / 1e6
    t0 = time.perf_counter()
    screened = int(pii.screen(texts).sum())
    t_screen = time.perf_counter() - t0
    t0 = time.perf_counter()
    result = pii.scan_batch(texts)
    t_scan = time.perf_counter() - t0
    flagged = int((pa.compute.list_value_length(result["kinds"]).to_numpy() > 0).sum())
    real_rows: list[str] = []
    if SHARED_DATA.exists():
        real = pa.array([t for _, t in real_texts()], type=pa.large_string())
        reps = max(1, 200_000 // len(real))
        real_all = pa.concat_arrays([real] * reps)
        real_mb = pa.compute.sum(pa.compute.binary_length(real_all)).as_py() / 1e6
        t0 = time.perf_counter()
        pii.scan_batch(real_all)
        t_real = time.perf_counter() - t0
        real_rows = [
            f"| scan_batch on the shared/data texts x{reps} ({len(real_all):,} texts, {real_mb:,.0f} MB) "
            f"| {len(real_all) / t_real:,.0f} texts/s, {real_mb / t_real:.1f} MB/s |"
        ]
    sample = distinct.to_pylist()[:5_000]
    t0 = time.perf_counter()
    for text in sample:
        pii.find_pii(text)
    per_text = (time.perf_counter() - t0) / len(sample)
    return [
        f"scan_batch on {n:,} synthetic texts ({mb:,.0f} MB, mean {mb * 1e6 / n:.0f} chars, "
        f"~5% holding PII), 2-core machine:",
        "",
        "| measure | value |",
        "| --- | ---: |",
        f"| RE2 screen alone | {t_screen:.2f} s ({screened:,} texts passed, {screened / n:.1%}) |",
        f"| scan_batch total | {t_scan:.2f} s |",
        f"| scan_batch throughput | {n / t_scan:,.0f} texts/s |",
        f"| texts flagged | {flagged:,} ({flagged / n:.1%}) |",
        f"| find_pii alone, no screen (per-text loop) | {1 / per_text:,.0f} texts/s |",
        *real_rows,
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--texts", type=int, default=0, help="also time scan_batch on this many texts")
    ap.add_argument("--presidio-worker", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.presidio_worker:
        presidio_worker()
        return
    sys.path.insert(0, str(ROOT))
    from pipeline.template_normalization import pii

    cases = load_cases()
    texts = [c["text"] for c in cases]
    ours = [[tuple(f) for f in pii.find_pii(t)] for t in texts]
    n_pos = sum(1 for c in cases if c["spans"])
    lines = [
        "# PII detection: pipeline/template_normalization/pii.py",
        "",
        f"Labeled set: `tests/data/pii_cases.jsonl`, {len(cases)} texts ({n_pos} with PII, "
        f"{len(cases) - n_pos} tricky negatives), {sum(len(c['spans']) for c in cases)} labeled spans.",
        "Span columns: exact kind and [start, end) match. Case columns: the set of kinds per text.",
        "",
        "## prefline `pii.find_pii`",
        "",
        *table(score(cases, ours), KINDS),
        "",
        "Misses and false alarms:",
        "",
        *(errors(cases, ours) or ["- none"]),
        "",
    ]
    held = [i for i, c in enumerate(cases) if c["note"].startswith("held-out")]
    if held:
        lines += [
            f"Held-out subset ({len(held)} texts whose note starts with `held-out`, written after the",
            "rules were tuned on the rest and left as measured):",
            "",
            *table(score([cases[i] for i in held], [ours[i] for i in held]), KINDS, " (held-out)"),
            "",
        ]
    original = pii._in_version_context
    pii._in_version_context = lambda text, start: False
    try:
        no_version = [[tuple(f) for f in pii.find_pii(t)] for t in texts]
    finally:
        pii._in_version_context = original
    lines += [
        "## Without the version-context rule for IP addresses",
        "",
        *table(score(cases, no_version), ("IP_ADDRESS",)),
        "",
        *(errors(cases, no_version) and [e for e in errors(cases, no_version) if "IP_ADDRESS" in e] or ["- none"]),
        "",
    ]
    if SHARED_DATA.exists():
        lines += [
            "## Real public text (shared/data): every flag",
            "",
            "No labels here: the table counts findings on real dialogues, prompts, math and code so that",
            "false alarms on everyday text show up. HH-RLHF red-team dialogues ask for contact details, so",
            "most of its flags are PII-shaped strings that are really in the text.",
            "",
            *real_text_flags(),
            "",
        ]
    presidio = run_presidio(texts)
    lines += ["## presidio-analyzer pattern recognizers (email, phone, credit card, IP)", ""]
    if presidio is None:
        lines += ["Not run: bench/.venv-pii is absent.", ""]
    else:
        covered = ("EMAIL", "PHONE", "CREDIT_CARD", "IP_ADDRESS")
        ours_covered = [[f for f in row if f[0] in covered] for row in ours]
        cases_covered = [{**c, "spans": [s for s in c["spans"] if s["kind"] in covered]} for c in cases]
        lines += [
            "Its default AnalyzerEngine needs the spaCy model en_core_web_lg, a run-time download, so the",
            "recognizers run directly without NLP artifacts (no context-word boosting); any score > 0 counts.",
            "It has no secret/API-key recognizer, so SECRET is left out of both rows below.",
            "",
            *table(score(cases_covered, presidio), covered, " (presidio)"),
            "",
            "presidio misses and false alarms:",
            "",
            *(errors(cases_covered, presidio) or ["- none"]),
            "",
            "Same kinds, prefline:",
            "",
            *table(score(cases_covered, ours_covered), covered, " (prefline)"),
            "",
        ]
    if args.texts:
        lines += ["## Throughput", "", *throughput(args.texts), ""]
    report = "\n".join(lines)
    print(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(report)


if __name__ == "__main__":
    main()
