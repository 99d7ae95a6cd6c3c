"""Realistic days: feedback events whose prompts and responses are nearly all distinct.

The pool mode of the generator recombines a few thousand real texts, so a large day repeats
its prompts and every per-text stage works on a few thousand texts. This mode composes each
text instead (pipeline/synth/textgen.py): second-order Markov chains over the bundled real text,
one per kind — HH-RLHF and OASST user turns, assistant turns, preferred replies (HH chosen,
OASST rank 0) and dispreferred ones (HH rejected, lower OASST ranks) — with lengths drawn from
real messages of the same kind. A day of a product's feedback looks like this:

- Event mix of a chat product: mostly thumbs and regenerations, fewer side-by-side pairwise
  comparisons, some ratings and edits. A few thumbs/ratings groups rate several replies to one
  prompt (after a regeneration), so pairs by score gap exist.
- Conversations: one to five user turns (earlier assistant turns included), some behind a
  system prompt; 85% general assistant traffic (OASST chains), 15% red-team-like (HH chains,
  category `safety`). Every conversation is a function of its 64-bit key, so a re-asked prompt
  (a few %) is rebuilt from the key of the original, exactly or with a few words changed, from
  the same day or up to 30 days back. Templates, re-renderings, redeliveries, reused ids,
  opt-outs, deletions and malformed records as in the pool mode.
- PII in a small share of prompts (an email, a phone number or an API key appended to the last
  user turn) and replies (a support email or phone); junk: greetings and keyboard tests as the
  whole prompt, pasted walls of text over the length limit, empty replies.
- Labels follow reply quality (the chain a reply came from) with annotator noise, as in the
  pool mode, so a judge has a signal to learn.

Speed: the random choices are numpy arrays per day; texts are generated per batch of records
with all sequences advancing together, and records are assembled with Arrow string kernels.
The same arguments give byte-identical files.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache, lru_cache

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from pipeline.synth.generate import (
    _CODING,
    _CREATIVE,
    _MATH,
    AI_SHARE,
    ANNOTATED_SHARE,
    CATEGORIES,
    DISCARD_LABEL,
    KINDS,
    LABEL_AGREEMENT,
    MODELS,
    OASST_PROMPTS,
    OPT_OUT_SHARE,
    RENDERINGS,
    SCORE_LABEL,
    SYSTEM_PROMPTS,
    THUMB_LABEL,
    TIE_SHARE,
    UNLABELED_SHARE,
    Mode,
    _idx,
    _join,
    _lit,
    _oasst_groups,
)
from pipeline.synth.hh_rlhf import read_pairs, split_pair
from pipeline.synth.textgen import Chains, Spans, build_chains, key, mix64, pick
from pipeline.template_normalization.templates import render_prompt

# Per group of events on one prompt: pairwise, rating, thumbs, edit, regenerate.
GROUP_WEIGHTS = (0.08, 0.08, 0.45, 0.07, 0.32)
GROUP_SIZES, GROUP_SIZE_WEIGHTS = (1, 2, 3), (0.93, 0.05, 0.02)  # ratings and thumbs of one prompt
TURNS, TURN_WEIGHTS = (1, 2, 3, 4, 5), (0.62, 0.18, 0.10, 0.06, 0.04)
SYSTEM_SHARE = 0.25
HH_SHARE = 0.15  # conversations from the red-team-like HH chains (category safety)
GOOD_SHARE = 0.5  # replies from the preferred-reply chains
REASK_SHARE, REASK_EDITED, REASK_EARLIER, REASK_DAYS_BACK = 0.03, 0.65, 0.3, 30
GREETING_SHARE, PASTE_SHARE, EMPTY_REPLY_SHARE = 0.01, 0.002, 0.003
PII_PROMPT_SHARE, PII_REPLY_SHARE = 0.015, 0.004
EDITED_TOKENS = 0.15  # share of a reply's tokens an edit rewrites
PASTE_CHARS = 34_000  # a paste is repeated past filtering's max_prompt_chars (32,000)
CHUNK_ROWS = 20_000
# Diurnal traffic: relative events per UTC hour.
HOURLY = (3, 2, 2, 2, 2, 3, 4, 6, 8, 9, 10, 10, 10, 10, 10, 10, 9, 9, 9, 9, 8, 7, 6, 4)

GREETINGS = ("hi", "hello", "hey", "test", "testing", "hello?", "hi there", "asdf", "?", "thanks", "ok")
PRODUCT_SYSTEM_PROMPTS = SYSTEM_PROMPTS + (
    "You are Acme Assistant, a helpful and harmless AI assistant. Today's date is 2026-11-01.",
    "Answer as a senior software engineer. Prefer short code examples.",
)
FIRST_NAMES = ("jane", "john", "maria", "wei", "amir", "olga", "kofi", "lucia", "sam", "priya", "tom", "aiko")
LAST_NAMES = ("smith", "garcia", "chen", "okafor", "novak", "silva", "khan", "muller", "rossi", "tanaka")
MAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "proton.me", "hotmail.co.uk", "web.de")
PII_KINDS = ("email", "phone", "api_key")
PII_PROMPT_SENTENCES = {
    "email": ("My email is {}, please send the details there.", "You can reach me at {} if that helps."),
    "phone": ("Call me at {} after 5pm.", "My number is {} if you need it."),
    "api_key": ("Here is my API key {} and the request still fails.", "I set OPENAI_API_KEY to {} but nothing works."),
}
PII_REPLY_SENTENCES = {
    "email": ("If you need more help, write to our support team at {}.",),
    "phone": ("You can also call the support line at {}.",),
}
# Chain kinds: (source, role); replies come from the preferred or the dispreferred chain.
CHAIN_KINDS = ("user_oasst", "assistant_oasst", "good_oasst", "weak_oasst",
               "user_hh", "assistant_hh", "good_hh", "weak_hh")
_USER, _ASSISTANT, _GOOD, _WEAK = 0, 1, 2, 3
_HH_KIND = 4  # offset of the HH kinds
_SAFETY = CATEGORIES.index("safety")
_MARKUP = re.compile(r"\b(Human|Assistant):|\[/?INST\]|<\|[a-z_]+\|>|<</?SYS>>|### (Instruction|Input|Response):|</?s>")
_DAY = 86_400
# Salts of the decisions drawn from one key.
_SHAPE, _SYSTEM, _SOURCE, _PII, _PASTE = 11, 12, 13, 14, 15


def _escaped(text: str) -> str:
    return orjson.dumps(text).decode()[1:-1]


@lru_cache(maxsize=1)
def chains() -> Chains:
    """The Markov chains over the bundled HH-RLHF and OASST text."""
    corpora: dict[str, list[str]] = {k: [] for k in CHAIN_KINDS}
    seen: set[tuple[str, str]] = set()

    def turn(source: str, message: dict[str, str]) -> None:
        role = "user" if message["role"] == "user" else "assistant"
        if (source, message["content"]) not in seen:  # HH pairs and OASST paths share turns
            seen.add((source, message["content"]))
            corpora[f"{role}_{source}"].append(message["content"])


    for record in read_pairs():
        prompt, chosen, rejected = split_pair(record["chosen"], record["rejected"])
        for message in prompt:
            turn("hh", message)
        corpora["good_hh"].append(chosen)
        corpora["weak_hh"].append(rejected)
    for messages, replies, ranks in _oasst_groups():
        for message in messages:
            turn("oasst", message)
        for text, rank in zip(replies, ranks):
            corpora["good_oasst" if rank == 0 else "weak_oasst"].append(text)
    with open(OASST_PROMPTS, "rb") as fh:
        corpora["user_oasst"] += [t for t in (orjson.loads(line) for line in fh if line.strip()) if t.strip()]
    # Text that reads as chat markup would change how a rendered prompt parses.
    return build_chains({k: [t for t in texts if not _MARKUP.search(t)] for k, texts in corpora.items()},
                        families={k: k.split("_")[0] for k in CHAIN_KINDS})


@cache
def _layout(system: bool, turns: int, rendering: str) -> tuple[str, tuple[str, ...], tuple[int, ...]]:
    """How a conversation shape is written in a rendering: (template id, the escaped text
    around the contents, which content goes between them: -1 the system prompt, j the j-th
    generated message). Renderings that cannot hold the shape write chatml, as the pool does."""
    messages = ([{"role": "system", "content": "\x00-1\x00"}] if system else []) + [
        {"role": "user" if j % 2 == 0 else "assistant", "content": f"\x00{j}\x00"} for j in range(2 * turns - 1)]
    if rendering == "messages":
        text, template = orjson.dumps({"messages": messages}).decode(), "messages"
        text = text.replace("\\u0000", "\x00")
    else:
        try:
            text, template = render_prompt(messages, rendering), rendering
        except ValueError:
            text, template = render_prompt(messages, "chatml"), "chatml"
        text = orjson.dumps({"text": text, "template": template}).decode().replace("\\u0000", "\x00")
    parts = re.split(r"\x00(-?\d+)\x00", text)
    return template, tuple(parts[0::2]), tuple(int(p) for p in parts[1::2])


def _digits(values: np.ndarray, width: int) -> pa.Array:
    return pc.utf8_lpad(pc.cast(pa.array(values.astype(np.int64)), pa.large_string()), width, "0")


def _pii_values(keys: np.ndarray, kinds: np.ndarray) -> pa.Array:
    """An email address, a US phone number or an API key per row (kind 0, 1, 2), from its key."""
    z = [mix64(keys ^ np.uint64(salt)) for salt in (1, 2, 3, 4)]
    email = _join(_lit(FIRST_NAMES).take(_idx(pick(z[0], len(FIRST_NAMES)))), ".",
                  _lit(LAST_NAMES).take(_idx(pick(z[1], len(LAST_NAMES)))), _digits(pick(z[2], 100), 2), "@",
                  _lit(MAIL_DOMAINS).take(_idx(pick(z[3], len(MAIL_DOMAINS)))))
    phone = _join("(", _digits(200 + pick(z[0], 800), 3), ") ", _digits(200 + pick(z[1], 800), 3), "-",
                  _digits(pick(z[2], 10_000), 4))
    hex_pairs = _lit([f"{b:02x}" for b in range(256)])
    words = [mix64(keys ^ np.uint64(100 + i)) for i in range(16)]
    secret = _join("sk-proj-", *(hex_pairs.take(_idx(w >> np.uint64(56))) for w in words))
    return pc.choose(pa.array(kinds.astype(np.int8)), email, phone, secret)


def _sentences(table: dict[str, tuple[str, ...]], keys: np.ndarray, kinds: np.ndarray, values: pa.Array) -> pa.Array:
    """A sentence holding each value, the template picked by the key (escaped text)."""
    flat = [(k, t) for k, templates in enumerate(table.values()) for t in templates]
    choice = np.empty(len(keys), dtype=np.int64)
    z = mix64(keys ^ np.uint64(5))
    for k in range(len(table)):
        options = [i for i, (kind, _) in enumerate(flat) if kind == k]
        rows = kinds == k
        choice[rows] = np.array(options)[pick(z[rows], len(options)).astype(np.int64)]
    before = _lit([_escaped(t.split("{}")[0]) for _, t in flat]).take(_idx(choice))
    after = _lit([_escaped(t.split("{}")[1]) for _, t in flat]).take(_idx(choice))
    return _join(before, values, after)


def _replace(texts: pa.Array, rows: np.ndarray, values: pa.Array) -> pa.Array:
    """texts with texts[rows] (increasing) set to values."""
    if not len(rows):
        return texts
    mask = np.zeros(len(texts), dtype=bool)
    mask[rows] = True
    return pc.replace_with_mask(texts, pa.array(mask), values)


class RealisticMode(Mode):
    chunk_rows = CHUNK_ROWS

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.chains = chains()

    # ------------------------------------------------------------ specs (numpy)

    def specs(self, n: int, users: int, midnight: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        day_no = midnight // _DAY
        groups = n
        g_kind = rng.choice(len(KINDS), size=groups, p=GROUP_WEIGHTS).astype(np.int8)
        g_size = np.where((g_kind == 1) | (g_kind == 2),
                          rng.choice(GROUP_SIZES, size=groups, p=GROUP_SIZE_WEIGHTS), 1)
        group = np.repeat(np.arange(groups), g_size)[:n]
        kind = g_kind[group]
        # A conversation is its key; a re-asked one takes the key of an earlier group.
        reask = rng.random(groups) < REASK_SHARE
        edited = reask & (rng.random(groups) < REASK_EDITED)
        back = np.where(rng.random(groups) < REASK_EARLIER, rng.integers(1, REASK_DAYS_BACK + 1, size=groups), 0)
        source_group = rng.integers(0, max(1, groups // 2), size=groups)
        g_conv = np.where(reask, key(self.seed, day_no - back, source_group), key(self.seed, day_no, np.arange(groups)))
        g_variant = np.where(edited, key(self.seed, day_no, np.arange(groups), 7), 0).astype(np.uint64)
        g_edits = np.where(edited, rng.integers(1, 4, size=groups), 0)
        junk_roll = rng.random(groups)
        g_junk = np.where(junk_roll < GREETING_SHARE, 1, np.where(junk_roll < GREETING_SHARE + PASTE_SHARE, 2, 0))
        pii_roll = rng.random(groups)
        g_pii = np.where((pii_roll < PII_PROMPT_SHARE) & (g_junk == 0),
                         rng.integers(0, len(PII_KINDS), size=groups), -1)
        g_render = rng.integers(0, len(RENDERINGS), size=groups)

        seq = np.arange(n, dtype=np.int64)
        two = (kind == 0) | (kind == 4)
        good0, good1 = rng.random(n) < GOOD_SHARE, rng.random(n) < GOOD_SHARE
        good0 &= kind != 3  # an edit shows a weak reply, which the user rewrites
        q0 = np.where(good0, 0.75, 0.3) + rng.uniform(-0.1, 0.1, n)
        q1 = np.where(good1, 0.75, 0.3) + rng.uniform(-0.1, 0.1, n)
        better_first = (q0 >= q1) ^ (rng.random(n) > LABEL_AGREEMENT)
        roll = rng.random(n)
        pairwise_label = np.where(roll < TIE_SHARE, 2, np.where(roll < TIE_SHARE + UNLABELED_SHARE, 3,
                                                                 np.where(better_first, 0, 1)))
        score = np.clip(np.rint(1 + 4 * q0 + rng.normal(0, 0.8, n)), 1, 5).astype(np.int64)
        thumb_down = rng.random(n) >= 0.1 + 0.8 * q0
        label = np.select([kind == 0, kind == 1, kind == 2, kind == 4],
                          [pairwise_label, SCORE_LABEL + score, THUMB_LABEL + thumb_down, DISCARD_LABEL + better_first],
                          -1)
        reply_roll = rng.random(n)
        reply_junk = np.where(reply_roll < EMPTY_REPLY_SHARE, 1,
                              np.where(reply_roll < EMPTY_REPLY_SHARE + PII_REPLY_SHARE, 2, 0))
        annot_roll = rng.random(n)
        annot = np.where(kind == 0, np.where(annot_roll < AI_SHARE, 2, np.where(annot_roll < ANNOTATED_SHARE, 1, 0)), 0)
        hour = rng.choice(24, size=n, p=np.array(HOURLY) / sum(HOURLY))
        return {
            "seq": seq,
            "kind": kind,
            "conv": g_conv[group],
            "variant": g_variant[group],
            "edits": g_edits[group],
            "junk": g_junk[group].astype(np.int8),
            "pii": g_pii[group].astype(np.int8),
            "rendering": g_render[group],
            "user": (users * rng.random(n) ** 2).astype(np.int64),
            "stamp": midnight + hour * 3600 + rng.integers(0, 3600, size=n),
            "day": np.full(n, midnight),
            "consent": rng.random(n) >= OPT_OUT_SHARE,
            "annot": annot.astype(np.int8),
            "annotator_no": rng.integers(0, 25, size=n),
            "saw_draft": (kind == 3) | (rng.random(n) < 0.1),
            "reply0": key(self.seed, day_no, seq, 0), "reply1": np.where(two, key(self.seed, day_no, seq, 1), 0),
            "good0": good0, "good1": good1 & two,
            "reply_junk": reply_junk.astype(np.int8),
            "m0": rng.integers(0, len(MODELS), size=n), "m1": rng.integers(0, len(MODELS), size=n),
            "label": label,
            "retry": np.zeros(n, dtype=bool),
            "broken": np.full(n, -1, dtype=np.int8),
        }

    # ------------------------------------------------------------ texts (Arrow)

    def texts(self, s: dict[str, np.ndarray]) -> dict[str, pa.Array]:
        ch = self.chains
        n = len(s["seq"])
        conv = s["conv"]
        hh = pick(mix64(conv ^ np.uint64(_SOURCE)), 1000) < HH_SHARE * 1000
        offset = np.where(hh, _HH_KIND, 0)
        turns = np.array(TURNS)[np.searchsorted(np.cumsum(TURN_WEIGHTS),
                                                pick(mix64(conv ^ np.uint64(_SHAPE)), 1 << 20) / (1 << 20),
                                                side="right").clip(0, len(TURNS) - 1)]
        z_system = mix64(conv ^ np.uint64(_SYSTEM))
        system = np.where(pick(z_system, 1000) < SYSTEM_SHARE * 1000,
                          pick(mix64(z_system), len(PRODUCT_SYSTEM_PROMPTS)).astype(np.int64), -1)
        greeting = s["junk"] == 1
        turns = np.where(greeting, 1, turns)
        system = np.where(greeting, -1, system)

        # One generate call: every message of every prompt, then the first and second replies.
        n_msg = 2 * turns - 1
        msg_start = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(n_msg, out=msg_start[1:])
        owner = np.repeat(np.arange(n), n_msg)
        j = np.arange(msg_start[-1]) - msg_start[:-1][owner]
        two = np.flatnonzero(s["reply1"] != 0)
        kinds = np.concatenate([offset[owner] + np.where(j % 2 == 0, _USER, _ASSISTANT),
                                offset + np.where(s["good0"], _GOOD, _WEAK),
                                offset[two] + np.where(s["good1"][two], _GOOD, _WEAK)])
        keys = np.concatenate([key(conv[owner], j), s["reply0"], s["reply1"][two]])
        spans = ch.generate(kinds, keys)
        texts = ch.texts(spans)
        n_messages = msg_start[-1]
        messages = texts.slice(0, n_messages)
        reply0 = texts.slice(n_messages, n)
        reply1 = texts.slice(n_messages + n)
        last = msg_start[1:] - 1  # the last user turn of each prompt
        edits = np.flatnonzero(s["kind"] == 3)
        rewritten = np.maximum(1, (spans.tokens()[n_messages + edits] * EDITED_TOKENS).astype(np.int64))
        edit_texts = self._substituted(spans, n_messages + edits, key(s["reply0"][edits], 3), rewritten,
                                       hh[edits], _GOOD)

        # The last user turn: category, junk and PII.
        last_turn = messages.take(pa.array(last))
        rows = np.flatnonzero(s["edits"] > 0)  # re-asked with a few words changed
        last_turn = _replace(last_turn, rows, self._substituted(spans, last[rows], s["variant"][rows],
                                                                s["edits"][rows], hh[rows], _USER))
        rows = np.flatnonzero(greeting)
        z = mix64(conv[rows] ^ np.uint64(_PASTE))
        last_turn = _replace(last_turn, rows, _lit([_escaped(g) for g in GREETINGS]).take(_idx(pick(z, len(GREETINGS)))))
        category = self._category(last_turn, hh & ~greeting)
        rows = np.flatnonzero(s["junk"] == 2)
        if len(rows):
            pasted = _join(last_turn.take(_idx(rows)), _escaped("\n\n"))
            repeats = PASTE_CHARS // np.maximum(1, pc.utf8_length(pasted).to_numpy(zero_copy_only=False)) + 1
            last_turn = _replace(last_turn, rows, pc.binary_repeat(pasted, pa.array(repeats)))
        rows = np.flatnonzero(s["pii"] >= 0)
        if len(rows):
            pii_key = key(conv[rows], s["variant"][rows], _PII)
            kind_of = s["pii"][rows]
            sentence = _sentences(PII_PROMPT_SENTENCES, pii_key, kind_of, _pii_values(pii_key, kind_of))
            last_turn = _replace(last_turn, rows, _join(last_turn.take(_idx(rows)), " ", sentence))
        prompt = self._prompts(messages, last_turn, msg_start, system, turns, s["rendering"])

        # Replies: junk and PII in the first one.
        rows = np.flatnonzero(s["reply_junk"] == 1)
        reply0 = _replace(reply0, rows, pa.array([""] * len(rows), pa.large_string()))
        rows = np.flatnonzero(s["reply_junk"] == 2)
        if len(rows):
            kind_of = (pick(mix64(s["reply0"][rows]), 2)).astype(np.int8)
            sentence = _sentences(PII_REPLY_SENTENCES, s["reply0"][rows], kind_of,
                                  _pii_values(s["reply0"][rows], kind_of))
            reply0 = _replace(reply0, rows, _join(reply0.take(_idx(rows)), " ", sentence))
        models = _lit(MODELS)
        first = _join('{"response_id":"r0","content":"', reply0, '","model":"', models.take(_idx(s["m0"])), '"}')
        second_rows = np.full(n, -1, dtype=np.int64)
        second_rows[two] = np.arange(len(two))
        second = reply1.take(_idx(second_rows, mask=second_rows < 0))
        second = pc.fill_null(_join(',{"response_id":"r1","content":"', second, '","model":"',
                                    models.take(_idx(s["m1"])), '"}'), pa.scalar("", pa.large_string()))
        edit_rows = np.full(n, -1, dtype=np.int64)
        edit_rows[edits] = np.arange(len(edits))
        edit_texts = edit_texts.take(_idx(edit_rows, mask=edit_rows < 0))
        return {
            "prompt": prompt,
            "responses": _join("[", first, second, "]"),
            "edit_label": _join('{"edited_content":"', edit_texts, '"}'),
            "tags": _lit([orjson.dumps({"category": c, "language": "en"}).decode() for c in CATEGORIES])
            .take(_idx(category)),
        }

    def _substituted(self, spans: Spans, rows: np.ndarray, keys: np.ndarray, count: np.ndarray, hh: np.ndarray,
                     kind: int) -> pa.Array:
        """The texts `rows` of `spans` with `count` tokens each rewritten from the `kind`
        chain of their source (escaped, in the order of `rows`)."""
        parts, order = [], []
        for source, offset in ((False, 0), (True, _HH_KIND)):
            which = np.flatnonzero(hh == source)
            if len(which):
                edited = self.chains.substitute(spans, rows[which], keys[which], count[which], offset + kind)
                parts.append(self.chains.texts(edited))
                order.append(which)
        return _in_order(parts, order, len(rows))

    @staticmethod
    def _category(last_turn: pa.Array, hh: np.ndarray) -> np.ndarray:
        """Tags a product's classifier would give: safety for the red-team-like conversations,
        else coding, math, creative or general by the words of the last user turn."""
        spaced = pc.replace_substring(last_turn, "\\n", " ")
        category = np.full(len(last_turn), CATEGORIES.index("general"), dtype=np.int64)
        for name, pattern in (("creative", _CREATIVE), ("math", _MATH), ("coding", _CODING)):
            hit = pc.match_substring_regex(spaced, pattern.pattern, ignore_case=True).to_numpy(zero_copy_only=False)
            category[hit] = CATEGORIES.index(name)
        category[hh] = _SAFETY
        return category

    @staticmethod
    def _prompts(messages: pa.Array, last_turn: pa.Array, msg_start: np.ndarray, system: np.ndarray,
                 turns: np.ndarray, rendering: np.ndarray) -> pa.Array:
        """Each prompt as contract JSON in its rendering, conversation shape by shape; the last
        user turn of each comes from `last_turn`."""
        n = len(turns)
        systems = _lit([_escaped(p) for p in PRODUCT_SYSTEM_PROMPTS])
        shape = (system >= 0) * 1000 + turns * 10 + rendering
        parts, order = [], []
        for value in np.unique(shape):
            rows = np.flatnonzero(shape == value)
            _, fragments, refs = _layout(bool(value // 1000), int(value % 1000 // 10), RENDERINGS[int(value % 10)])
            pieces: list[Sequence | str] = [fragments[0]]
            final = 2 * int(value % 1000 // 10) - 2
            for ref, fragment in zip(refs, fragments[1:]):
                if ref < 0:
                    pieces.append(systems.take(_idx(system[rows])))
                elif ref == final:
                    pieces.append(last_turn.take(_idx(rows)))
                else:
                    pieces.append(messages.take(_idx(msg_start[rows] + ref)))
                pieces.append(fragment)
            parts.append(_join(*pieces))
            order.append(rows)
        return _in_order(parts, order, n)


def _in_order(parts: list[pa.Array], order: list[np.ndarray], n: int) -> pa.Array:
    """Arrays computed for row subsets `order` put back into row order (the subsets cover 0..n-1)."""
    if not parts:
        return pa.array([], pa.large_string())
    where = np.empty(n, dtype=np.int64)
    where[np.concatenate(order)] = np.arange(n)
    return pa.concat_arrays(parts).take(_idx(where))
