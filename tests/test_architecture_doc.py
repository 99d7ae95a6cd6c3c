"""docs/architecture.md is the tree as it is: rendered from the code by scripts/architecture.py,
so a moved module, a new stage or a model without its YAML shows up here as a failure."""

from __future__ import annotations

import importlib.util
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _renderer():
    spec = importlib.util.spec_from_file_location("architecture", ROOT / "scripts" / "architecture.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_architecture_page_matches_the_tree():
    module = _renderer()
    assert module.render() == module.DOC.read_text(encoding="utf-8"), (
        "docs/architecture.md is stale: run .venv/bin/python scripts/architecture.py and review the diff")


def test_every_dbt_model_has_its_yaml_with_a_description():
    module = _renderer()
    sql = {p.stem for p in module.MODELS.rglob("*.sql")}
    described = {name for name, text in module._model_descriptions().items() if text}
    assert sql == described, f"models without a described YAML: {sorted(sql - described)}"
