"""Rebuild data/evalsets/ from the upstream benchmark files: one gzipped JSONL per benchmark,
one line per prompt, {"benchmark", "item_id", "prompt"}, plus each upstream LICENSE.

    .venv/bin/python scripts/build_evalsets.py [SOURCE_DIR]

SOURCE_DIR holds the upstream files as published (default: ../shared/data/evalsets); the
README in data/evalsets/ names repository, path and commit of each.
"""

from __future__ import annotations

import gzip
import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TARGET = ROOT / "data" / "evalsets"


def _lines(path: Path):
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield json.loads(line)


def items(source: Path) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    out["mt-bench"] = [{"item_id": f"{q['question_id']}-turn{t + 1}", "prompt": turn}
                       for q in _lines(source / "mt-bench" / "question.jsonl") for t, turn in enumerate(q["turns"])]
    out["arena-hard"] = [{"item_id": q["uid"], "prompt": q["prompt"]}
                         for q in _lines(source / "arena-hard" / "question-v0.1.jsonl")]
    out["humaneval"] = [{"item_id": q["task_id"], "prompt": q["prompt"]}
                        for q in _lines(source / "humaneval" / "HumanEval.jsonl.gz")]
    out["gsm8k"] = [{"item_id": f"test-{k}", "prompt": q["question"]}
                    for k, q in enumerate(_lines(source / "gsm8k" / "test.jsonl"))]
    out["self-instruct"] = [{"item_id": q["id"], "prompt": q["instruction"]}
                            for q in _lines(source / "self-instruct" / "user_oriented_instructions.jsonl")]
    return out


def main() -> None:
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT.parent / "shared" / "data" / "evalsets"
    TARGET.mkdir(parents=True, exist_ok=True)
    for benchmark, rows in items(source).items():
        data = "".join(json.dumps({"benchmark": benchmark, **r}, ensure_ascii=False) + "\n" for r in rows)
        (TARGET / f"{benchmark}.jsonl.gz").write_bytes(gzip.compress(data.encode(), mtime=0))
        shutil.copyfile(source / benchmark / "LICENSE", TARGET / f"{benchmark}.LICENSE")
        print(f"{benchmark}: {len(rows)} prompts")


if __name__ == "__main__":
    main()
