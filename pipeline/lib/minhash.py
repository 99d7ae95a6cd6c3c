"""MinHash signatures and LSH banding for near-duplicate prompts, columnar end to end.

Shingles are word n-grams of the normalized text (lowercase, punctuation to spaces), hashed
by DuckDB into one list per prompt. A permutation is Dietzfelbinger's multiply-shift hash
h(x) = (a·x + b) >> 32 on the 32-bit folded shingle hash; since the shift is monotonic the
minimum is taken before shifting, so a permutation costs one multiply, one add and one
segmented minimum over all shingles of a batch. Batches run on a thread pool (numpy
releases the GIL). Candidates are prompts sharing any band of ``rows`` signature values;
each is verified by the signatures' estimated Jaccard before it becomes an edge.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from pipeline.lib.hashing import content_id


@dataclass(frozen=True)
class MinHashConfig:
    shingle_words: int = 3
    bands: int = 20
    rows: int = 5
    threshold: float = 0.7  # estimated Jaccard an LSH candidate needs to become an edge
    seed: int = 20261124

    @property
    def num_perm(self) -> int:
        return self.bands * self.rows

    def fingerprint(self) -> str:
        """Signatures depend on shingling, permutations and seed; banding and threshold
        only change which signatures are compared, so they don't invalidate the cache."""
        return content_id({"shingle_words": self.shingle_words, "num_perm": self.num_perm, "seed": self.seed,
                           "hash": f"duckdb-{duckdb.__version__}-hash/multiply-shift-v1"})[:16]

    @classmethod
    def from_config(cls, section: dict | None) -> "MinHashConfig":
        fields = asdict(cls())
        return cls(**{k: type(fields[k])(v) for k, v in (section or {}).items() if k in fields})


TOKEN_SPLIT = r"[^\p{L}\p{N}]+"  # words are runs of letters and digits, in any script


def _token_hashes(words: pa.Array) -> np.ndarray:
    """64-bit hash of each token, hashing each distinct token once (DuckDB's hash)."""
    encoded = pc.dictionary_encode(words)
    con = duckdb.connect()
    try:
        con.register("vocab", pa.table({"w": encoded.dictionary}))
        vocab = con.sql("select hash(w) as h from vocab").to_arrow_table().column("h").to_numpy()
    finally:
        con.close()
    return vocab.astype(np.uint64, copy=False)[encoded.indices.to_numpy(zero_copy_only=False)]


def shingle_hashes(texts: pa.Array, shingle_words: int) -> tuple[np.ndarray, np.ndarray]:
    """(values, starts): the 64-bit word n-gram hashes of every text, concatenated, and the
    offset where each text's hashes start. Texts are lowercased and split on anything but
    letters and digits; a text shorter than the shingle has one shingle (all its words)."""
    lowered = pc.utf8_trim_whitespace(pc.replace_substring_regex(pc.utf8_lower(texts.fill_null("")), TOKEN_SPLIT, " "))
    tokens = pc.split_pattern(lowered, " ")
    lengths = pc.list_value_length(tokens).to_numpy(zero_copy_only=False).astype(np.int64)
    token_hash = _token_hashes(pc.list_flatten(tokens))
    ends = np.cumsum(lengths)
    starts_tok = ends - lengths
    n_shingles = np.maximum(lengths - shingle_words + 1, 1)
    # position of every shingle's first token, and its text's token end
    shingle_text = np.repeat(np.arange(len(lengths)), n_shingles)
    first = np.arange(n_shingles.sum()) - np.repeat(np.cumsum(n_shingles) - n_shingles, n_shingles)
    first += starts_tok[shingle_text]
    end = ends[shingle_text]
    padded = np.concatenate([token_hash, np.zeros(shingle_words, dtype=np.uint64)])
    values = np.zeros(len(first), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for j in range(shingle_words):
            mult = np.uint64((0x9E3779B97F4A7C15 * (2 * j + 1)) & 0xFFFFFFFFFFFFFFFF)
            term = padded[first + j] * mult
            term[first + j >= end] = 0  # a short text: only its own words
            values = (values ^ (values >> np.uint64(31))) + term
    starts = np.concatenate([[0], np.cumsum(n_shingles)[:-1]]).astype(np.int64)
    return values, starts


def _permutations(config: MinHashConfig) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(config.seed)
    a = rng.integers(1, 2**63, size=config.num_perm, dtype=np.uint64) | np.uint64(1)
    b = rng.integers(0, 2**63, size=config.num_perm, dtype=np.uint64)
    return a, b


def _sign_chunk(values: np.ndarray, starts: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    x = (values ^ (values >> np.uint64(32))) & np.uint64(0xFFFFFFFF)
    out = np.empty((len(starts), len(a)), dtype=np.uint32)
    tmp = np.empty_like(x)
    with np.errstate(over="ignore"):
        for p in range(len(a)):
            np.multiply(x, a[p], out=tmp)
            np.add(tmp, b[p], out=tmp)
            out[:, p] = np.minimum.reduceat(tmp, starts) >> np.uint64(32)
    return out


def signatures(texts: pa.Array, config: MinHashConfig, batch: int = 20_000, workers: int | None = None) -> np.ndarray:
    """(len(texts), num_perm) uint32 MinHash signatures."""
    if len(texts) == 0:
        return np.empty((0, config.num_perm), dtype=np.uint32)
    a, b = _permutations(config)
    workers = workers or min(2, os.cpu_count() or 1)

    def sign(lo: int) -> np.ndarray:
        values, starts = shingle_hashes(texts.slice(lo, batch), config.shingle_words)
        return _sign_chunk(values, starts, a, b)

    with ThreadPoolExecutor(workers) as pool:
        parts = list(pool.map(sign, range(0, len(texts), batch)))
    return np.vstack(parts)


def band_hashes(sigs: np.ndarray, config: MinHashConfig) -> np.ndarray:
    """(n, bands) uint64: one hash per band of ``rows`` signature values (a band at a time, so
    the widened copy is n x rows, not n x num_perm)."""
    n = sigs.shape[0]
    out = np.empty((n, config.bands), dtype=np.uint64)
    mult = (np.arange(1, config.rows + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)) | np.uint64(1)
    with np.errstate(over="ignore"):
        for band in range(config.bands):
            mixed = sigs[:, band * config.rows:(band + 1) * config.rows].astype(np.uint64) * mult
            h = np.bitwise_xor.reduce(mixed ^ (mixed >> np.uint64(29)), axis=1)
            out[:, band] = h + np.uint64(band) * np.uint64(0xBF58476D1CE4E5B9)
    return out


def candidate_pairs(bands: np.ndarray, only: np.ndarray | None = None) -> np.ndarray:
    """(m, 2) int64 index pairs (i < j) sharing a band bucket: each bucket is chained in index
    order (consecutive members), which connects it without listing all its pairs. With
    ``only`` (a boolean mask), only buckets holding a marked row are compared; they are found
    with a hash lookup, so a nightly day does not sort the whole history per band."""
    import pandas as pd

    pairs = []
    idx = np.arange(bands.shape[0], dtype=np.int64)
    for band in range(bands.shape[1]):
        keys, rows = bands[:, band], idx
        if only is not None:
            touched = pd.Series(keys).isin(pd.unique(keys[only])).to_numpy()
            keys, rows = keys[touched], idx[touched]
        order = np.lexsort((rows, keys))
        keys, rows = keys[order], rows[order]
        same = keys[1:] == keys[:-1]
        if same.any():
            left, right = rows[:-1][same], rows[1:][same]
            pairs.append(np.stack([np.minimum(left, right), np.maximum(left, right)], axis=1))
    if not pairs:
        return np.empty((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(pairs), axis=0)


def estimated_jaccard(sigs: np.ndarray, pairs: np.ndarray, chunk: int = 200_000) -> np.ndarray:
    out = np.empty(len(pairs), dtype=np.float64)
    for lo in range(0, len(pairs), chunk):
        p = pairs[lo:lo + chunk]
        out[lo:lo + chunk] = (sigs[p[:, 0]] == sigs[p[:, 1]]).mean(axis=1)
    return out


def components(n: int, edges: np.ndarray) -> np.ndarray:
    """Connected-component label per node."""
    if n == 0:
        return np.empty(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(edges), dtype=np.int8), (edges[:, 0], edges[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1]


def cluster(sigs: np.ndarray, config: MinHashConfig, new: np.ndarray | None = None,
            known_edges: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Component label per signature row, the verified edges and their estimated Jaccard.
    With ``new`` (mask of rows not compared before) and ``known_edges`` (verified edges among
    the other rows from earlier builds), only LSH buckets holding a new row are compared."""
    if new is not None and not new.any():
        pairs = np.empty((0, 2), dtype=np.int64)
    else:
        pairs = candidate_pairs(band_hashes(sigs, config), only=new if new is not None and not new.all() else None)
    similarity = estimated_jaccard(sigs, pairs) if len(pairs) else np.empty(0)
    keep = similarity >= config.threshold
    pairs, similarity = pairs[keep], similarity[keep]
    if known_edges is not None and len(known_edges):
        known_sim = estimated_jaccard(sigs, known_edges)
        pairs, index = np.unique(np.concatenate([pairs, known_edges]), axis=0, return_index=True)
        similarity = np.concatenate([similarity, known_sim])[index]
    return components(len(sigs), pairs), pairs, similarity
