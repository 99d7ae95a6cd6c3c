"""Trainer readiness: every candidate pair's lengths in tokens against the trainer's
``max_length`` (``trainer:`` in prefline.yaml), so a pair TRL would silently drop or train on
for nothing is ledgered with its reason instead of published.

- ``prompt_exceeds_max_length``: the prompt alone takes ``max_length`` tokens or more, so no
  token of either response fits (TRL truncates the row to the prompt, or drops it);
- ``identical_within_max_length``: chosen and rejected differ only after the tokens that fit
  (``max_length`` minus the prompt's tokens, the prompt first cut to ``max_prompt_length``
  when that is set, as TRL does): the two truncated rows are the same, a zero-gradient pair.

Tokens are counted with the ``tokenizers`` library when ``trainer.tokenizer`` names a
``tokenizer.json`` (the trainer's own, saved with ``save_pretrained``); the prompt is its
messages' ``role: content`` lines, one per turn (a chat template adds a few tokens per turn
on top). With no tokenizer set the count is the documented approximation of 4 characters a
token, ceil(chars / 4), and "identical within" compares the first 4 x budget characters: both
computed in DuckDB SQL over the whole table.
"""

from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
from dagster import AssetExecutionContext, AssetKey, DataVersion, MaterializeResult, asset

from pipeline.core import paths, warehouse
from pipeline.core.config import load_config
from pipeline.core.data_versions import fingerprint
from pipeline.core.warehouse import WAREHOUSE_POOL, replace_table

CHARS_PER_TOKEN = 4
REASONS = ("prompt_exceeds_max_length", "identical_within_max_length")

PAIRS_SQL = """
select pair_id, prompt_messages, a_content, b_content from int_pairs__candidates where not capped
"""

# The prompt as the tokenizer reads it: each message's "role: content" line.
PROMPT_TEXT = """
    array_to_string(list_transform(cast(json(prompt_messages) as json[]),
        lambda m: coalesce(json_extract_string(m, '$.role'), '') || ': ' || coalesce(json_extract_string(m, '$.content'), '')),
        chr(10))
"""


def settings(config: dict[str, Any]) -> tuple[str | None, int, int | None]:
    trainer = config.get("trainer") or {}
    max_length = int(trainer.get("max_length") or 0)
    if max_length <= 0:
        raise ValueError(f"trainer.max_length must be a positive number of tokens, not {trainer.get('max_length')!r}")
    max_prompt = trainer.get("max_prompt_length")
    tokenizer = trainer.get("tokenizer") or None
    if tokenizer and not Path(tokenizer).is_absolute():
        tokenizer = str(paths.home() / tokenizer) if (paths.home() / tokenizer).exists() else tokenizer
    return tokenizer, max_length, int(max_prompt) if max_prompt else None


def _classify_sql(max_length: int, max_prompt: int | None) -> tuple[str, str]:
    """The reason (SQL over prompt_tokens and a placeholder ``same_prefix``) and the budget of
    response tokens: max_length minus the prompt, first cut to max_prompt_length when set."""
    prompt = f"least(prompt_tokens, {max_prompt})" if max_prompt else "prompt_tokens"
    return f"""
        case when {prompt} >= {max_length} then 'prompt_exceeds_max_length'
             when same_prefix then 'identical_within_max_length' end
    """, f"greatest({max_length} - {prompt}, 0)"


def token_counts(con: duckdb.DuckDBPyConnection, tokenizer: str | None, max_length: int,
                 max_prompt: int | None) -> pa.Table:
    """One row per candidate pair: tokens of the prompt and of each side, the response budget,
    and the trainer-readiness reason (null when the pair is fine)."""
    reason_sql, budget_sql = _classify_sql(max_length, max_prompt)
    if tokenizer is None:
        same_chars = f"left(a_content, budget * {CHARS_PER_TOKEN}) = left(b_content, budget * {CHARS_PER_TOKEN})"
        return con.sql(f"""
            with t as (
                select pair_id, a_content, b_content, {PROMPT_TEXT} as prompt_text
                from ({PAIRS_SQL}) p
            ), n as (
                select pair_id, a_content, b_content,
                       cast(ceil(length(prompt_text) / {CHARS_PER_TOKEN}) as bigint) as prompt_tokens,
                       cast(ceil(length(a_content) / {CHARS_PER_TOKEN}) as bigint) as a_tokens,
                       cast(ceil(length(b_content) / {CHARS_PER_TOKEN}) as bigint) as b_tokens
                from t
            ), b as (select *, {budget_sql} as budget from n)
            select pair_id, prompt_tokens, a_tokens, b_tokens, budget, 'chars/{CHARS_PER_TOKEN}' as counted_by,
                   {reason_sql.replace('same_prefix', same_chars)} as reason
            from b order by pair_id
        """).to_arrow_table()
    from tokenizers import Tokenizer

    try:
        tok = Tokenizer.from_file(tokenizer)
    except Exception as exc:  # the library raises its own Exception type for a bad file
        raise ValueError(f"trainer.tokenizer {tokenizer}: not a readable tokenizer.json ({exc})") from None
    texts = con.sql(f"select pair_id, {PROMPT_TEXT} as prompt_text, a_content, b_content from ({PAIRS_SQL}) p "
                        "order by pair_id").to_arrow_table()

    def ids(column: str) -> pa.Array:
        encodings = tok.encode_batch(texts.column(column).to_pylist(), add_special_tokens=False)
        return pa.array([e.ids for e in encodings], pa.list_(pa.int32()))

    con.register("_tokens", pa.table({"pair_id": texts.column("pair_id"), "p": ids("prompt_text"),
                                      "a": ids("a_content"), "b": ids("b_content")}))
    try:
        return con.sql(f"""
            with n as (select pair_id, a, b, cast(len(p) as bigint) as prompt_tokens,
                              cast(len(a) as bigint) as a_tokens, cast(len(b) as bigint) as b_tokens from _tokens),
                 b as (select *, {budget_sql} as budget from n)
            select pair_id, prompt_tokens, a_tokens, b_tokens, budget, ? as counted_by,
                   {reason_sql.replace('same_prefix', 'list_slice(a, 1, budget) = list_slice(b, 1, budget)')} as reason
            from b order by pair_id
        """, params=[f"tokenizer:{Path(tokenizer).name}"]).to_arrow_table()
    finally:
        con.unregister("_tokens")


@asset(
    group_name="pair_construction",
    deps=[AssetKey("int_pairs__candidates")],
    pool=WAREHOUSE_POOL,
    code_version="trainer-readiness-v1",
    description=(
        "Tokens of every candidate pair's prompt and responses (trainer.tokenizer, or chars/4) "
        "against trainer.max_length: a prompt that alone fills max_length, or chosen and rejected "
        "identical within it, is ledgered (prompt_exceeds_max_length, identical_within_max_length)."
    ),
)
def pair_token_counts(context: AssetExecutionContext) -> MaterializeResult:
    tokenizer, max_length, max_prompt = settings(load_config())
    with warehouse.connect() as con:
        table = token_counts(con, tokenizer, max_length, max_prompt)
        replace_table(con, "pair_token_counts", table)
        version = fingerprint(con, "select pair_id || coalesce(reason, '') || cast(budget as varchar) "
                                   "from pair_token_counts")
        counts = dict(con.execute("select coalesce(reason, 'ready'), count(*) from pair_token_counts "
                                  "group by 1").fetchall())
    return MaterializeResult(data_version=DataVersion(version),
                             metadata={"pairs": table.num_rows, "max_length": max_length,
                                       "counted_by": tokenizer or f"chars/{CHARS_PER_TOKEN}",
                                       **{k: int(v) for k, v in counts.items()}})
