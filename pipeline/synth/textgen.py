"""Text composed from real messages, for many sequences at once.

A `Chains` model holds real messages of a few kinds (user turns, assistant turns, preferred
and dispreferred replies), split into tokens (a word with the whitespace after it). A text of a
kind is a chain of runs of that kind's real text: it opens with the opening of a real message,
copies a few tokens of it (a run of MEAN_RUN tokens on average), then jumps to another place in
the kind's text where the token it just wrote occurs and copies on from there. That is a
first-order Markov chain over tokens that keeps the source's word order between jumps: the
vocabulary, bigrams, punctuation and paragraphing are the real text's, and since each jump
chooses among every occurrence of a token, texts come out distinct. A text is as long as a real
message of its kind picked at random and ends at the end of a sentence; reaching the end of a
message sooner starts a new paragraph from the opening of another.

Each sequence has a 64-bit key and draws its random numbers from splitmix64 seeded by it, so a
text depends on its key alone, not on which texts are generated beside it: an event rebuilt in
another batch (a redelivery) gets the same text. All sequences of a batch advance together, one
numpy step per run; no Python code runs per sequence.

Texts come out JSON-escaped (without the quotes): JSON escaping works character by character,
so an escaped text is the concatenation of the escaped runs, and callers splice it into JSON
records directly. A run is a byte range of the escaped corpus, so texts are assembled as Arrow
string views over it and copied out once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import orjson
import pyarrow as pa

MEAN_RUN = 8  # tokens copied between jumps, on average
STOP_AT_MESSAGE_END = 0.8  # a text that meets a message end after this share of its length ends there
MAX_TOKENS = 1200  # longest sequence (about the longest bundled reply)
SENTENCE_ENDS = (".", "!", "?", ":", ".)", '."', ".”", "?”", '?"', "!”", '!"', "```")
PARAGRAPH = "\n\n"
_TOKEN = re.compile(r"\S+\s*")
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_RESTART = np.uint64(0xD1B54A32D192ED03)
_S8, _S32 = np.uint64(8), np.uint64(32)
_BYTE = np.uint64(0xFF)
_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)
_INLINE = 12  # Arrow string views hold strings of up to 12 bytes inline


def mix64(x: np.ndarray) -> np.ndarray:
    """splitmix64's finalizer (a copy)."""
    x = np.asarray(x, dtype=np.uint64).copy()
    with np.errstate(over="ignore"):
        x ^= x >> np.uint64(30)
        x *= np.uint64(0xBF58476D1CE4E5B9)
        x ^= x >> np.uint64(27)
        x *= np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return x


def key(*parts: np.ndarray | int) -> np.ndarray:
    """A 64-bit key per row from integer parts (arrays broadcast): mix(...mix(mix(a) ^ b)...)."""
    out = None
    for part in parts:
        value = np.uint64(part % (1 << 64)) if isinstance(part, int) else np.asarray(part).astype(np.uint64)
        out = mix64(value if out is None else out ^ value)
    return out


def pick(z: np.ndarray, n: np.ndarray | int) -> np.ndarray:
    """A uniform index below n (< 2**32) from the high 32 bits of z, as int64."""
    return (((z >> _S32) * np.asarray(n, dtype=np.uint64)) >> _S32).astype(np.int64)


def _whitespace(ws: str) -> str:
    """Whitespace after a token, in a few shapes: a space, a line break (keeping indentation
    of up to 16 spaces, as code has) or a blank line."""
    if not ws:
        return ""
    lines = ws.count("\n")
    if not lines:
        return " "
    indent = ws[ws.rfind("\n") + 1:]
    indent = indent if len(indent) <= 16 and not indent.strip(" ") else ""
    return (PARAGRAPH if lines >= 2 else "\n") + indent


def _run_lengths() -> np.ndarray:
    """256 quantiles of a geometric run length >= 1 with mean MEAN_RUN."""
    u = (np.arange(256) + 0.5) / 256
    return (1 + np.floor(np.log(u) / np.log(1 - 1 / MEAN_RUN))).astype(np.int64)


@dataclass(frozen=True)
class Spans:
    """Texts as runs of corpus tokens: text i is runs offsets[i]:offsets[i + 1]; a run copies
    `length` tokens from corpus `position`; a `paragraph` run starts a new paragraph."""

    offsets: np.ndarray
    position: np.ndarray
    length: np.ndarray
    paragraph: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def tokens(self) -> np.ndarray:
        return np.add.reduceat(self.length, self.offsets[:-1]) if len(self.position) else np.zeros(len(self), np.int64)


@dataclass(frozen=True)
class Chains:
    """Real messages of several kinds as one token corpus (kinds one after another).

    Per corpus position: the byte range of its escaped token in `data`, the end of its message,
    the next sentence end in its message and its jump group (the places its token occurs with a
    token after it, in its kind's family; -1 for message-final tokens)."""

    kinds: tuple[str, ...]
    data: np.ndarray  # the escaped corpus text, then an escaped paragraph break
    words: np.ndarray  # data as 8 byte-shifted uint64 rows, for unaligned 8-byte reads
    byte_start: np.ndarray
    word_end: np.ndarray
    message_end: np.ndarray
    sentence_next: np.ndarray
    sentence_prev: np.ndarray  # the last sentence end at or before a position (maybe in an earlier message)
    group: np.ndarray
    place_rank: np.ndarray  # a position's index among the places of its group
    group_start: np.ndarray
    group_count: np.ndarray
    places: np.ndarray  # corpus positions with a token after them, by group (groups in kind order)
    family: np.ndarray  # kind -> the family whose text its jumps land in
    places_lo: np.ndarray  # per family, its range in places (to draw tokens by frequency)
    places_n: np.ndarray
    starts: np.ndarray  # opening position of each real message, by kind
    starts_lo: np.ndarray
    starts_n: np.ndarray
    lengths: np.ndarray  # token count of each real message, by kind
    paragraph_at: int  # byte offset of the escaped paragraph break in data

    def kind(self, name: str) -> int:
        return self.kinds.index(name)

    # ------------------------------------------------------------ generation

    def _openings(self, kinds: np.ndarray, z: np.ndarray) -> np.ndarray:
        return self.starts[self.starts_lo[kinds] + pick(z, self.starts_n[kinds])]

    def generate(self, kinds: np.ndarray, keys: np.ndarray, max_tokens: int = MAX_TOKENS) -> Spans:
        """One text per (kind, key)."""
        n = len(keys)
        kinds = np.asarray(kinds, dtype=np.int64)
        x = np.asarray(keys, dtype=np.uint64).copy()
        with np.errstate(over="ignore"):
            x += _GOLDEN
        # A text opens like a real message and is about as long as that message, but leaves it
        # before its end (a text of one message is not a copy of it).
        message = self.starts_lo[kinds] + pick(mix64(x), self.starts_n[kinds])
        start, target = self.starts[message], np.clip(self.lengths[message], 1, max_tokens)
        runs = _run_lengths()
        mean = np.clip((target * 256) // (3 * MEAN_RUN), 256 // MEAN_RUN, 256)  # run scale, in 1/256
        rows = np.arange(n)
        done = np.zeros(n, dtype=np.int64)
        count = np.zeros(n, dtype=np.int64)
        out: list[tuple[np.ndarray, ...]] = []
        at, paragraph = start, np.zeros(n, dtype=bool)
        while len(rows):
            with np.errstate(over="ignore"):
                x[rows] += _GOLDEN
            z = mix64(x[rows])
            if out:  # jump: another place of the last token, or a new paragraph after a message end
                last = at
                group = self.group[last]
                paragraph = group < 0
                safe = np.where(paragraph, 0, group)
                other = pick(z, self.group_count[safe] - np.uint64(1))  # any place of the token but this one
                other += other >= self.place_rank[last]
                at = self.places[self.group_start[safe] + other] + 1
                new = np.flatnonzero(paragraph)
                if len(new):
                    at[new] = self._openings(kinds[rows[new]], mix64(z[new] ^ _RESTART))
            room = self.message_end[at] - at
            # Short texts jump sooner: runs average a third of the text (up to MEAN_RUN) and
            # are at most twice that, so no text copies a long stretch of one real message;
            # the first run leaves its message before the end.
            # (Lengths past a cap wrap around below it rather than pile up at it.)
            scale = mean[rows]
            run = np.maximum(1, (runs[((z >> _S8) & _BYTE).astype(np.int64)] * scale) >> 8)
            run = 1 + (run - 1) % np.maximum(1, (2 * MEAN_RUN * scale) >> 8)
            length = 1 + (run - 1) % np.maximum(1, room - 1) if not out else np.minimum(run, room)
            left = target[rows] - done[rows]
            final = length >= left
            ends = np.flatnonzero(final)
            if len(ends):  # the last run stops at the sentence end nearest to the target length
                a, goal = at[ends], at[ends] + left[ends] - 1
                after, before = self.sentence_next[goal], self.sentence_prev[goal]
                stop = np.where((before >= a) & (goal - before < after - goal), before, after)
                slack = np.maximum(3, target[rows[ends]] // 2)
                length[ends] = np.where(stop - goal <= slack, stop, goal) - a + 1  # or mid-sentence
            # Reaching a message end near the target length ends the text there too.
            final |= (length == room) & (STOP_AT_MESSAGE_END * target[rows] <= done[rows] + length)
            out.append((rows, at, length, paragraph, count[rows]))
            count[rows] += 1
            done[rows] += length
            keep = ~final
            rows, at = rows[keep], (at + length - 1)[keep]
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(count, out=offsets[1:])
        position = np.empty(offsets[-1], dtype=np.int64)
        run_length = np.empty(offsets[-1], dtype=np.int64)
        para = np.empty(offsets[-1], dtype=bool)
        for r, a, length, p, k in out:
            slot = offsets[r] + k
            position[slot], run_length[slot], para[slot] = a, length, p
        return Spans(offsets, position, run_length, para)

    def substitute(self, spans: Spans, rows: np.ndarray, keys: np.ndarray, count: np.ndarray, kind: int) -> Spans:
        """The texts `rows` of `spans` with `count` tokens each (at places drawn from its key)
        replaced by tokens of `kind` drawn by their frequency."""
        rows = np.asarray(rows, dtype=np.int64)
        first, last = spans.offsets[rows], spans.offsets[rows + 1]
        nruns = last - first
        run_index = np.repeat(first - np.concatenate([[0], np.cumsum(nruns)[:-1]]), nruns) + np.arange(nruns.sum())
        lengths = spans.length[run_index]
        run_tokens = np.repeat(np.arange(len(run_index)), lengths)
        within = np.arange(len(run_tokens)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        position = spans.position[run_index][run_tokens] + within
        paragraph = np.zeros(len(position), dtype=bool)
        paragraph[(np.cumsum(lengths) - lengths)[spans.paragraph[run_index]]] = True
        tokens = np.add.reduceat(lengths, np.concatenate([[0], np.cumsum(nruns)[:-1]])) if len(rows) else nruns
        token_lo = np.concatenate([[0], np.cumsum(tokens)[:-1]])
        repeat = np.repeat(np.arange(len(rows)), count)
        which = np.arange(len(repeat)) - np.repeat(np.cumsum(count) - count, count)
        z = key(np.asarray(keys, dtype=np.uint64)[repeat], which)
        spot = token_lo[repeat] + pick(z, tokens[repeat])
        family = self.family[kind]
        position[spot] = self.places[self.places_lo[family] + pick(mix64(z), self.places_n[family])]
        # Back to runs: a run breaks where positions stop being consecutive.
        starts = np.ones(len(position), dtype=bool)
        starts[1:] = (position[1:] != position[:-1] + 1) | paragraph[1:]
        starts[token_lo] = True
        run_start = np.flatnonzero(starts)
        run_len = np.diff(np.append(run_start, len(position)))
        runs_per_text = np.add.reduceat(starts.astype(np.int64), token_lo) if len(rows) else tokens
        offsets = np.zeros(len(rows) + 1, dtype=np.int64)
        np.cumsum(runs_per_text, out=offsets[1:])
        return Spans(offsets, position[run_start], run_len, paragraph[run_start])

    # ------------------------------------------------------------ text

    def texts(self, spans: Spans) -> pa.Array:
        """The escaped text of each sequence (large_string)."""
        n = len(spans)
        breaks = spans.paragraph
        # Pieces: every run, with the escaped paragraph break before a paragraph run.
        slot = np.arange(len(spans.position)) + np.cumsum(breaks)
        pieces = len(spans.position) + int(breaks.sum())
        lo = np.full(pieces, self.paragraph_at, dtype=np.int64)
        hi = np.full(pieces, self.paragraph_at + len(_escape(PARAGRAPH)), dtype=np.int64)
        end = spans.position + spans.length - 1
        lo[slot] = self.byte_start[spans.position]
        hi[slot] = self.byte_start[end + 1]
        last = spans.offsets[1:] - 1
        last = last[spans.offsets[1:] > spans.offsets[:-1]]
        hi[slot[last]] = self.word_end[end[last]]  # a text ends without trailing whitespace
        size = hi - lo
        views = np.empty((pieces, 2), dtype=np.uint64)
        flat = self.words.reshape(-1)
        width = self.words.shape[1]
        head = flat[(lo & 7) * width + (lo >> 3)]
        tail = flat[((lo + 4) & 7) * width + ((lo + 4) >> 3)]
        views[:, 0] = size.astype(np.uint64) | ((head & _MASKS[np.minimum(size, 4)]) << _S32)
        views[:, 1] = np.where(size <= _INLINE, tail & _MASKS[np.clip(size - 4, 0, 8)], lo.astype(np.uint64) << _S32)
        joined = pa.Array.from_buffers(pa.string_view(), pieces, [None, pa.py_buffer(views),
                                                                 pa.py_buffer(self.data)]).cast(pa.large_string())
        piece_offsets = np.zeros(pieces + 1, dtype=np.int64)
        np.cumsum(size, out=piece_offsets[1:])
        text_pieces = spans.offsets + np.concatenate([[0], np.cumsum(breaks)])[spans.offsets]
        return pa.LargeStringArray.from_buffers(n, pa.py_buffer(piece_offsets[text_pieces]), joined.buffers()[2])


def _escape(text: str) -> bytes:
    return orjson.dumps(text)[1:-1]


def build_chains(corpora: dict[str, Sequence[str]], families: dict[str, str] | None = None) -> Chains:
    """A Chains model over named corpora of real messages (empty and repeated messages are
    skipped). Kinds of one family (default: each kind its own) share their jumps: a text opens
    like a message of its kind and is as long as one, but may continue in any text of the family."""
    families = families or {}
    family_names = list(dict.fromkeys(families.get(k, k) for k in corpora))
    family = np.array([family_names.index(families.get(k, k)) for k in corpora], dtype=np.int64)
    vocab: dict[str, int] = {}
    token_ids: list[int] = []
    escaped: list[bytes] = []
    word_bytes: list[int] = []
    message_kind: list[int] = []
    message_len: list[int] = []
    for kind, messages in enumerate(corpora.values()):
        for text in dict.fromkeys(t.replace("\r\n", "\n").strip() for t in messages):  # each message once
            tokens = _TOKEN.findall(text)
            if not tokens:
                continue
            for tok in tokens:
                word = tok.rstrip()
                ws = _whitespace(tok[len(word):])
                token_ids.append(vocab.setdefault(word + ws, len(vocab)))
                word_escaped = _escape(word)
                escaped.append(word_escaped + _escape(ws))
                word_bytes.append(len(word_escaped))
            message_kind.append(kind)
            message_len.append(len(tokens))
    tok = np.array(token_ids, dtype=np.int64)
    lens = np.array(message_len, dtype=np.int64)
    mkind = np.array(message_kind, dtype=np.int64)
    n_kinds, n_tok = len(corpora), len(tok)
    sizes = np.array([len(e) for e in escaped], dtype=np.int64)
    byte_start = np.zeros(n_tok + 1, dtype=np.int64)
    np.cumsum(sizes, out=byte_start[1:])
    data = b"".join(escaped) + _escape(PARAGRAPH)
    padded = np.zeros(len(data) + 24, dtype=np.uint8)
    padded[:len(data)] = np.frombuffer(data, dtype=np.uint8)
    width = (len(data) + 16) // 8
    words = np.stack([padded[k:k + 8 * width].copy().view(np.uint64) for k in range(8)])

    msg_start = np.zeros(len(lens), dtype=np.int64)
    np.cumsum(lens[:-1], out=msg_start[1:])
    message_end = np.repeat(msg_start + lens, lens)
    final = np.zeros(n_tok, dtype=bool)
    final[msg_start + lens - 1] = True
    texts = sorted(vocab, key=vocab.get)
    ends_sentence = np.array([t.rstrip().endswith(SENTENCE_ENDS) for t in texts], dtype=bool)[tok] | final
    sentence_next = np.minimum.accumulate(np.where(ends_sentence, np.arange(n_tok), n_tok)[::-1])[::-1]
    sentence_prev = np.maximum.accumulate(np.where(ends_sentence, np.arange(n_tok), -1))
    kind_of = np.repeat(mkind, lens)
    # Jump groups: (kind, token) over the places that have a token after them. A token with
    # one such place jumps anywhere in its kind's text (a group per kind, after the others).
    family_of = family[kind_of]
    n_families = len(family_names)
    group_key = family_of * len(vocab) + tok
    inner = np.flatnonzero(~final)
    keys, group_of = np.unique(group_key[inner], return_inverse=True)
    order = np.argsort(group_of, kind="stable")
    places = inner[order]
    group_count = np.bincount(group_of, minlength=len(keys))
    group_start = np.zeros(len(keys), dtype=np.int64)
    np.cumsum(group_count[:-1], out=group_start[1:])
    places_n = np.bincount(family_of[places], minlength=n_families)
    places_lo = np.zeros(n_families, dtype=np.int64)
    np.cumsum(places_n[:-1], out=places_lo[1:])
    group = np.full(n_tok, -1, dtype=np.int64)
    group[inner] = np.where(group_count[group_of] > 1, group_of, len(keys) + family_of[inner])
    group_start = np.concatenate([group_start, places_lo])
    group_count = np.concatenate([group_count, places_n])
    place_rank = np.zeros(n_tok, dtype=np.int64)
    place_rank[places] = np.arange(len(places))
    place_rank[inner] -= group_start[group[inner]]
    by_kind = np.argsort(mkind, kind="stable")
    starts_n = np.bincount(mkind, minlength=n_kinds)

    def lo(count: np.ndarray) -> np.ndarray:
        out = np.zeros(len(count), dtype=np.int64)
        np.cumsum(count[:-1], out=out[1:])
        return out

    return Chains(
        kinds=tuple(corpora), data=np.frombuffer(data, dtype=np.uint8), words=words,
        byte_start=byte_start, word_end=byte_start[:-1] + np.array(word_bytes, dtype=np.int64),
        message_end=message_end, sentence_next=sentence_next, sentence_prev=sentence_prev,
        group=group, place_rank=place_rank, group_start=group_start, group_count=group_count.astype(np.uint64),
        family=family, places=places, places_lo=places_lo, places_n=places_n.astype(np.uint64),
        starts=msg_start[by_kind], starts_lo=lo(starts_n), starts_n=starts_n.astype(np.uint64),
        lengths=lens[by_kind], paragraph_at=len(data) - len(_escape(PARAGRAPH)),
    )
