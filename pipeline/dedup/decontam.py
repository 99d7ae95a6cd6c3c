"""Eval-set decontamination: prompts that overlap a benchmark prompt are dropped from training.

Both sides are normalized alike: lowercased and cut into words, a word being a run of letters
and digits in any script (punctuation and whitespace only separate words), as near-duplicate
shingling does. A prompt is contaminated when

* it shares a word ``ngram``-gram (13 by default) with a benchmark prompt: the rule of GPT-3 and
  of open-instruct's decontamination, which catches a benchmark prompt pasted whole or in part
  into a longer one; or
* a benchmark prompt shorter than ``ngram`` words, but at least ``min_short_words`` (6) long,
  occurs in it whole and contiguous (short benchmark prompts have no 13-gram at all). Why 6:
  on PandaLM's test set, which reuses Self-Instruct's instructions, the rules find 159 of its
  170 prompts at 8, 165 at 6, 169 at 3, and nothing in 6,131 real HH-RLHF and OASST prompts at
  any of these. What the lower settings add are benchmark prompts of 3-5 words, everyday
  phrases that ordinary prompts contain ("Answer the following question.", "Solve this
  equation.", "Can you parallelize it?"): at a million prompts they would drop honest ones.
  From 6 words on they are specific enough ("Design a medium-level sudoku puzzle.", "Suggest a
  recipe for a vegan dessert.") that a verbatim copy is the likely story.

How: DuckDB tokenizes the prompts and hashes every word (in parallel, streaming in batches, so
memory stays flat at any size); numpy turns the word hashes into the hash of every word
k-gram, k = 1..ngram, one vectorized multiply-add per k over a cache-sized chunk of words
(h_k(i) = sum_{j<k} word(i+j) * M_j mod 2^64), and tests the k-grams that a rule needs against
the eval sets' hashes: a bitmap screens, exact lookups confirm the few survivors. 1M distinct
prompts of 20-200 words take ~17 s on 2 cores, peak RSS 1.5 GB. Per prompt the
smallest matching (benchmark, item_id) wins, so the output is deterministic.

Only distinct prompt hashes are checked, each once per eval-set fingerprint (eval-set content,
the rule settings and the algorithm version): a nightly build checks the day's new prompts, and
changing an eval set re-checks everything. Results accumulate in prompt_contamination_found;
prompt_contamination holds those of the prompts now in normalized_events.

Eval sets are the `*.jsonl[.gz]` files under `$PREFLINE_HOME/evalsets/` (subfolders too), one
JSON object a line, read as the benchmarks publish them (`evalset_items`, first rule that fits):

* ``{"benchmark", "item_id", "prompt"}``: prefline's own shape (the shipped files);
* ``turns``: MT-Bench (a list of strings) or the first Arena-Hard v0.1 files (a list of
  ``{"content"}``): one item a turn, ``<id>-turn<k>``;
* ``instruction`` (+ ``instances[].input``): Self-Instruct: the instruction alone, and the
  instruction followed by each non-empty instance input, ``<id>-instance<k>``;
* ``question``: GSM8K;
* ``prompt`` (a string): HumanEval, Arena-Hard, any one-prompt-a-line file.

The item id is the line's own id (``item_id``, ``question_id``, ``uid``, ``task_id`` or ``id``),
else ``<file stem>:<line>``; the benchmark is the line's ``benchmark``, else the folder the file
sits in under `evalsets/` (``evalsets/gsm8k/test.jsonl`` -> gsm8k), else the file stem
(``evalsets/mt-bench.jsonl`` -> mt-bench). A line no rule reads stops the build with one line
naming the file and line.
"""

from __future__ import annotations

import gzip
import re
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.core.hashing import content_id

ALGORITHM = "word-kgram-multiply-add-v2"
WINDOW_PROMPTS = "select prompt_hash, min(prompt_text) as prompt_text from normalized_events group by prompt_hash"
# Words of a text, hashed. Splitting on spaces first and running the regex only on pieces that
# are not already plain [a-z0-9] gives the same words as regexp_extract_all over the whole text,
# 1.5x faster (RE2 pays per match).
WORD_HASHES = (r"list_transform(flatten(list_transform(string_split(lower({col}), ' '), lambda p: "
               r"case when regexp_full_match(p, '[a-z0-9]+') then [p] else regexp_extract_all(p, '[\p{{L}}\p{{N}}]+') end)), "
               r"lambda w: hash(w))")
WORD = re.compile(r"[^\W_]+")  # the same words, with their offsets in the original text (snippets)
SNIPPET_CHARS = 200
BATCH_PROMPTS = 50_000
CHUNK_WORDS = 1 << 17  # k-gram hashing a chunk at a time: its buffers stay in the CPU cache
BITMAP_BITS = 24  # 16 MB screen of the n-grams: ~0.5% of a prompt's n-grams pass it per 100k eval-set n-grams
PREFIX_BITS = 20  # 1 MB screen of the short items' first words


@dataclass(frozen=True)
class DecontamConfig:
    enabled: bool = True
    ngram: int = 13
    min_short_words: int = 6

    @classmethod
    def from_config(cls, section: dict | None) -> DecontamConfig:
        fields = asdict(cls())
        config = cls(**{k: type(fields[k])(v) for k, v in (section or {}).items() if k in fields})
        if config.ngram < 1 or config.min_short_words < 1:
            raise ValueError(f"decontamination: ngram and min_short_words must be >= 1, got {asdict(config)}")
        return config


@dataclass(frozen=True)
class EvalItem:
    benchmark: str
    item_id: str
    prompt: str


ID_KEYS = ("item_id", "question_id", "uid", "task_id", "id")


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def evalset_items(record: object, benchmark: str, default_id: str) -> list[EvalItem]:
    """The benchmark prompts of one eval-set line, by the first rule that reads it (module
    docstring); ValueError when none does."""
    if not isinstance(record, dict):
        raise ValueError(f"a line must be a JSON object, not {type(record).__name__}")
    own_id = next((str(record[k]) for k in ID_KEYS if isinstance(record.get(k), (str, int))
                   and not isinstance(record.get(k), bool) and str(record[k]).strip()), default_id)
    bench = _text(record.get("benchmark")) or benchmark
    turns = record.get("turns")
    if isinstance(turns, list) and turns:
        texts = [_text(t["content"] if isinstance(t, dict) and "content" in t else t) for t in turns]
        if all(texts):
            return [EvalItem(bench, f"{own_id}-turn{k}", t) for k, t in enumerate(texts, 1)]
    instruction = _text(record.get("instruction"))
    if instruction:
        instances = record.get("instances") if isinstance(record.get("instances"), list) else []
        inputs = [(k, _text(i.get("input"))) for k, i in enumerate(instances, 1) if isinstance(i, dict)]
        return [EvalItem(bench, own_id, instruction)] + [
            EvalItem(bench, f"{own_id}-instance{k}", f"{instruction}\n\n{text}") for k, text in inputs if text]
    for key in ("question", "prompt"):
        text = _text(record.get(key))
        if text:
            return [EvalItem(bench, own_id, text)]
    keys = ", ".join(sorted(record)) or "none"
    raise ValueError(f"no eval-set rule reads this line (keys: {keys}); a line needs a \"prompt\" or "
                     "\"question\" string, \"turns\" (strings or {\"content\"}), or an \"instruction\"")


def _benchmark_of(path: Path, folder: Path) -> str:
    parts = path.relative_to(folder).parts
    if len(parts) > 1:
        return parts[0]
    return path.name.removesuffix(".gz").removesuffix(".jsonl")


def load_evalsets(folder: Path) -> list[EvalItem]:
    """Every item of every *.jsonl / *.jsonl.gz file under ``folder`` (subfolders too), sorted
    by (benchmark, item_id). A line no rule reads, or that is not JSON, is a ValueError naming
    the file and line."""
    items = []
    paths = sorted(p for p in folder.rglob("*.jsonl*") if p.is_file()) if folder.is_dir() else []
    for path in paths:
        if not path.name.endswith((".jsonl", ".jsonl.gz")) or any(
                part.startswith(".") for part in path.relative_to(folder).parts):
            continue
        benchmark = _benchmark_of(path, folder)
        stem = path.name.removesuffix(".gz").removesuffix(".jsonl")
        opener = gzip.open if path.name.endswith(".gz") else open
        with opener(path, "rb") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    record = orjson.loads(line)
                except orjson.JSONDecodeError as exc:
                    raise ValueError(f"eval set {path}:{number}: not JSON ({exc})") from None
                try:
                    items.extend(evalset_items(record, benchmark, f"{stem}:{number}"))
                except ValueError as exc:
                    raise ValueError(f"eval set {path}:{number}: {exc}") from None
    return sorted(items, key=lambda i: (i.benchmark, i.item_id))


def evalset_fingerprint(items: list[EvalItem], config: DecontamConfig) -> str:
    return content_id({"items": content_id([[i.benchmark, i.item_id, i.prompt] for i in items]),
                       "config": asdict(config), "algorithm": ALGORITHM})[:16]


# ---------------------------------------------------------------- k-gram hashes
def _multipliers(n: int) -> np.ndarray:
    """Odd 64-bit constants, one per position in the k-gram (splitmix64 of the position)."""
    x = (np.arange(1, n + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    with np.errstate(over="ignore"):
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x | np.uint64(1)


def _word_hashes(con: duckdb.DuckDBPyConnection, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """(flat word hashes, offsets) of a few texts, by the same DuckDB expression as the prompts'."""
    con.register("_decontam_texts", pa.table({"i": pa.array(range(len(texts)), pa.int64()),
                                              "t": pa.array(texts, pa.string())}))
    try:
        words = con.sql(f"select {WORD_HASHES.format(col='t')} as w from _decontam_texts order by i").to_arrow_table()
    finally:
        con.unregister("_decontam_texts")
    return _flat(words.column("w"))


def _flat(column: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray]:
    lists = column.combine_chunks() if column.num_chunks != 1 else column.chunk(0)
    lengths = pc.fill_null(pc.list_value_length(lists), 0).to_numpy(zero_copy_only=False).astype(np.int64)
    values = pc.list_flatten(lists).to_numpy(zero_copy_only=False).astype(np.uint64, copy=False)
    return values, np.concatenate([[0], np.cumsum(lengths)])


def _kgrams(words: np.ndarray, lengths: list[int], mult: np.ndarray, acc: np.ndarray | None = None,
            tmp: np.ndarray | None = None):
    """Yield (k, h) for each k in ``lengths`` (ascending): h[i] is the hash of the k words from
    flat position i. Windows running past a text's end are not masked here (the caller checks
    the few positions that matter). ``acc`` and ``tmp`` are optional scratch buffers."""
    n = len(words)
    acc = np.zeros(n, dtype=np.uint64) if acc is None else acc[:n]
    acc[:] = 0
    tmp = np.empty(n, dtype=np.uint64) if tmp is None else tmp[:n]
    wanted = set(lengths)
    with np.errstate(over="ignore"):
        for j in range(max(lengths, default=0)):
            m = n - j
            if m <= 0:
                break
            np.multiply(words[j:], mult[j], out=tmp[:m])
            np.add(acc[:m], tmp[:m], out=acc[:m])
            if j + 1 in wanted:
                yield j + 1, acc


class _Index:
    """The eval items' k-gram hashes per rule: for k = ngram every k-gram of every long item, for
    each shorter k >= min_short_words the whole of each item of exactly k words. Each hash keeps
    the smallest item holding it (and the word position there). Lookups are screened: a bitmap
    over the ngram hashes, and for the short rule the first min-length words of each short item
    (a prompt position that does not start one of those cannot start a short item)."""

    def __init__(self, words: np.ndarray, offsets: np.ndarray, config: DecontamConfig) -> None:
        lengths = np.diff(offsets)
        self.ngram = config.ngram
        self.mult = _multipliers(config.ngram)
        self.rules: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        long_items = np.flatnonzero(lengths >= config.ngram)
        short = (lengths < config.ngram) & (lengths >= config.min_short_words)
        self.short_lengths = sorted(set(lengths[short].tolist()))
        self.prefix_k = self.short_lengths[0] if self.short_lengths else 0
        self.prefix = np.empty(0, np.uint64)
        needed = sorted(set(self.short_lengths) | ({config.ngram} if len(long_items) else set()))
        item_of = np.repeat(np.arange(len(lengths)), lengths)
        for k, h in _kgrams(words, needed, self.mult):
            if k == self.prefix_k:
                self.prefix = np.unique(h[offsets[:-1][short]])
            if k == config.ngram:
                starts = [np.arange(offsets[i], offsets[i + 1] - k + 1) for i in long_items]
                pos = np.concatenate(starts) if starts else np.empty(0, np.int64)
            else:
                pos = offsets[:-1][lengths == k]
            hashes, owner, at = h[pos], item_of[pos], pos - offsets[item_of[pos]]
            order = np.lexsort((at, owner, hashes))
            hashes, owner, at = hashes[order], owner[order], at[order]
            first = np.concatenate(([True], hashes[1:] != hashes[:-1])) if len(hashes) else np.empty(0, bool)
            self.rules[k] = (hashes[first], owner[first], at[first])
        self.bitmap = np.zeros(1 << BITMAP_BITS, dtype=bool)
        if config.ngram in self.rules:
            self.bitmap[self.rules[config.ngram][0] >> np.uint64(64 - BITMAP_BITS)] = True
        self.prefix_bitmap = np.zeros(1 << PREFIX_BITS, dtype=bool)
        self.prefix_bitmap[self.prefix >> np.uint64(64 - PREFIX_BITS)] = True

    def match(self, words: np.ndarray, offsets: np.ndarray) -> tuple[np.ndarray, ...]:
        """For a batch of texts: (text, item, text word position, item word position, k) of the
        smallest item each contaminated text matches, at the first position it matches. Works
        through the batch a cache-sized chunk of words at a time."""
        shift, prefix_shift = np.uint64(64 - BITMAP_BITS), np.uint64(64 - PREFIX_BITS)
        ks = sorted(self.rules)
        overlap = max(ks) - 1
        acc = np.empty(CHUNK_WORDS + overlap, dtype=np.uint64)
        tmp = np.empty_like(acc)
        found = []

        def lookup(k: int, h: np.ndarray, candidates: np.ndarray, c0: int) -> None:
            at_word = candidates + c0
            text = np.searchsorted(offsets, at_word, side="right") - 1
            inside = at_word + k <= offsets[text + 1]  # the window stays inside its text
            candidates, at_word, text = candidates[inside], at_word[inside], text[inside]
            hashes, owner, at = self.rules[k]
            slot = np.minimum(np.searchsorted(hashes, h[candidates]), len(hashes) - 1)
            hit = hashes[slot] == h[candidates]
            slot = slot[hit]
            found.append((text[hit], owner[slot], at_word[hit] - offsets[text[hit]], at[slot], np.full(len(slot), k)))

        for c0 in range(0, len(words), CHUNK_WORDS):
            chunk = words[c0:c0 + CHUNK_WORDS + overlap]
            owned = min(CHUNK_WORDS, len(chunk))  # windows starting in the overlap belong to the next chunk
            short_starts = np.empty(0, np.int64)
            for k, h in _kgrams(chunk, ks, self.mult, acc, tmp):
                if k == self.prefix_k:
                    short_starts = np.flatnonzero(np.take(self.prefix_bitmap, (h[:owned] >> prefix_shift).view(np.int64)))
                    short_starts = short_starts[np.isin(h[short_starts], self.prefix)]
                if k == self.ngram:
                    candidates = np.flatnonzero(np.take(self.bitmap, (h[:owned] >> shift).view(np.int64)))
                else:
                    candidates = short_starts
                if len(candidates):
                    lookup(k, h, candidates, c0)
        text, item, pos, at, k = (np.concatenate(parts) for parts in zip(*found)) if found else [np.empty(0, np.int64)] * 5
        if not len(text):
            return text, item, pos, at, k
        order = np.lexsort((pos, item, text))  # per text: smallest item, then first position
        text, item, pos, at, k = text[order], item[order], pos[order], at[order], k[order]
        first = np.concatenate(([True], text[1:] != text[:-1]))
        return text[first], item[first], pos[first], at[first], k[first]


# ---------------------------------------------------------------- snippets
def _snippet(item_text: str, item_words: np.ndarray, text_words: np.ndarray, pos: int, at: int, k: int) -> str:
    """The benchmark text the prompt shares around the match: the matched k words, grown while
    the next words on both sides agree, in the benchmark's own spelling, whitespace collapsed,
    cut to SNIPPET_CHARS."""
    start, end = at, at + k
    shift = pos - at
    while start > 0 and start + shift > 0 and item_words[start - 1] == text_words[start - 1 + shift]:
        start -= 1
    while end < len(item_words) and end + shift < len(text_words) and item_words[end] == text_words[end + shift]:
        end += 1
    spans = [m.span() for m in WORD.finditer(item_text)]
    if len(spans) == len(item_words):
        lo = 0 if start == 0 else spans[start][0]
        hi = len(item_text) if end == len(spans) else spans[end - 1][1]
        text = item_text[lo:hi]
    else:  # the two tokenizers disagree on this text (rare scripts): show it from the top
        text = item_text
    text = " ".join(text.split())
    return text if len(text) <= SNIPPET_CHARS else text[:SNIPPET_CHARS - 1].rstrip() + "…"


# ---------------------------------------------------------------- the stage
def match_prompts(con: duckdb.DuckDBPyConnection, query: str, items: list[EvalItem], config: DecontamConfig,
                  batch: int | None = None) -> pa.Table:
    """Check the prompts of ``query`` (prompt_hash, prompt_text): one row per contaminated
    prompt, (prompt_hash, benchmark, item_id, matched_text)."""
    schema = pa.schema([("prompt_hash", pa.string()), ("benchmark", pa.string()), ("item_id", pa.string()),
                        ("matched_text", pa.string())])
    if not items or not config.enabled:
        return schema.empty_table()
    items = sorted(items, key=lambda i: (i.benchmark, i.item_id))  # index order = which item wins
    item_words, item_offsets = _word_hashes(con, [i.prompt for i in items])
    index = _Index(item_words, item_offsets, config)
    if not index.rules:
        return schema.empty_table()
    rows: list[pa.Table] = []
    words = WORD_HASHES.format(col="prompt_text")
    reader = con.sql(f"select prompt_hash, {words} as w from ({query})").to_arrow_reader(batch or BATCH_PROMPTS)
    for record_batch in reader:
        words, offsets = _flat(pa.chunked_array([record_batch.column("w")]))
        text, item, pos, at, k = index.match(words, offsets)
        if not len(text):
            continue
        snippets = [
            _snippet(items[i].prompt, item_words[item_offsets[i]:item_offsets[i + 1]],
                     words[offsets[t]:offsets[t + 1]], p, a, n)
            for t, i, p, a, n in zip(text.tolist(), item.tolist(), pos.tolist(), at.tolist(), k.tolist())
        ]
        rows.append(pa.table({
            "prompt_hash": record_batch.column("prompt_hash").take(pa.array(text)).cast(pa.string()),
            "benchmark": pa.array([items[i].benchmark for i in item.tolist()], pa.string()),
            "item_id": pa.array([items[i].item_id for i in item.tolist()], pa.string()),
            "matched_text": pa.array(snippets, pa.string()),
        }))
    return pa.concat_tables(rows) if rows else schema.empty_table()


def match_texts(texts: list[str], items: list[EvalItem],
                config: DecontamConfig | None = None) -> list[tuple[str, str, str] | None]:
    """Per text, (benchmark, item_id, matched_text) of the benchmark prompt it overlaps, or None."""
    with duckdb.connect() as con:
        con.register("_texts", pa.table({"prompt_hash": [str(i) for i in range(len(texts))],
                                         "prompt_text": pa.array(texts, pa.string())}))
        found = match_prompts(con, "select * from _texts", items, config or DecontamConfig()).to_pylist()
    out: list[tuple[str, str, str] | None] = [None] * len(texts)
    for row in found:
        out[int(row["prompt_hash"])] = (row["benchmark"], row["item_id"], row["matched_text"])
    return out


def detect_contamination(con: duckdb.DuckDBPyConnection, evalsets_dir: Path,
                         settings: dict | None = None) -> dict[str, object]:
    """(Re)create prompt_contamination(prompt_hash, benchmark, item_id, matched_text) for the
    prompts of normalized_events, checking only prompts not yet checked against these eval sets.

    Returns eval_items (benchmark prompts loaded), prompts (distinct prompts in the window),
    checked (prompts checked by this call), contaminated_prompts, contaminated_share and
    per_benchmark (contaminated prompts per benchmark)."""
    config = DecontamConfig.from_config(settings)
    items = load_evalsets(evalsets_dir) if config.enabled else []
    fingerprint = evalset_fingerprint(items, config)
    con.execute("create table if not exists prompt_contamination_checked (prompt_hash varchar, evalsets varchar)")
    con.execute("create table if not exists prompt_contamination_found (prompt_hash varchar, evalsets varchar, "
                "benchmark varchar, item_id varchar, matched_text varchar)")
    con.execute("delete from prompt_contamination_checked where evalsets <> ?", [fingerprint])
    con.execute("delete from prompt_contamination_found where evalsets <> ?", [fingerprint])
    con.execute(
        f"""create or replace temp table _decontam_todo as
            select p.prompt_hash, p.prompt_text from ({WINDOW_PROMPTS}) p
            anti join prompt_contamination_checked c using (prompt_hash)"""
    )
    try:
        checked = con.sql("select count(*) from _decontam_todo").fetchall()[0][0]
        found = match_prompts(con, "select * from _decontam_todo", items, config) if checked else None
        con.execute("begin transaction")
        try:
            if found is not None and found.num_rows:
                con.register("_decontam_found", found)
                con.execute("insert into prompt_contamination_found select prompt_hash, ?, benchmark, item_id, "
                            "matched_text from _decontam_found", [fingerprint])
                con.unregister("_decontam_found")
            con.execute("insert into prompt_contamination_checked select prompt_hash, ? from _decontam_todo",
                        [fingerprint])
            con.execute(
                """create or replace table prompt_contamination as
                    select f.prompt_hash, f.benchmark, f.item_id, f.matched_text
                    from prompt_contamination_found f
                    semi join (select distinct prompt_hash from normalized_events) p using (prompt_hash)
                    order by f.prompt_hash"""
            )
            con.execute("commit")
        except Exception:
            con.execute("rollback")
            raise
    finally:
        con.execute("drop table if exists _decontam_todo")
    n_prompts = con.sql("select count(distinct prompt_hash) from normalized_events").fetchall()[0][0]
    per_benchmark = dict(con.sql(
        "select benchmark, count(*) from prompt_contamination group by 1 order by 1").fetchall())
    contaminated = sum(per_benchmark.values())
    return {
        "eval_items": len(items),
        "prompts": int(n_prompts),
        "checked": int(checked),
        "contaminated_prompts": int(contaminated),
        "contaminated_share": contaminated / n_prompts if n_prompts else 0.0,
        "per_benchmark": per_benchmark,
    }
