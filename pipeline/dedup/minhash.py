"""MinHash signatures and LSH banding for near-duplicate prompts, vectorized end to end.

Pipeline, per chunk of a few thousand texts (no per-text Python loop anywhere):

1. Normalization: lowercase (Arrow's ``utf8_lower``); words are runs of letters and digits
   in any script, everything else separates words (so punctuation is dropped and whitespace
   collapses). ASCII texts are split by a byte lookup table; only texts with non-ASCII
   characters go through the Unicode regex ``[^\\p{L}\\p{N}]+`` first (Arrow's RE2 runs at
   ~30 MB/s, the byte path several times faster), with the same result.
2. Token hashes straight from the UTF-8 bytes: a polynomial hash mod 2^64 from one prefix sum
   over the chunk's bytes, made position-free by multiplying with the inverse power of the
   token's start, then mixed (splitmix64). No token strings are materialized.
3. Word n-gram shingles: the token hashes of n consecutive words folded into one 64-bit
   value, computed with n shifted slices of the token array; windows that cross a text end
   are masked off. A text shorter than n words has one shingle, of all its words.
4. Signatures: permutation p is h_p(x) = (a_p·x + b_p) >> 32 on the 32-bit folded shingle
   (Dietzfelbinger's multiply-add-shift, 2-universal); the shift is monotonic, so the
   segmented minimum (``np.minimum.reduceat``) is taken on the 64-bit value and shifted once.
   Chunks run on a thread pool: numpy and Arrow release the GIL, so 2 threads use 2 cores.

Measured on 20,000 generated prompts (~110 words each, 12 MB), one core: DuckDB SQL
(``regexp_replace`` + ``string_split`` + ``list_transform(hash)``) 1.05 s for the token
hashes alone; pyarrow.compute regex + split + dictionary hash 0.62 s; the byte path here
0.13 s. n-grams by slices 0.05 s (fancy indexing per shingle was 0.45 s); signing 100
permutations 0.17 s in chunks that stay in cache (0.35 s on the whole batch at once).

LSH: band b hashes rows b·r .. b·r+r-1 of the signature; prompts sharing a band hash are
candidates, verified by the signatures' estimated Jaccard before they become an edge; the
clusters are the connected components of the edges.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.core.hashing import content_id

# Bump when tokenization, shingle hashing or the permutation family changes: it is part of
# the signature fingerprint, so cached signatures are recomputed.
HASH_VERSION = "utf8-poly64/ngram-fold/multiply-add-shift-v2"


@dataclass(frozen=True)
class MinHashConfig:
    """Settings of the ``dedup:`` section of prefline.yaml (defaults in prefline.yaml)."""

    shingle_words: int = 3
    bands: int = 20
    rows: int = 5
    threshold: float = 0.7  # estimated Jaccard an LSH candidate needs to become an edge
    seed: int = 20261124

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def fingerprint(self) -> str:
        """Identity of the signatures: shingling, number of permutations, seed and hash
        version. Banding and threshold only change which signatures are compared."""
        return content_id({"shingle_words": self.shingle_words, "num_perm": self.num_perm, "seed": self.seed,
                           "hash": HASH_VERSION})[:16]

    def lsh_fingerprint(self) -> str:
        """Identity of band hashes and verified edges: the signatures plus bands x rows and
        the threshold."""
        return content_id({"signatures": self.fingerprint(), "bands": self.bands, "rows": self.rows,
                           "threshold": self.threshold})[:16]

    @classmethod
    def from_config(cls, section: dict | None) -> MinHashConfig:
        fields = asdict(cls())
        config = cls(**{k: type(fields[k])(v) for k, v in (section or {}).items() if k in fields})
        if min(config.shingle_words, config.bands, config.rows) < 1 or not 0 < config.threshold <= 1:
            raise ValueError(f"invalid dedup settings: {config}")
        return config


# ---------------------------------------------------------------- normalization, tokens
TOKEN_SPLIT = r"[^\p{L}\p{N}]+"  # words are runs of letters and digits, in any script

_WORD_BYTE = np.zeros(256, dtype=bool)
_WORD_BYTE[list(b"abcdefghijklmnopqrstuvwxyz0123456789")] = True
_WORD_BYTE[0x80:] = True  # bytes of non-ASCII letters and digits (other characters are gone by then)

_P = 0x100000001B3  # odd, so invertible mod 2^64
_M64 = 0xFFFFFFFFFFFFFFFF


def _strings(texts) -> pa.Array:
    """A string or large_string Arrow array from a list, Array or ChunkedArray."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks() if texts.num_chunks != 1 else texts.chunk(0)
    elif not isinstance(texts, pa.Array):
        texts = pa.array(texts, type=pa.string())
    if not (pa.types.is_string(texts.type) or pa.types.is_large_string(texts.type)):
        texts = texts.cast(pa.large_string())
    return texts


def normalize(texts) -> pa.Array:
    """Normalized text: lowercase, every run of characters other than letters and digits
    becomes one space, trimmed. Missing texts are empty. (The signing path tokenizes bytes
    directly; this is the same normalization as strings, for inspection and tests.)"""
    lowered = pc.utf8_lower(_strings(texts).fill_null(""))
    return pc.utf8_trim(pc.replace_substring_regex(lowered, TOKEN_SPLIT, " "), " ")


def _lowered(texts: pa.Array) -> pa.Array:
    """Lowercase; texts with non-ASCII characters also get their separators (Unicode
    punctuation, symbols, spaces) turned into plain spaces, which the byte path splits on."""
    lowered = pc.utf8_lower(texts.fill_null(""))
    non_ascii = pc.invert(pc.string_is_ascii(lowered))
    if pc.any(non_ascii).as_py():
        cleaned = pc.replace_substring_regex(pc.filter(lowered, non_ascii), TOKEN_SPLIT, " ")
        lowered = pc.replace_with_mask(lowered, non_ascii, cleaned)
    return lowered


class _Powers:
    """P^i and P^-i mod 2^64 for i < size, grown on demand and shared by threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.pw = np.ones(1, dtype=np.uint64)
        self.ipw = np.ones(1, dtype=np.uint64)

    def get(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        pw, ipw = self.pw, self.ipw
        if len(pw) >= n:
            return pw, ipw
        with self._lock:
            if len(self.pw) < n:
                size = max(n, 2 * len(self.pw), 1 << 21)
                pw = np.full(size, _P, dtype=np.uint64)
                ipw = np.full(size, pow(_P, -1, 1 << 64), dtype=np.uint64)
                pw[0] = ipw[0] = 1
                with np.errstate(over="ignore"):
                    np.multiply.accumulate(pw, out=pw)
                    np.multiply.accumulate(ipw, out=ipw)
                self.pw, self.ipw = pw, ipw
            return self.pw, self.ipw


_POWERS = _Powers()


def _mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer, in place."""
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def _buffers(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets int64 from 0, UTF-8 bytes) of a string array, without copying the bytes."""
    width = np.int64 if pa.types.is_large_string(arr.type) else np.int32
    offsets = np.frombuffer(arr.buffers()[1], dtype=width)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
    data = arr.buffers()[2]
    data = np.frombuffer(data, dtype=np.uint8) if data is not None else np.empty(0, dtype=np.uint8)
    data = data[offsets[0]:offsets[-1]]
    return offsets - offsets[0], data


def token_hashes(texts) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, counts): the 64-bit hash of every word of every text, concatenated in text
    order, and the number of words of each text."""
    offsets, data = _buffers(_lowered(_strings(texts)))
    n = len(data)
    if n == 0:
        return np.empty(0, dtype=np.uint64), np.zeros(len(offsets) - 1, dtype=np.int64)
    word = _WORD_BYTE[data]
    after_sep = np.empty(n, dtype=bool)  # the byte before is a separator or another text
    after_sep[0] = True
    np.invert(word[:-1], out=after_sep[1:])
    text_starts = offsets[:-1]
    after_sep[text_starts[text_starts < n]] = True
    before_sep = np.empty(n, dtype=bool)  # the byte after is a separator or another text
    before_sep[-1] = True
    np.invert(word[1:], out=before_sep[:-1])
    text_ends = offsets[1:] - 1
    before_sep[text_ends[text_ends >= 0]] = True
    starts = np.flatnonzero(word & after_sep)
    ends = np.flatnonzero(word & before_sep) + 1
    pw, ipw = _POWERS.get(n)
    prefix = np.empty(n + 1, dtype=np.uint64)
    prefix[0] = 0
    with np.errstate(over="ignore"):
        np.cumsum(np.multiply(data, pw[:n], dtype=np.uint64), out=prefix[1:])
        hashes = (prefix[ends] - prefix[starts]) * ipw[starts]
        hashes += (ends - starts).astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    counts = np.diff(np.searchsorted(starts, offsets))
    return _mix64(hashes), counts


_NGRAM_MULT = [np.uint64((0x9E3779B97F4A7C15 * (2 * j + 1)) & _M64) for j in range(64)]


def _fold(acc: np.ndarray | None, term: np.ndarray, j: int) -> np.ndarray:
    with np.errstate(over="ignore"):
        term = term * _NGRAM_MULT[j]
        if acc is None:
            return term
        return (acc ^ (acc >> np.uint64(31))) + term


def ngram_hashes(tokens: np.ndarray, counts: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, starts): the hash of every word n-gram of every text, concatenated, and
    where each text's values start. Every text has at least one value (a text shorter than
    n words: one value of all its words; no words: the value 0)."""
    texts = len(counts)
    ends = np.cumsum(counts)
    first = ends - counts
    m = len(tokens)
    long = counts >= n
    windows = max(m - n + 1, 0)
    if windows and long.any():
        acc = None
        for j in range(n):
            acc = _fold(acc, tokens[j:j + windows], j)
        # window i is valid when it starts in a text at or before that text's end - n
        edge = np.bincount(first[long], minlength=windows + 1) - np.bincount(ends[long] - n + 1, minlength=windows + 1)
        values = acc[np.cumsum(edge[:-1]) > 0]
    else:
        values = np.empty(0, dtype=np.uint64)
    short = np.flatnonzero(~long)
    if len(short):
        acc = None
        for j in range(n):
            present = counts[short] > j
            term = np.where(present, tokens[np.minimum(first[short] + j, max(m - 1, 0))] if m else 0,
                            np.uint64(0)).astype(np.uint64)
            acc = _fold(acc, term, j)
        per_text = np.where(long, counts - n + 1, 0)
        at = (np.cumsum(per_text) - per_text)[short]  # long values before each short text
        values = np.insert(values, at, acc)
    per_text = np.maximum(counts - n + 1, 1)
    starts = (np.cumsum(per_text) - per_text).astype(np.int64)
    assert len(values) == int(per_text.sum()) and len(starts) == texts
    return values, starts


def shingle_hashes(texts, shingle_words: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, starts): the 64-bit word n-gram hashes of every text, concatenated, and the
    offset where each text's hashes start."""
    tokens, counts = token_hashes(texts)
    return ngram_hashes(tokens, counts, shingle_words)


# ---------------------------------------------------------------- signatures
def permutations(config: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (a, b) 64-bit coefficients of the num_perm hash functions (a odd)."""
    rng = np.random.default_rng(config.seed)
    a = rng.integers(1, 2**63, size=config.num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=config.num_perm, dtype=np.uint64)
    return a, b


def minhash(values: np.ndarray, starts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(starts), len(a)) uint32: per segment of ``values`` and permutation, the minimum
    of (a·x + b) >> 32 over its 32-bit folded values x."""
    x = (values ^ (values >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    out = np.empty((len(a), len(starts)), dtype=np.uint64)
    tmp = np.empty_like(x)
    with np.errstate(over="ignore"):
        for p in range(len(a)):
            np.multiply(x, a[p], out=tmp)
            np.add(tmp, b[p], out=tmp)
            np.minimum.reduceat(tmp, starts, out=out[p])
    out >>= np.uint64(32)
    return out.astype(np.uint32).T


def _chunks(offsets: np.ndarray, max_texts: int, max_bytes: int) -> list[tuple[int, int]]:
    """[lo, hi) text ranges of at most max_texts texts and about max_bytes bytes (at least
    one text each): small enough that a chunk's shingles stay in cache."""
    n = len(offsets) - 1
    bounds = []
    lo = 0
    while lo < n:
        hi = int(np.searchsorted(offsets, offsets[lo] + max_bytes, side="right")) - 1
        hi = min(max(hi, lo + 1), lo + max_texts, n)
        bounds.append((lo, hi))
        lo = hi
    return bounds


def signatures(texts, config: MinHashConfig, workers: int | None = None, chunk_texts: int = 2048,
               chunk_bytes: int = 1 << 20) -> np.ndarray:
    """(len(texts), num_perm) uint32 MinHash signatures."""
    arr = _strings(texts)
    out = np.empty((len(arr), config.num_perm), dtype=np.uint32)
    if len(arr) == 0:
        return out
    a, b = permutations(config)
    offsets, _ = _buffers(arr)

    def sign(bounds: tuple[int, int]) -> None:
        lo, hi = bounds
        values, starts = shingle_hashes(arr.slice(lo, hi - lo), config.shingle_words)
        out[lo:hi] = minhash(values, starts, a, b)

    chunks = _chunks(offsets, chunk_texts, chunk_bytes)
    workers = workers or min(2, os.cpu_count() or 1)
    if workers == 1 or len(chunks) == 1:
        for c in chunks:
            sign(c)
    else:
        with ThreadPoolExecutor(workers) as pool:
            list(pool.map(sign, chunks))
    return out


# ---------------------------------------------------------------- LSH and clusters
def band_hashes(sigs: np.ndarray, config: MinHashConfig) -> np.ndarray:
    """(n, bands) uint64: one hash per band of ``rows`` signature values, distinct per band
    (a band at a time, so the widened copy is n x rows, not n x num_perm)."""
    n = sigs.shape[0]
    out = np.empty((n, config.bands), dtype=np.uint64)
    mult = (np.arange(1, config.rows + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)
    with np.errstate(over="ignore"):
        for band in range(config.bands):
            mixed = sigs[:, band * config.rows:(band + 1) * config.rows].astype(np.uint64) * mult
            h = np.bitwise_xor.reduce(mixed ^ (mixed >> np.uint64(29)), axis=1)
            out[:, band] = _mix64(h + np.uint64(band) * np.uint64(0xBF58476D1CE4E5B9))
    return out


def candidate_pairs(bands: np.ndarray) -> np.ndarray:
    """(m, 2) int64 index pairs (i < j) sharing a band bucket. Each bucket is chained in
    index order (every member with the one before it), which connects a bucket of k members
    with k - 1 comparisons instead of k(k-1)/2 (a prompt repeated thousands of times costs
    thousands, not millions). The warehouse path does the same in SQL."""
    pairs = []
    idx = np.arange(bands.shape[0], dtype=np.int64)
    for band in range(bands.shape[1]):
        order = np.lexsort((idx, bands[:, band]))
        keys, rows = bands[order, band], idx[order]
        same = keys[1:] == keys[:-1]
        if same.any():
            pairs.append(np.stack([rows[:-1][same], rows[1:][same]], axis=1))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


def estimated_jaccard(sigs_a: np.ndarray, sigs_b: np.ndarray, chunk: int = 100_000) -> np.ndarray:
    """Share of equal signature values, row by row."""
    out = np.empty(len(sigs_a), dtype=np.float64)
    for lo in range(0, len(sigs_a), chunk):
        out[lo:lo + chunk] = (sigs_a[lo:lo + chunk] == sigs_b[lo:lo + chunk]).mean(axis=1)
    return out


def components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected-component label per node 0..n-1."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster(sigs: np.ndarray, config: MinHashConfig) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """In memory: component label per signature row, the verified edges (i < j) and their
    estimated Jaccard."""
    pairs = candidate_pairs(band_hashes(sigs, config))
    similarity = estimated_jaccard(sigs[pairs[:, 0]], sigs[pairs[:, 1]]) if len(pairs) else np.empty(0)
    keep = similarity >= config.threshold
    return components(len(sigs), pairs[keep]), pairs[keep], similarity[keep]
