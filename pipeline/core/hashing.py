"""Content ids for prefline: md5 hex over canonical JSON.

md5 (not a 64-bit engine hash) keeps collisions negligible at billions of rows, and
canonical JSON (sorted keys, no whitespace, UTF-8) makes the id independent of how a
producer happened to order or space its fields.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson


def canonical_json(value: Any) -> str:
    """Serialize ``value`` deterministically: sorted keys, compact, UTF-8 text."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode("utf-8")


def md5_hex(text: str | bytes) -> str:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def md5_file(path: Path) -> str:
    """md5 hex of a file's bytes, read in 1 MiB blocks (a version's files can be gigabytes)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def content_id(value: Any) -> str:
    """md5 of the canonical JSON of ``value``."""
    return md5_hex(canonical_json(value))
