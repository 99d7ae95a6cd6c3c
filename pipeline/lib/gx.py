"""Run a Great Expectations suite file from expectations/ on a DataFrame.

Suites are plain JSON in GX's own serialization (name + a list of {type, kwargs, meta}),
one file per asset, so they read well in review. The pandas datasource is used because
GX's SQL datasource does not work on DuckDB.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")

from pipeline import paths  # noqa: E402


@dataclass
class SuiteResult:
    suite: str
    success: bool
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    docs_path: str | None = None

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {self.evaluated} expectations met"
        names = ", ".join(f["expectation"] + (f"({f['column']})" if f.get("column") else "") for f in self.failed)
        return f"{self.suite}: {len(self.failed)} of {self.evaluated} expectations failed: {names}"


def load_suite(name: str, folder: Path | None = None) -> dict[str, Any]:
    path = (folder or paths.EXPECTATIONS_DIR) / f"{name}.json"
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


def run_suite(name: str, frame: pd.DataFrame, folder: Path | None = None) -> SuiteResult:
    """Validate ``frame`` against the suite file. When it fails, GX Data Docs for the
    validation are written to $PREFLINE_HOME/docs/gx/<suite>/index.html (a fixed place the
    check metadata links to). Rendering docs costs twice the validation itself, so a passing
    suite removes its stale docs instead; its results live in the check's metadata."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    spec = load_suite(name, folder)
    docs_dir = paths.gx_docs_dir() / name
    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = {"globally": False, "metric_calculations": False}
    context.add_data_docs_site(
        site_name="prefline",
        site_config={
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(docs_dir)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        },
    )
    batch_def = (
        context.data_sources.add_pandas("prefline")
        .add_dataframe_asset(name)
        .add_batch_definition_whole_dataframe("all_rows")
    )
    suite = gx.ExpectationSuite(name=spec["name"])
    for exp in spec["expectations"]:
        suite.add_expectation_configuration(
            ExpectationConfiguration(type=exp["type"], kwargs=exp["kwargs"], meta=exp.get("meta", {}))
        )
    suite = context.suites.add(suite)
    validation = context.validation_definitions.add(gx.ValidationDefinition(name=name, data=batch_def, suite=suite))
    checkpoint = context.checkpoints.add(gx.Checkpoint(name=name, validation_definitions=[validation]))
    run = checkpoint.run(batch_parameters={"dataframe": frame})
    result = next(iter(run.run_results.values()))
    if result.success:
        shutil.rmtree(docs_dir, ignore_errors=True)
    else:
        context.build_data_docs(site_names=["prefline"])
    failed = []
    for r in result.results:
        if not r.success:
            res = r.result or {}
            failed.append(
                {
                    "expectation": r.expectation_config.type,
                    "column": r.expectation_config.kwargs.get("column"),
                    "observed": res.get("observed_value"),
                    "unexpected_count": res.get("unexpected_count"),
                    "unexpected_sample": [str(v) for v in (res.get("partial_unexpected_list") or [])[:5]],
                }
            )
    docs = None if result.success else str(docs_dir / "index.html")
    return SuiteResult(spec["name"], bool(result.success), len(result.results), failed, docs)
