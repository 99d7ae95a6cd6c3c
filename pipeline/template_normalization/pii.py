"""PII detection and redaction for feedback text (prompts, responses, edits).

Five kinds are found: EMAIL, PHONE, CREDIT_CARD, IP_ADDRESS and SECRET. Each text gets one
pass of a single combined regex; every candidate is then validated in Python (Luhn and
card-issuer prefixes, IP octets, phone digit counts, entropy of assigned secrets, and the
words just before a number) so that version strings, dates, ISBNs, order numbers and
arithmetic are not taken for PII.

Decisions a user may rely on:
- ``user@host:path`` (an SSH/SCP remote, or a shell prompt ``user@host:~$``) is a login, not
  an email address; an email needs a domain whose last label is a country code or a common
  generic TLD, so ``x@w.shape`` (matrix products in code) is not one.
- Loopback, unspecified, broadcast and netmask IPv4 addresses (127.x, 0.0.0.0, 255.x) and
  ``::``/``::1`` carry no personal data and are not flagged.
- A dotted quad right after a version or document-structure word (``version 1.2.3.4``,
  ``section 10.2.3.1``) is a version number, not an address.
- ``password=``-style assignments count only when the value looks like a real secret
  (length >= 8, high entropy or mixed character classes) and not like a reference or a
  placeholder (``${VAR}``, ``os.getenv(...)``, ``<your-key>``); only the value is redacted.

``scan_batch`` screens a whole Arrow array with one vectorized RE2 match first, so the
Python regex runs only on texts that can hold a candidate at all.
"""

from __future__ import annotations

import functools
import ipaddress
import math
import re
from collections import Counter
from typing import NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

EMAIL = "EMAIL"
PHONE = "PHONE"
CREDIT_CARD = "CREDIT_CARD"
IP_ADDRESS = "IP_ADDRESS"
SECRET = "SECRET"
KINDS = (EMAIL, PHONE, CREDIT_CARD, IP_ADDRESS, SECRET)
PLACEHOLDERS = {kind: f"[{kind}]" for kind in KINDS}


class Finding(NamedTuple):
    kind: str
    start: int
    end: int


# Generic TLDs seen in real addresses; any two-letter label is taken as a country code.
_GENERIC_TLDS = frozenset(
    """com org net edu gov mil int info biz name pro mobi aero coop jobs museum travel app dev
    cloud online site tech store shop blog email xyz club live life world space website page
    design agency company solutions services digital media news team studio works systems
    network group global consulting academy school university science health care finance
    capital ventures partners legal law bank insurance""".split()
)

_SECRET_PREFIXED = (
    r"sk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}"
    r"|(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}"
    r"|gh[pousr]_[A-Za-z0-9]{36,}"
    r"|github_pat_[A-Za-z0-9_]{22,}"
    r"|(?:AKIA|ASIA)[0-9A-Z]{16}"
    r"|xox[abprs]-[A-Za-z0-9-]{10,}"
    r"|AIza[0-9A-Za-z_-]{35}"
    r"|eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*"
)
# A truncated block (no END line) is still a leaked key: take the base64 lines that follow,
# the last of which may be short but must fill its line, so prose after the paste is kept.
_PEM = (
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:[\s\S]*?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"|(?:\s*[A-Za-z0-9+/=]{16,})*(?:\n[A-Za-z0-9+/=]+(?=\r?\n|$))?)"
)
_ASSIGN_KEY = (
    r"(?i:\b(?:[a-z0-9]+[_-])*(?:password|passwd|passphrase|pwd|secret|api[_-]?key|apikey"
    r"|access[_-]?key|secret[_-]?key|private[_-]?key|token|auth)\b)"
)
_ASSIGN = _ASSIGN_KEY + r"[\"']?\s*[:=]\s*(?P<assign_q>[\"']?)(?P<assign_val>[^\s\"'`,;]{8,200})"
_BEARER = r"(?i:\bbearer\s+)(?P<bearer_val>[A-Za-z0-9._~+/-]{16,}=*)"
_URL_USERINFO = r"(?<=://)(?P<userinfo>[^\s:/@]+:[^\s/@]+)@"

_EMAIL = (
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]*@"
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+(?P<tld>[A-Za-z]{2,24})\b"
)

# A number inside a longer run of separated digit groups (tracking ids, IBANs, lottery draws)
# is not PII, so a match may neither start nor end next to another group.
_NUM_START = r"(?<![\w.+/-])(?<!\d[ .-])"
_NUM_END = r"(?![\w@/]|[.,: -]\d)"
# Cards are contiguous or grouped the way issuers print them (4-4-4-4[-3], 4-6-5, 4-6-4), so a
# CVV or expiry right after the number does not hide it.
_CARD = (
    _NUM_START
    + r"(?:\d{13,19}|\d{4}(?P<sep>[ -])(?:\d{4}(?P=sep)\d{4}(?P=sep)\d{1,4}(?:(?P=sep)\d{3})?|\d{6}(?P=sep)\d{4,5}))"
    + r"(?![\w@/]|[.,:-]\d)"
)
_IPV4 = r"(?<![\w.-])(?:\d{1,3}\.){3}\d{1,3}(?![\w-]|\.\d)"
# Loose shape (hex groups, '::', an embedded IPv4 tail, a zone id); ipaddress decides validity.
_IPV6 = (
    r"(?<![\w:.])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}"
    r"(?:(?<=:)(?:\d{1,3}\.){3}\d{1,3})?(?:%[A-Za-z0-9]+)?(?![\w:]|\.\d)"
)
_PHONE_INTL = r"(?<![\w+])(?<!\d[ .-])\+\d(?:[ .-]?(?:\(\d{1,4}\)|\d)){6,16}" + _NUM_END
_PHONE_NANP = _NUM_START + r"(?:1[ .-])?(?:\([2-9]\d{2}\) ?|[2-9]\d{2}[ .-])[2-9]\d{2}[ .-]\d{4}" + _NUM_END
_PHONE_TRUNK = _NUM_START + r"(?:\(0\d{1,4}\)|0\d{1,4})[ .-]\d{2,8}(?:[ .-]\d{2,8}){0,3}" + _NUM_END
# Bare digit strings count only after a phone word; verbs need "me", "us", "at"... before them.
_PHONE_CUE = (
    r"(?i:\b(?:(?:phone|tel|telephone|mobile|cell|fax|whatsapp)(?:\s*(?:no\.?|number|num|#|is))*"
    r"|(?:call|text|sms|ring)(?:\s*(?:me|us|him|her|them))?\s*(?:at|on)"
    r"|(?:call|text|sms|ring)\s*(?:me|us|him|her|them))\s*[:.]?\s*)"
    r"(?P<phone_cued>\d{8,15})\b"
)

# Order matters: at one position the first alternative that matches is validated first. Each
# group opens with a cheap guard on the next characters so that most word starts leave it at once.
_GROUPS = [
    (
        r"(?=[-sgrAxeBb])",
        [
            ("pem", SECRET, _PEM),
            ("secret", SECRET, r"(?<![\w-])(?:" + _SECRET_PREFIXED + r")"),
            ("bearer", SECRET, _BEARER),
        ],
    ),
    (r"(?=[\w-]++[\"']?\s*+[:=])", [("assign", SECRET, _ASSIGN)]),
    (r"(?<=://)", [("url_userinfo", SECRET, _URL_USERINFO)]),
    (r"(?=[\w.%+-]++@)", [("email", EMAIL, _EMAIL)]),
    (
        r"(?=[\d(+])",
        [
            ("card", CREDIT_CARD, _CARD),
            ("ipv4", IP_ADDRESS, _IPV4),
            ("phone_intl", PHONE, _PHONE_INTL),
            ("phone_nanp", PHONE, _PHONE_NANP),
            ("phone_trunk", PHONE, _PHONE_TRUNK),
        ],
    ),
    (r"(?=[0-9A-Fa-f]{0,4}:)", [("ipv6", IP_ADDRESS, _IPV6)]),
    (
        r"(?=(?:[Pp][Hh]|[Tt][Ee]|[Mm][Oo]|[Cc][EeAa]|[Ff][Aa]|[Ww][Hh]|[Ss][Mm]|[Rr][Ii])[^\d\n]{0,30}+\d{8})",
        [("phone_cue", PHONE, _PHONE_CUE)],
    ),
]
_ALTERNATIVES = [alt for _, alts in _GROUPS for alt in alts]
# Every finding starts after a non-word character (texts get a leading space), so the combined
# pattern opens with that one character class: the regex engine then skips inside words in C
# and tries the alternatives only at word starts. Groups that need an '@' or a digit are left
# out of the pattern for texts without one; the variants are compiled once, on first use.
_NEEDS_AT = {"email"}
_NEEDS_DIGIT = {"card", "ipv4", "phone_intl", "phone_nanp", "phone_trunk", "ipv6", "phone_cue"}
_DIGIT = re.compile(r"\d")


@functools.cache
def _combined(has_at: bool, has_digit: bool) -> re.Pattern:
    groups = []
    for guard, alts in _GROUPS:
        kept = [
            (n, rx)
            for n, _, rx in alts
            if (has_at or n not in _NEEDS_AT) and (has_digit or n not in _NEEDS_DIGIT)
        ]
        if kept:
            groups.append(guard + "(?:" + "|".join(f"(?P<{n}>{rx})" for n, rx in kept) + ")")
    return re.compile(r"[^\w](?:" + "|".join(groups) + ")")


_SINGLE = {name: re.compile(f"(?P<{name}>{rx})") for name, _, rx in _ALTERNATIVES}
_KIND = {name: kind for name, kind, _ in _ALTERNATIVES}
_ORDER = [name for name, _, _ in _ALTERNATIVES]

# Superset screen in RE2 syntax (no lookaround): a text that fails it cannot hold a finding.
_SCREEN = (
    r"@[A-Za-z0-9-]+\.|\d(?:[\s().+-]{0,4}\d){6,}|\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}"
    r"|[0-9A-Fa-f]{0,4}:[0-9A-Fa-f]{0,4}:|sk-|[sr]k_|gh[pousr]_|github_pat_|AKIA|ASIA|xox"
    r"|AIza|eyJ|PRIVATE KEY|://[^\s/]*:[^\s/]*@"
    r"|(?i:pass|pwd|secret|key|token|auth)\w*[\"']?\s*[:=]|(?i:bearer)\s"
)

# Words that make the number after them something other than PII.
_NOT_PII_CUE = re.compile(
    r"(?i)(?:\b(?:order|invoice|tracking|shipment|parcel|isbn|issn|doi|serial|ticket|case|ref|reference"
    r"|sku|part|model|account|acct|iban|transaction|txn|confirmation|booking|policy|claim|po)"
    r"(?:\s*(?:no\.?|number|num|id|#))?\s*[:#]?\s*|#\s*)$"
)
_VERSION_CUE = re.compile(
    r"(?i)\b(?:v|ver|version|versions|release|rel|build|rev|revision|firmware|fw|patch|update"
    r"|upgrade|downgrade|sdk|section|sec|chapter|ch|clause|figure|fig|table|step|rule|item"
    r"|paragraph|para|appendix|oid)\.?\s*[:=#]?\s*$|(?:[=<>~!]=|§)\s*$"
)
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_MATH_BEFORE = set("*/^<>%×÷")
_MATH_AFTER = set("=*/^<>%+×÷")
_PLACEHOLDER_WORDS = re.compile(
    r"(?i)your|here|example|placeholder|changeme|change_me|dummy|redacted|xxxx|\*\*\*|\.\.\.|replace"
)
_REFERENCE = re.compile(
    r"^(?:[$%<{\[(]|process\.env|os\.|env\.|getenv|settings\.|config\.)|[()]|^[A-Za-z_]+$"
    r"|^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$"
)
_CARD_IIN = re.compile(
    r"^(?:4\d{12}(?:\d{3}){0,2}"  # Visa 13/16/19
    r"|(?:5[1-5]\d{2}|222[1-9]|22[3-9]\d|2[3-6]\d{2}|27[01]\d|2720)\d{12}"  # Mastercard
    r"|3[47]\d{13}"  # American Express
    r"|(?:6011|64[4-9]\d|65\d{2})\d{12,15}"  # Discover
    r"|3(?:0[0-5]|[689]\d)\d{11,16}"  # Diners Club
    r"|35(?:2[89]|[3-8]\d)\d{12,15}"  # JCB
    r"|62\d{14,17}"  # UnionPay
    r"|(?:5018|5020|5038|5893|6304|6759|676[1-3])\d{8,15})$"  # Maestro
)


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _prev_char(text: str, start: int) -> str:
    i = start - 1
    while i >= 0 and text[i] in " \t":
        i -= 1
    return text[i] if i >= 0 else ""


def _next_char(text: str, end: int) -> str:
    i = end
    while i < len(text) and text[i] in " \t":
        i += 1
    return text[i] if i < len(text) else ""


def _looks_like_math(text: str, start: int, end: int) -> bool:
    return _prev_char(text, start) in _MATH_BEFORE or _next_char(text, end) in _MATH_AFTER


def _cued_as_not_pii(text: str, start: int) -> bool:
    return _NOT_PII_CUE.search(text[max(0, start - 32) : start]) is not None


def _in_version_context(text: str, start: int) -> bool:
    return _VERSION_CUE.search(text[max(0, start - 24) : start]) is not None


def _entropy(value: str) -> float:
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def _looks_like_secret(value: str, quoted: bool) -> bool:
    if _PLACEHOLDER_WORDS.search(value) or len(set(value)) < 5:
        return False
    if _REFERENCE.search(value) if not quoted else (value[0] in "$%<{" or "(" in value):
        return False
    classes = sum(
        (any(c.islower() for c in value), any(c.isupper() for c in value),
         any(c.isdigit() for c in value), any(not c.isalnum() for c in value))
    )
    return _entropy(value) >= 3.0 or classes >= 3


def _validate(name: str, m: re.Match, text: str) -> tuple[int, int] | None:
    """The span to redact when the candidate ``m`` (alternative ``name``) is PII, else None."""
    start, end = m.span(name)
    if name in ("pem", "secret"):
        return start, end
    if name == "assign":
        val = m.group("assign_val")
        return m.span("assign_val") if _looks_like_secret(val, bool(m.group("assign_q"))) else None
    if name == "bearer":
        val = m.group("bearer_val")
        return m.span("bearer_val") if _looks_like_secret(val, True) else None
    if name == "url_userinfo":
        return m.span("userinfo")
    if name == "email":
        if text.startswith(":", end) and end + 1 < len(text) and not text[end + 1].isspace():
            return None  # user@host:path is an SSH/SCP remote or a shell prompt
        tld = m.group("tld").lower()
        return (start, end) if len(tld) == 2 or tld in _GENERIC_TLDS else None
    if name == "card":
        if _cued_as_not_pii(text, start):
            return None
        groups = re.split(r"[ -]", m.group(name))
        # A 4-4-4-4 number followed by a 3-digit CVV reads like a 19-digit card: try both.
        for n_groups in (len(groups), 4) if len(groups) == 5 else (len(groups),):
            digits = "".join(groups[:n_groups])
            if _CARD_IIN.match(digits) and _luhn_ok(digits):
                return start, start + len(" ".join(groups[:n_groups]))
        return None
    if name == "ipv4":
        try:
            ip = ipaddress.IPv4Address(m.group(name))
        except ValueError:
            return None
        if ip.is_loopback or ip.is_unspecified or str(ip).startswith("255."):
            return None
        return None if _in_version_context(text, start) else (start, end)
    if name == "ipv6":
        candidate = m.group(name)
        if not any(c.isdigit() for c in candidate):
            return None  # C++/Rust paths such as abc::def
        groups = [g for g in re.split(r"[:%]", candidate) if g]
        if len(groups) <= 2 and max(map(len, groups)) < 4:
            return None  # Python slices such as l[::2] or l[1::2]
        try:
            ip = ipaddress.IPv6Address(candidate.split("%", 1)[0])
        except ValueError:
            return None
        return None if ip.is_loopback or ip.is_unspecified else (start, end)
    # phone alternatives
    if name == "phone_cue":
        start, end = m.span("phone_cued")
    candidate = text[start:end]
    digits = sum(c.isdigit() for c in candidate)
    if not 8 <= digits <= 15 or _DATE.fullmatch(candidate):
        return None
    if _looks_like_math(text, start, end) or _cued_as_not_pii(text, start):
        return None
    return start, end


def find_pii(text: str) -> list[Finding]:
    """Non-overlapping PII findings in ``text``, in order of position."""
    padded = " " + text
    pattern = _combined("@" in text, _DIGIT.search(text) is not None)
    findings: list[Finding] = []
    pos = 0
    while True:
        m = pattern.search(padded, pos)
        if m is None:
            return findings
        name = m.lastgroup
        start = m.start(name)
        span = _validate(name, m, padded)
        if span is None:
            # The first alternative failed validation: a later one may still hold at this spot.
            for other in _ORDER[_ORDER.index(name) + 1 :]:
                om = _SINGLE[other].match(padded, start)
                span = _validate(other, om, padded) if om is not None else None
                if span is not None:
                    name = other
                    break
        if span is None:
            pos = start
            continue
        findings.append(Finding(_KIND[name], span[0] - 1, span[1] - 1))
        pos = max(span[1], start)


def _apply(text: str, findings: list[Finding]) -> str:
    parts: list[str] = []
    last = 0
    for f in findings:
        parts.append(text[last : f.start])
        parts.append(PLACEHOLDERS[f.kind])
        last = f.end
    parts.append(text[last:])
    return "".join(parts)


def _kinds(findings: list[Finding]) -> tuple[str, ...]:
    return tuple(sorted({f.kind for f in findings}))


def redact(text: str) -> tuple[str, tuple[str, ...]]:
    """``text`` with every finding replaced by its typed placeholder, and the sorted kinds found."""
    findings = find_pii(text)
    return _apply(text, findings), _kinds(findings)


def screen(texts: pa.Array) -> np.ndarray:
    """Boolean mask of the texts that may hold PII (a superset of those that do)."""
    mask = pc.fill_null(pc.match_substring_regex(texts, _SCREEN), False)
    return mask.to_numpy(zero_copy_only=False)


def scan_batch(texts: list[str] | pa.Array | pa.ChunkedArray) -> pa.Table:
    """One row per input text: ``index`` (position in ``texts``), ``kinds`` (sorted kinds found)
    and ``redacted`` (the text with placeholders; unchanged when nothing was found, null for
    a null text). ``redacted`` is a 32-bit-offset string column: pass batches under 2 GB.

    Every text first meets the vectorized screen (one RE2 pass in C over the whole array);
    only the few it flags reach the Python rules, each distinct flagged text once (feedback
    repeats responses and prompts). Clean text, most of it, costs the screen alone: no
    hashing or deduplicating of the whole column, no per-text Python."""
    if isinstance(texts, pa.ChunkedArray):
        texts = texts.combine_chunks()
    if not isinstance(texts, pa.Array):
        texts = pa.array(texts, type=pa.large_string())
    if not pa.types.is_large_string(texts.type):
        texts = texts.cast(pa.large_string())
    n = len(texts)
    candidates = np.flatnonzero(screen(texts)) if n else np.empty(0, dtype=np.int64)
    counts = np.zeros(n, dtype=np.int64)
    kind_values: list[str] = []
    changed = np.zeros(n, dtype=bool)
    replacements: list[str] = []
    seen: dict[str, tuple[tuple[str, ...], str | None]] = {}
    for i, text in zip(candidates.tolist(), texts.take(pa.array(candidates)).to_pylist()):
        result = seen.get(text)
        if result is None:
            findings = find_pii(text)
            result = seen[text] = (_kinds(findings), _apply(text, findings) if findings else None)
        kinds, replacement = result
        if replacement is not None:
            counts[i] = len(kinds)
            kind_values.extend(kinds)
            changed[i] = True
            replacements.append(replacement)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(counts, out=offsets[1:])
    kinds_col = pa.ListArray.from_arrays(pa.array(offsets), pa.array(kind_values, type=pa.string()))
    redacted = texts
    if replacements:
        redacted = pc.replace_with_mask(texts, pa.array(changed), pa.array(replacements, type=pa.large_string()))
    return pa.table(
        {
            "index": pa.array(np.arange(n, dtype=np.int64)),
            "kinds": kinds_col,
            "redacted": redacted.cast(pa.string()),
        }
    )
