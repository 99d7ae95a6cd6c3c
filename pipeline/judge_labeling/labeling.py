"""The judge labeling stage over the warehouse: build the judge from the window's human
train pairs, measure it on held-out human pairs, label the pairs that need a label in both
orders, and audit human test pairs blind."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Protocol

import duckdb
import orjson
import pyarrow as pa

from pipeline.core.warehouse import replace_table
from pipeline.judge_labeling.judges import Judge, judge_pairs

VERDICTS_SCHEMA = pa.schema(
    [
        ("pair_id", pa.string()),
        ("judge_id", pa.string()),
        ("judge_version", pa.string()),
        ("rubric_version", pa.string()),
        ("verdict_ab", pa.string()),
        ("verdict_ba", pa.string()),
        ("winner", pa.string()),
        ("confidence", pa.float64()),
        ("reason", pa.string()),
        ("audit_flag", pa.string()),
    ]
)

# A human label is flagged for review (never flipped) when the judge, consistent in both
# orders, picks the other response with at least this confidence.
AUDIT_CONFIDENCE = 0.5


class JudgeFactory(Protocol):
    def build(self, train_pairs: list[tuple[list[dict], str, str]]) -> Judge: ...


def _human_pairs(con: duckdb.DuckDBPyConnection, split: str, limit: int,
                 before: date | None = None) -> list[tuple[list[dict], str, str]]:
    """Human pairs of a split under their near-duplicate cluster's cap (a capped pair repeats
    its cluster and carries no texts), first seen before ``before`` if given; past ``limit``, a
    deterministic sample (lowest pair ids, which are content hashes, so the sample is spread
    evenly and stable across rebuilds)."""
    rows = con.execute(
        """
        select prompt_messages, a_content, b_content from int_pairs__candidates
        where not needs_judge and not capped and superseded_by_rule is null
          and label_source like 'human_%' and split = ?
          and (cast(? as date) is null or partition_date < cast(? as date))
        order by pair_id
        limit ?
        """,
        [split, before, before, limit],
    ).fetchall()
    return [(orjson.loads(p), a, b) for p, a, b in rows]


def refit_boundary(con: duckdb.DuckDBPyConnection, refit_every_days: int) -> date | None:
    """The day before which the judge's training pairs are drawn: the newest boundary at or
    before the newest day in the window, boundaries falling every ``refit_every_days`` days
    from Monday 0001-01-01 (every 7: Mondays). Between two boundaries the training set, hence
    the judge version and every cached verdict, stays the same, so a nightly build judges only
    the new pairs; a full rebuild of the same data picks the same boundary. 0: no boundary,
    the judge is refit on every build whose human pairs changed."""
    if refit_every_days <= 0:
        return None
    newest = con.execute("select max(partition_date) from int_pairs__candidates").fetchone()[0]
    if newest is None:
        return None
    return newest - timedelta(days=(newest.toordinal() - 1) % refit_every_days)


def training_pairs(con: duckdb.DuckDBPyConnection, max_train_pairs: int, refit_every_days: int,
                   established_min_train_pairs: int) -> tuple[date | None, list[tuple[list[dict], str, str]]]:
    """The judge's training pairs and the day they were first seen before (None: the whole
    window). The judge is *established*: it never learns from the newest day, whose labels it
    audits (a day swapped A/B upstream must not train the judge meant to catch it). In order:
    the refit boundary's pairs when they fill ``max_train_pairs`` (the judge then carries over
    between boundaries); else the pairs before the newest day when they are at least
    ``established_min_train_pairs``; else, too little history, the whole window."""
    boundary = refit_boundary(con, refit_every_days)
    if boundary is not None:
        train = _human_pairs(con, "train", max_train_pairs, boundary)
        if len(train) >= max_train_pairs:
            return boundary, train
    newest = con.execute("select max(partition_date) from int_pairs__candidates").fetchone()[0]
    if newest is not None and established_min_train_pairs > 0:
        train = _human_pairs(con, "train", max_train_pairs, newest)
        if len(train) >= established_min_train_pairs:
            return newest, train
    return None, _human_pairs(con, "train", max_train_pairs)


def label_pairs(con: duckdb.DuckDBPyConnection, factory: JudgeFactory, accuracy_floor: float,
                max_train_pairs: int = 20_000, max_audit_pairs: int = 5_000,
                refit_every_days: int = 0, established_min_train_pairs: int = 0) -> dict[str, Any]:
    boundary, train = training_pairs(con, max_train_pairs, refit_every_days, established_min_train_pairs)
    test = _human_pairs(con, "test", max_audit_pairs)
    notes: list[str] = []
    metrics: dict[str, Any] = {"human_train_pairs": len(train), "human_test_pairs": len(test),
                               "judge_trained_before": boundary.isoformat() if boundary else "latest"}
    to_judge = con.execute(
        """
        select pair_id, prompt_messages, a_content as response_a, b_content as response_b,
               case when needs_judge then null else 'a' end as human_winner, a_model, b_model
        from int_pairs__candidates
        where (needs_judge and not capped and superseded_by_rule is null) or pair_id in (
            select pair_id from int_pairs__candidates
            where label_source like 'human_%' and split = 'test' and not capped
              and superseded_by_rule is null order by pair_id limit ?)
        order by pair_id
        """,
        [max_audit_pairs],
    ).to_arrow_table()
    metrics["pairs_needing_label"] = int(sum(1 for w in to_judge.column("human_winner").to_pylist() if w is None))

    usable, judge = True, None
    try:
        judge = factory.build(train)
    except ValueError as exc:  # e.g. too few human pairs to train a reward model
        usable = False
        notes.append(f"judge unavailable: {exc}")
    if judge is not None:
        metrics["judge_id"] = judge.judge_id
        metrics["judge_version"] = judge.judge_version
        evaluate = getattr(judge, "evaluate", None)
        if evaluate is not None and test:
            quality = evaluate(test)
            metrics["heldout_accuracy"] = quality["accuracy"]
            metrics["heldout_brier"] = quality["brier"]
            if quality["accuracy"] < accuracy_floor:
                usable = False
                notes.append(
                    f"judge {judge.judge_id} held-out accuracy {quality['accuracy']:.3f} is below the floor "
                    f"{accuracy_floor:.3f}: its labels are not used"
                )

    if usable and judge is not None:
        verdicts, run_metrics = judge_pairs(judge, to_judge.drop_columns(["a_model", "b_model"]), con)
        metrics.update(run_metrics)
        verdicts = _with_audit_flags(verdicts, to_judge, model_family(judge.judge_id))
        flags = verdicts.column("audit_flag").to_pylist()
        metrics["human_labels_flagged"] = sum(1 for f in flags if f and "judge_disagrees" in f)
        metrics["self_preference_flagged"] = sum(1 for f in flags if f and "self_preference" in f)
    else:
        verdicts = _unlabeled(to_judge, judge, "judge_below_accuracy_floor")
    replace_table(con, "judge_verdicts", verdicts.select(VERDICTS_SCHEMA.names).cast(VERDICTS_SCHEMA))
    metrics["notes"] = notes
    _store_metrics(con, metrics)
    return metrics


def model_family(name: str | None) -> str | None:
    """'openai:acme-chat-70b' -> 'acme'; judges that are not a chat model have no family."""
    if not name or name.startswith("reward_model:"):
        return None
    base = name.split(":", 1)[-1].split("/")[-1].lower()
    return base.split("-")[0] or None


def _with_audit_flags(verdicts: pa.Table, to_judge: pa.Table, judge_family: str | None) -> pa.Table:
    """Flags for a reviewer, never label changes: a human label the judge confidently
    contradicts, and a judge from the same model family as a response (self-preference)."""
    rows = {r["pair_id"]: r for r in to_judge.select(["pair_id", "human_winner", "a_model", "b_model"]).to_pylist()}
    flags = []
    for pid, w, c in zip(verdicts.column("pair_id").to_pylist(), verdicts.column("winner").to_pylist(),
                         verdicts.column("confidence").to_pylist()):
        row, found = rows[pid], []
        if row["human_winner"] == "a" and w == "b" and (c or 0) >= AUDIT_CONFIDENCE:
            found.append("judge_disagrees")
        if judge_family and judge_family in {model_family(row["a_model"]), model_family(row["b_model"])}:
            found.append("self_preference")
        flags.append(",".join(found) or None)
    return verdicts.append_column("audit_flag", pa.array(flags, pa.string()))


def _unlabeled(to_judge: pa.Table, judge: Judge | None, reason: str) -> pa.Table:
    n = to_judge.num_rows
    return pa.table(
        {
            "pair_id": to_judge.column("pair_id"),
            "judge_id": pa.array([getattr(judge, "judge_id", None)] * n, pa.string()),
            "judge_version": pa.array([getattr(judge, "judge_version", None)] * n, pa.string()),
            "rubric_version": pa.array([getattr(judge, "rubric_version", None)] * n, pa.string()),
            "verdict_ab": pa.nulls(n, pa.string()),
            "verdict_ba": pa.nulls(n, pa.string()),
            "winner": pa.nulls(n, pa.string()),
            "confidence": pa.nulls(n, pa.float64()),
            "reason": pa.array([reason] * n, pa.string()),
            "audit_flag": pa.nulls(n, pa.string()),
        }
    )


def _store_metrics(con: duckdb.DuckDBPyConnection, metrics: dict[str, Any]) -> None:
    rows = [
        {"metric": k, "value": v if isinstance(v, str) else orjson.dumps(v).decode()}
        for k, v in sorted(metrics.items())
        if k != "notes"
    ]
    rows.append({"metric": "notes", "value": orjson.dumps(metrics.get("notes", [])).decode()})
    schema = pa.schema([("metric", pa.string()), ("value", pa.string())])
    replace_table(con, "judge_metrics", pa.Table.from_pylist(rows, schema=schema))
