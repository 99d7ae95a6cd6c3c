"""The published versions, newest first, from their manifests and the publication log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pipeline.final_preference_set.publish import latest_version, publications


def list_versions(root: Path) -> list[dict[str, Any]]:
    if not root.exists():
        return []
    published_at: dict[str, str] = {}
    order: dict[str, int] = {}
    for i, record in enumerate(publications(root)):
        published_at.setdefault(record["version"], record.get("published_at"))
        order[record["version"]] = i
    latest = latest_version(root)
    out = []
    for folder in root.iterdir():
        manifest_path = folder / "manifest.json"
        if not folder.is_dir() or not manifest_path.exists():
            continue
        manifest = json.loads(manifest_path.read_text())
        pairs = manifest["stats"]["pairs"]
        out.append(
            {
                "version": folder.name,
                "parent": manifest.get("parent_version"),
                "published_at": published_at.get(folder.name),
                "train": pairs.get("train", 0),
                "test": pairs.get("test", 0),
                "kto": sum(manifest["stats"]["kto"].values()),
                "partitions": manifest.get("partitions", []),
                "latest": folder.name == latest,
            }
        )
    out.sort(key=lambda v: (order.get(v["version"], -1), v["version"]), reverse=True)
    return out
