"""Run a Great Expectations suite file (`<stage>/expectations/<asset>.json`) on a DataFrame, or
on a table too big for one, chunk by chunk.

Suites are plain JSON in GX's own serialization (name + a list of {type, kwargs, meta}),
one file per asset, so they read well in review. The pandas datasource is used because
GX's SQL datasource does not work on DuckDB.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core import paths


@dataclass
class SuiteResult:
    suite: str
    success: bool
    evaluated: int
    failed: list[dict[str, Any]] = field(default_factory=list)
    docs_path: str | None = None
    rows: int = 0
    chunks: int = 1  # pandas chunks GX read (0: DuckDB decided the suite without GX)
    engine: str = "great_expectations"  # or "duckdb" (pipeline/core/sql_suite.py)

    def summary(self) -> str:
        if self.success:
            return f"{self.suite}: all {self.evaluated} expectations met"
        names = ", ".join(f["expectation"] + (f"({f['column']})" if f.get("column") else "") for f in self.failed)
        return f"{self.suite}: {len(self.failed)} of {self.evaluated} expectations failed: {names}"


def load_suite(name: str, folder: Path | None = None) -> dict[str, Any]:
    path = folder / f"{name}.json" if folder else paths.suite_file(name)
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


# Expectations decided row by row (or, for uniqueness, by rows sharing a key): a table can be
# checked chunk by chunk. Aggregates (row counts, means) and `mostly` thresholds cannot.
ROW_WISE = frozenset((
    "expect_column_values_to_be_in_set", "expect_column_values_to_not_be_null", "expect_column_values_to_be_between",
    "expect_column_values_to_match_regex", "expect_column_value_lengths_to_be_between",
    "expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique",
))


def chunkable(spec: dict[str, Any]) -> bool:
    return all(exp["type"] in ROW_WISE and "mostly" not in exp["kwargs"] for exp in spec["expectations"])


def unique_keys(spec: dict[str, Any]) -> list[list[str]]:
    """The column sets a suite expects to be unique."""
    keys = []
    for exp in spec["expectations"]:
        if exp["type"] == "expect_column_values_to_be_unique":
            keys.append([exp["kwargs"]["column"]])
        elif exp["type"] == "expect_compound_columns_to_be_unique":
            keys.append(list(exp["kwargs"]["column_list"]))
    return keys


def _merge_failure(failed: dict[tuple, dict[str, Any]], new: dict[str, Any]) -> None:
    key = (new["expectation"], str(new["column"]))
    if key not in failed:
        failed[key] = new
        return
    seen = failed[key]
    if new.get("unexpected_count") is not None:
        seen["unexpected_count"] = (seen.get("unexpected_count") or 0) + new["unexpected_count"]
    seen["unexpected_sample"] = (seen["unexpected_sample"] + new["unexpected_sample"])[:5]


def _context_config():
    """An in-memory GX context that sends no usage statistics."""
    from great_expectations.data_context.types.base import DataContextConfig, InMemoryStoreBackendDefaults

    return DataContextConfig(store_backend_defaults=InMemoryStoreBackendDefaults(), analytics_enabled=False)


def run_suite(name: str, frames: pd.DataFrame | Iterable[pd.DataFrame], folder: Path | None = None) -> SuiteResult:
    """Validate a frame, or each of a sequence of frames, against the suite file.

    A sequence holds one table in chunks. The suite passes when every chunk passes; each
    failure counts its unexpected rows over all chunks. The chunks must keep rows with the
    same unique key together (`warehouse_frames` splits by a hash of it), so uniqueness within
    every chunk is uniqueness of the table.

    When the suite fails, GX Data Docs for the (first) failing chunk are written to
    $PREFLINE_HOME/docs/gx/<suite>/index.html (a fixed place the check metadata links to).
    Rendering docs costs twice the validation itself, so a passing suite removes its stale
    docs instead; its results live in the check's metadata."""
    import great_expectations as gx
    from great_expectations.expectations.expectation_configuration import ExpectationConfiguration

    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    spec = load_suite(name, folder)
    docs_dir = paths.gx_docs_dir() / name
    context = gx.get_context(mode="ephemeral", project_config=_context_config())
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
    if isinstance(frames, pd.DataFrame):
        frames = [frames]
    success, evaluated, rows, chunks, docs = True, 0, 0, 0, None
    failed: dict[tuple, dict[str, Any]] = {}
    for frame in frames:
        run = checkpoint.run(batch_parameters={"dataframe": frame})
        result = next(iter(run.run_results.values()))
        chunks += 1
        rows += len(frame)
        evaluated = len(result.results)
        if not result.success and success:
            context.build_data_docs(site_names=["prefline"])
            docs = str(docs_dir / "index.html")
        success = success and bool(result.success)
        for r in result.results:
            if not r.success:
                res = r.result or {}
                _merge_failure(failed, {
                    "expectation": r.expectation_config.type,
                    "column": r.expectation_config.kwargs.get("column"),
                    "observed": res.get("observed_value"),
                    "unexpected_count": res.get("unexpected_count"),
                    "unexpected_sample": [str(v) for v in (res.get("partial_unexpected_list") or [])[:5]],
                })
    if success:
        shutil.rmtree(docs_dir, ignore_errors=True)
    return SuiteResult(spec["name"], success, evaluated, list(failed.values()), docs, rows, max(chunks, 1))
