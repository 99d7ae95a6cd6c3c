"""Write the Argilla test samples (tests/data/importers/argilla/) with Argilla's own SDK.

Not run by the tests: it needs the Argilla SDK, which prefline does not depend on. Run it in a
separate virtual environment, once per major version:

    python3.11 -m venv /tmp/argenv  && /tmp/argenv/bin/pip install 'argilla<2'
    /tmp/argenv/bin/python scripts/argilla_samples.py v1 tests/data/importers/argilla
    python3.11 -m venv /tmp/argenv2 && /tmp/argenv2/bin/pip install 'argilla>=2'
    /tmp/argenv2/bin/python scripts/argilla_samples.py v2 tests/data/importers/argilla

The texts and the human judgements are real: PandaLM's test set (three annotators' votes on each
pair: 1, 2 or 0 for a tie) and OpenAssistant's message trees (sibling replies ranked by
OpenAssistant's reviewers), both under /work/shared/data or the path in PREFLINE_SHARED_DATA.
What is chosen here, and said in SOURCE.md: which items, the user ids, which responses are
drafts or discarded, and the v2 ratings (5 - OpenAssistant rank, at least 1).
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

SHARED = Path(os.environ.get("PREFLINE_SHARED_DATA", "/work/shared/data"))
# PandaLM items: unanimous (0, 1, 3, 6), two of three (88, 111, 120), all three tie (91),
# and one left unanswered (13).
PANDALM_ITEMS = (0, 1, 3, 6, 88, 111, 120, 91, 13)
UNANSWERED = {13}
# (item, annotator) -> status other than submitted
NOT_SUBMITTED = {(88, 3): "draft", (111, 2): "discarded", (6, 1): "draft"}
USERS = {a: uuid.uuid5(uuid.NAMESPACE_URL, f"prefline-sample:pandalm-annotator{a}") for a in (1, 2, 3)}


def pandalm() -> list[dict]:
    items = {x["idx"]: x for x in json.loads((SHARED / "pandalm" / "testset-v1.json").read_text())}
    return [items[i] for i in PANDALM_ITEMS]


def prompt_of(item: dict) -> str:
    return item["instruction"] + ("\n\n" + item["input"] if item["input"] else "")


def ranking_of(vote: int) -> list[dict]:
    """A PandaLM vote as an Argilla ranking of response1/response2 (rank 1 is best; a tie ranks both 1)."""
    first, second = {1: (1, 2), 2: (2, 1), 0: (1, 1)}[vote]
    return [{"value": "response1", "rank": first}, {"value": "response2", "rank": second}]


def label_of(vote: int) -> str:
    return {1: "response1", 2: "response2", 0: "tie"}[vote]


def v1(out: Path) -> None:
    import argilla as rg

    # The SDK's own DPO template: fields prompt/response1/response2, ranking question "preference".
    ds = rg.FeedbackDataset.for_direct_preference_optimization(number_of_responses=2, context=False)
    records = []
    for item in pandalm():
        responses = [] if item["idx"] in UNANSWERED else [
            rg.ResponseSchema(user_id=USERS[a], values={"preference": {"value": ranking_of(item[f"annotator{a}"])}},
                              status=NOT_SUBMITTED.get((item["idx"], a), "submitted"))
            for a in (1, 2, 3)
        ]
        records.append(rg.FeedbackRecord(
            fields={"prompt": prompt_of(item), "response1": item["response1"], "response2": item["response2"]},
            metadata={"category": item["motivation_app"], "cmp_key": item["cmp_key"]},
            external_id=f"pandalm-{item['idx']}",
            responses=responses,
        ))
    ds.add_records(records)
    # The records list, as the SDK serializes each FeedbackRecord.
    (out / "v1-records.json").write_text(json.dumps([json.loads(r.json()) for r in ds.records], indent=1) + "\n")
    hf = ds.format_as("datasets")
    hf.to_json(str(out / "v1-datasets.jsonl"))
    hf.to_parquet(str(out / "v1-datasets.parquet"))


def oasst_groups(n: int) -> list[tuple[list[dict], list[dict]]]:
    """(conversation up to a prompter turn, that turn's ranked assistant replies) for the first n
    trees' root prompts with 2 or 3 ranked replies and for their second-level prompts."""
    groups = []

    def walk(node: dict, history: list[dict]) -> None:
        turn = history + [{"role": "user" if node["role"] == "prompter" else "assistant", "content": node["text"]}]
        replies = [r for r in node.get("replies", []) if r.get("rank") is not None and not r.get("deleted")]
        if node["role"] == "prompter" and 2 <= len(replies) <= 3:
            groups.append((turn, sorted(replies, key=lambda r: r["rank"])))
        for r in node.get("replies", []):
            walk(r, turn)

    for line in (SHARED / "oasst" / "en_100_message.jsonl").read_text().splitlines():
        walk(json.loads(line), [])
    multi = [g for g in groups if len(g[0]) > 1]
    single = [g for g in groups if len(g[0]) == 1]
    return (multi[: n // 2] + single[: n - n // 2])


def v2(out: Path) -> None:
    import argilla as rg
    from argilla.records._io import GenericIO, JsonIO

    # 1. PandaLM pairs with a label question "preference" (response1 / response2 / tie), three users.
    label_records = []
    for item in pandalm():
        responses = [] if item["idx"] in UNANSWERED else [
            rg.Response("preference", label_of(item[f"annotator{a}"]), user_id=USERS[a],
                        status=NOT_SUBMITTED.get((item["idx"], a), "submitted"))
            for a in (1, 2, 3)
        ]
        label_records.append(rg.Record(
            id=f"pandalm-{item['idx']}",
            fields={"instruction": prompt_of(item), "response1": item["response1"], "response2": item["response2"]},
            metadata={"category": item["motivation_app"]},
            responses=responses,
        ))
    # 2. OpenAssistant conversations in a chat field, their sibling replies as response1..3: a
    #    ranking question answered by one reviewer, rating questions per response by another.
    ranker = uuid.uuid5(uuid.NAMESPACE_URL, "prefline-sample:oasst-ranker")
    rater = uuid.uuid5(uuid.NAMESPACE_URL, "prefline-sample:oasst-rater")
    chat_records = []
    for i, (conversation, replies) in enumerate(oasst_groups(8)):
        names = [f"response{j + 1}" for j in range(len(replies))]
        fields = {"chat": conversation, **{name: r["text"] for name, r in zip(names, replies, strict=True)}}
        if i % 2 == 0:
            status = "draft" if i == 6 else "submitted"
            responses = [rg.Response("ranking", [name for name, _ in sorted(zip(names, replies, strict=True),
                                                                             key=lambda p: p[1]["rank"])],
                                     user_id=ranker, status=status)]
        else:
            status = "discarded" if i == 7 else "submitted"
            responses = [rg.Response(f"rating_{name}", max(1, 5 - r["rank"]), user_id=rater, status=status)
                         for name, r in zip(names, replies, strict=True)]
        chat_records.append(rg.Record(id=f"oasst-{replies[0]['parent_id']}", fields=fields,
                                      metadata={"lang": "en"}, responses=responses))
    for name, records in (("v2-pandalm", label_records), ("v2-oasst-chat", chat_records)):
        path = out / f"{name}.json"
        path.unlink(missing_ok=True)
        JsonIO.to_json(records, path)  # what dataset.records.to_json(path) runs on the fetched records
        flat = GenericIO.to_list(records, flatten=True)  # what dataset.records.to_list(flatten=True) returns
        (out / f"{name}-flat.jsonl").write_text("".join(json.dumps(r, default=str) + "\n" for r in flat))


if __name__ == "__main__":
    version, target = sys.argv[1], Path(sys.argv[2])
    target.mkdir(parents=True, exist_ok=True)
    {"v1": v1, "v2": v2}[version](target)
