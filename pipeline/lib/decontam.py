"""Eval-set decontamination: prompts that overlap a benchmark prompt are dropped from training.

Both sides are normalized the same way as near-duplicate shingling (lowercase, split on
anything but letters and digits). A prompt is contaminated when it shares a word 13-gram with
a benchmark prompt (the GPT-3 and open-instruct rule), or when a benchmark prompt shorter than
13 words (but at least ``min_short_words``) occurs in it as a whole, contiguous. Matching is a
vectorized membership test of n-gram hashes. Each prompt is checked once per eval-set
fingerprint; the results accumulate in prompt_contamination.

Eval sets are `$PREFLINE_HOME/evalsets/*.jsonl[.gz]`, one JSON object per line:
``{"benchmark": "gsm8k", "item_id": "test-0", "prompt": "..."}``.
"""

from __future__ import annotations

import gzip
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import orjson
import pyarrow as pa

from pipeline.lib.hashing import content_id
from pipeline.lib.minhash import TOKEN_SPLIT, shingle_hashes

WINDOW_PROMPTS = "select prompt_hash, min(prompt_text) as prompt_text from normalized_events group by prompt_hash"
SNIPPET_CHARS = 200


@dataclass(frozen=True)
class DecontamConfig:
    enabled: bool = True
    ngram: int = 13
    min_short_words: int = 8

    @classmethod
    def from_config(cls, section: dict | None) -> "DecontamConfig":
        fields = asdict(cls())
        return cls(**{k: type(fields[k])(v) for k, v in (section or {}).items() if k in fields})


@dataclass(frozen=True)
class EvalItem:
    benchmark: str
    item_id: str
    prompt: str


def load_evalsets(folder: Path) -> list[EvalItem]:
    """Every item of every *.jsonl / *.jsonl.gz file in ``folder``, sorted by (benchmark, item_id)."""
    items = []
    for path in sorted(folder.glob("*.jsonl*")) if folder.is_dir() else []:
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                record = orjson.loads(line)
                try:
                    items.append(EvalItem(str(record["benchmark"]), str(record["item_id"]), str(record["prompt"])))
                except KeyError as exc:
                    raise ValueError(f"{path}:{number}: an eval-set line needs benchmark, item_id and prompt "
                                     f"(missing {exc})") from None
    return sorted(items, key=lambda i: (i.benchmark, i.item_id))


def _word_counts(texts: list[str] | pa.Array) -> np.ndarray:
    import pyarrow.compute as pc

    arr = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
    lowered = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(arr), TOKEN_SPLIT, " "))
    counts = pc.list_value_length(pc.split_pattern(lowered, " ")).to_numpy(zero_copy_only=False)
    empty = pc.equal(lowered, "").to_numpy(zero_copy_only=False)
    return np.where(empty, 0, counts)


class _Index:
    """Sorted n-gram hashes of the eval items for one n, with the item each came from."""

    def __init__(self, items: list[EvalItem], item_ids: np.ndarray, n: int) -> None:
        values, starts = shingle_hashes(pa.array([items[i].prompt for i in item_ids], pa.string()), n)
        owner = item_ids[np.searchsorted(starts, np.arange(len(values)), side="right") - 1]
        order = np.lexsort((owner, values))  # per hash, the smallest (benchmark, item) first
        self.values, self.owner = values[order], owner[order]

    def first_match(self, values: np.ndarray, starts: np.ndarray, n_texts: int) -> np.ndarray:
        """Per text, the smallest matching item index, or -1."""
        best = np.full(n_texts, -1, dtype=np.int64)
        if len(self.values) == 0 or len(values) == 0:
            return best
        pos = np.searchsorted(self.values, values)
        pos = np.minimum(pos, len(self.values) - 1)
        hit = self.values[pos] == values
        if not hit.any():
            return best
        text = np.searchsorted(starts, np.flatnonzero(hit), side="right") - 1
        item = self.owner[pos[hit]]
        order = np.lexsort((item, text))
        text, item = text[order], item[order]
        first = np.concatenate(([True], text[1:] != text[:-1]))
        best[text[first]] = item[first]
        return best


def match_prompts(texts: list[str] | pa.Array, items: list[EvalItem], config: DecontamConfig) -> np.ndarray:
    """Per prompt, the index into ``items`` of the smallest benchmark item it overlaps, or -1."""
    texts = texts if isinstance(texts, pa.Array) else pa.array(texts, pa.string())
    best = np.full(len(texts), -1, dtype=np.int64)
    if not items or len(texts) == 0:
        return best
    lengths = _word_counts([i.prompt for i in items])
    long_items = np.flatnonzero(lengths >= config.ngram)
    rules = [(config.ngram, long_items)]
    for words in sorted(set(lengths[(lengths < config.ngram) & (lengths >= config.min_short_words)].tolist())):
        rules.append((int(words), np.flatnonzero(lengths == words)))
    for n, item_ids in rules:
        if len(item_ids) == 0:
            continue
        index = _Index(items, item_ids, n)
        values, starts = shingle_hashes(texts, n)
        if n != config.ngram:
            # a prompt shorter than n words has one partial shingle: it is not a whole item
            short = _word_counts(texts) < n
            values = values.copy()
            values[starts[short]] = 0
        found = index.first_match(values, starts, len(texts))
        better = (found >= 0) & ((best < 0) | (found < best))
        best[better] = found[better]
    return best


def evalset_fingerprint(items: list[EvalItem], config: DecontamConfig) -> str:
    return content_id({"items": content_id([[i.benchmark, i.item_id, i.prompt] for i in items]),
                       "config": asdict(config)})[:16]


def detect_contamination(con, evalsets_dir: Path, settings: dict | None = None) -> dict[str, object]:
    """(Re)write prompt_contamination for the window's prompts, checking only prompts not
    checked against these eval sets before. Returns eval_items, prompts, checked (this build),
    contaminated_prompts, contaminated_share and per-benchmark counts."""
    config = DecontamConfig.from_config(settings)
    items = load_evalsets(evalsets_dir) if config.enabled else []
    fingerprint = evalset_fingerprint(items, config)
    con.execute("create table if not exists prompt_contamination_checked (prompt_hash varchar, evalsets varchar)")
    con.execute("create table if not exists prompt_contamination_found (prompt_hash varchar, evalsets varchar, "
                "benchmark varchar, item_id varchar, matched_text varchar)")
    con.execute("delete from prompt_contamination_checked where evalsets <> ?", [fingerprint])
    con.execute("delete from prompt_contamination_found where evalsets <> ?", [fingerprint])
    todo = con.execute(
        f"""select p.prompt_hash, p.prompt_text from ({WINDOW_PROMPTS}) p
            anti join (select prompt_hash from prompt_contamination_checked) c using (prompt_hash)
            order by p.prompt_hash"""
    ).to_arrow_table()
    matched = match_prompts(todo.column("prompt_text").combine_chunks(), items, config) if todo.num_rows else np.empty(0)
    hits = np.flatnonzero(matched >= 0)
    if len(hits):
        found = pa.table({
            "prompt_hash": todo.column("prompt_hash").take(pa.array(hits)),
            "evalsets": pa.array([fingerprint] * len(hits)),
            "benchmark": pa.array([items[i].benchmark for i in matched[hits]]),
            "item_id": pa.array([items[i].item_id for i in matched[hits]]),
            "matched_text": pa.array([" ".join(items[i].prompt.split())[:SNIPPET_CHARS] for i in matched[hits]]),
        })
        con.register("_found", found)
        con.execute("insert into prompt_contamination_found select * from _found")
        con.unregister("_found")
    con.register("_checked", todo.select(["prompt_hash"]))
    con.execute("insert into prompt_contamination_checked select prompt_hash, ? from _checked", [fingerprint])
    con.unregister("_checked")
    con.execute(
        f"""create or replace table prompt_contamination as
            select f.prompt_hash, f.benchmark, f.item_id, f.matched_text
            from prompt_contamination_found f semi join ({WINDOW_PROMPTS}) p using (prompt_hash)
            order by f.prompt_hash"""
    )
    n_prompts = con.execute(f"select count(*) from ({WINDOW_PROMPTS})").fetchone()[0]
    per_benchmark = dict(con.execute(
        "select benchmark, count(*) from prompt_contamination group by 1 order by 1").fetchall())
    contaminated = sum(per_benchmark.values())
    return {
        "eval_items": len(items),
        "prompts": int(n_prompts),
        "checked": int(todo.num_rows),
        "contaminated_prompts": int(contaminated),
        "contaminated_share": contaminated / n_prompts if n_prompts else 0.0,
        "per_benchmark": per_benchmark,
    }
