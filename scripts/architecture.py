"""Write docs/architecture.md from the tree as it is: the flow from the asset graph, one line per
folder and module from their docstrings, the dbt models from their YAML descriptions. A test
compares the committed page with this rendering, so the page cannot drift from the code.

    .venv/bin/python scripts/architecture.py          # rewrite docs/architecture.md
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "architecture.md"
PACKAGE = ROOT / "pipeline"
MODELS = ROOT / "dbt_project" / "models"
# The folders that are not stages, in the order a newcomer meets them.
SUPPORT = ("core", "orchestration", "cli", "importers", "synth")
EXAMPLE_STAGE = "dedup"


def _first_sentence(text: str | None) -> str:
    if not text:
        return ""
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    end = paragraph.find(". ")
    return paragraph if end < 0 else paragraph[: end + 1]


def _docstring(path: Path) -> str:
    return _first_sentence(ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))))


def _folder_lines(folder: Path, indent: str = "  ") -> list[str]:
    lines = []
    for child in sorted(folder.iterdir()):
        if child.name.startswith(("_", ".")):  # __init__.py is the folder's own line; caches are not code
            continue
        if child.is_dir() and child.name == "expectations":
            suites = sorted(p.stem for p in child.glob("*.json"))
            lines.append(f"{indent}expectations/  GX suites: {', '.join(suites)}")
        elif child.is_dir():
            doc = _docstring(child / "__init__.py") if (child / "__init__.py").exists() else ""
            lines.append(f"{indent}{child.name}/  {doc}".rstrip())
            lines += _folder_lines(child, indent + "  ")
        elif child.suffix == ".py":
            lines.append(f"{indent}{child.name}  {_docstring(child)}".rstrip())
    return lines


def _model_descriptions() -> dict[str, str]:
    out = {}
    for path in MODELS.rglob("*.yml"):
        for model in (yaml.safe_load(path.read_text()) or {}).get("models", []):
            out[model["name"]] = _first_sentence(model.get("description"))
    return out


def _dbt_lines() -> list[str]:
    descriptions = _model_descriptions()
    lines = []
    for layer in ("staging", "intermediate", "marts"):
        for folder in sorted(p for p in (MODELS / layer).iterdir() if p.is_dir()):
            lines.append(f"  {layer}/{folder.name}/")
            for sql in sorted(folder.glob("*.sql")):
                lines.append(f"    {sql.stem}  {descriptions.get(sql.stem, '(no YAML)')}")
    return lines


def _flow_lines() -> list[str]:
    sys.path.insert(0, str(ROOT))
    from pipeline.definitions import STAGES, load_defs

    graph = load_defs().resolve_asset_graph()
    by_group: dict[str, list[str]] = {}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        daily = node.partitions_def is not None
        by_group.setdefault(node.group_name, []).append(key.to_user_string() + ("" if daily else " (window)"))
    lines = []
    for stage in STAGES:
        name = stage.__name__.rsplit(".", 1)[1]
        lines.append(f"  {name:<24} {', '.join(sorted(by_group.get(name, [])))}")
    return lines


def render() -> str:
    stages = [p.name for p in sorted(PACKAGE.iterdir()) if p.is_dir() and (p / "__init__.py").exists()
              and p.name not in SUPPORT]
    from pipeline.definitions import STAGES

    order = [s.__name__.rsplit(".", 1)[1] for s in STAGES]
    stages.sort(key=order.index)
    out = [
        "# prefline architecture",
        "",
        "Generated from the tree by `scripts/architecture.py`; a test fails when this page and the code",
        "disagree. One stage, one name: its folder under `pipeline/`, its Dagster group, its dbt folder",
        "(`dbt_project/models/<layer>/<stage>/`) and its name in the ledger and in `prefline trace`.",
        "",
        "## The flow",
        "",
        "Each stage's assets, in the order data flows through them; assets marked (window) are rebuilt",
        "over all history (reusing cached per-row work), the rest have one partition per landing day:",
        "",
        "```",
        *_flow_lines(),
        "```",
        "",
        "## The stages",
        "",
        "Each folder holds the stage's assets, its checks and GX suites, and the plain functions only it",
        "uses; its `__init__.py` exports its definitions and `pipeline/definitions.py` merges them.",
        "",
        "```",
        "pipeline/",
        "  definitions.py  " + _docstring(PACKAGE / "definitions.py"),
    ]
    for name in stages:
        out.append(f"  {name}/  {_docstring(PACKAGE / name / '__init__.py')}")
        out += _folder_lines(PACKAGE / name, "    ")
    out += ["```", "", "## What the stages share, and what sits beside the pipeline", "", "```", "pipeline/"]
    for name in SUPPORT:
        out.append(f"  {name}/  {_docstring(PACKAGE / name / '__init__.py')}")
        out += _folder_lines(PACKAGE / name, "    ")
    out += ["```", "", "## The dbt models", "", "```", "dbt_project/models/", *_dbt_lines(), "```", ""]
    example = PACKAGE / EXAMPLE_STAGE
    files = [f"pipeline/{EXAMPLE_STAGE}/{p.name}" for p in sorted(example.glob("*.py"))]
    files += [f"pipeline/{EXAMPLE_STAGE}/expectations/"]
    files += [f"dbt_project/models/{p.relative_to(MODELS)}/" for p in sorted(MODELS.glob(f"*/{EXAMPLE_STAGE}"))]
    out += [f"## Following one stage: {EXAMPLE_STAGE}", "",
            "Everything a newcomer opens to understand it:", ""]
    out += [f"- `{f}`" for f in files]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC.relative_to(ROOT)}")
