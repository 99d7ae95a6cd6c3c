"""dbt invoked inside the Dagster step's own process instead of a fresh `dbt` subprocess.

A build makes three dbt invocations. As subprocesses each paid dbt's import and project parse
(3-4 s apiece, most of a small build's wall time); in-process, the second and later
invocations of a run reuse the loaded dbt and its partial-parse state. Dagster events are
made by dagster-dbt's own translation of dbt's structured events, so the assets, checks and
metadata are the same as with `DbtCliResource.cli(...).stream()`.
"""

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from dagster import AssetExecutionContext, Failure, MetadataValue
from dagster_dbt import DagsterDbtTranslator, DbtCliResource
from dagster_dbt.asset_utils import extract_runtime_selection_from_args, get_updated_cli_invocation_params_for_context
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage

from pipeline.core import paths

_RESULT_EVENTS = {"LogSeedResult", "LogModelResult", "LogSnapshotResult", "LogTestResult"}
_FAILED = {"error", "fail", "runtime error"}


def target_dir() -> Path:
    """dbt's target and log folder: one per deployment, so partial parsing carries over from
    one invocation to the next and nothing is written into the checkout."""
    return paths.home() / "dbt" / "target"


def _close_duckdb() -> None:
    # dbt-duckdb keeps its DuckDB instance open in a class attribute after an invocation;
    # close it so the step's own short-lived connections (and the next process) can open the file.
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    with DuckDBConnectionManager._LOCK:
        env = DuckDBConnectionManager._ENV
        DuckDBConnectionManager._ENV = None
    if env is not None:
        try:
            env.close()
        except Exception:  # closing is best effort; the instance is gone either way
            pass


def dbt_target(config: dict[str, Any]) -> str:
    """The profiles.yml output for ``warehouse.engine``: embedded (DuckDB) or spark."""
    engine = config["warehouse"].get("engine", "duckdb")
    if engine not in ("duckdb", "spark"):
        raise ValueError(f"warehouse.engine must be duckdb or spark, not {engine!r}")
    return "embedded" if engine == "duckdb" else "spark"


@contextmanager
def _profile_env(config: dict[str, Any]) -> Iterator[None]:
    """What profiles.yml reads (the warehouse file and DuckDB's limits), set for one dbt
    invocation and restored after it."""
    values = {
        "PREFLINE_HOME": str(paths.home()),
        "PREFLINE_DUCKDB_MEMORY_LIMIT": str(config["warehouse"]["memory_limit"]),
        "PREFLINE_DUCKDB_THREADS": str(config["warehouse"]["threads"]),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def dbt_build(
    context: AssetExecutionContext,
    dbt: DbtCliResource,
    args: Sequence[str],
    translator: DagsterDbtTranslator,
    config: dict[str, Any],
) -> Iterator[Any]:
    """Run ``dbt <args>`` for the assets the step selected and yield their Dagster events;
    raise a Failure naming the failed nodes after yielding what did run."""
    from dbt.cli.main import dbtRunner
    from dbt_common.events.functions import msg_to_dict

    cleaned, selects, excludes = extract_runtime_selection_from_args(list(args))
    params = get_updated_cli_invocation_params_for_context(
        context=context,
        manifest=None,
        dagster_dbt_translator=translator,
        runtime_selects=selects,
        runtime_excludes=excludes,
    )
    target = target_dir()
    target.mkdir(parents=True, exist_ok=True)
    flags = [
        *cleaned,
        *params.selection_args,
        "--project-dir", str(params.dbt_project.project_dir if params.dbt_project else dbt.project_dir),
        "--profiles-dir", str(dbt.profiles_dir or dbt.project_dir),
        "--target", dbt_target(config),
        "--target-path", str(target),
        "--log-path", str(target),
        "--no-send-anonymous-usage-stats",
    ]
    if params.indirect_selection:
        flags += ["--indirect-selection", params.indirect_selection]

    results: list[dict[str, Any]] = []

    def collect(msg) -> None:
        if msg.info.name in _RESULT_EVENTS:
            results.append(msg_to_dict(msg))

    try:
        with _profile_env(config):
            outcome = dbtRunner(callbacks=[collect]).invoke(flags)
    finally:
        _close_duckdb()

    failed = []
    for raw in results:
        event = DbtCoreCliEventMessage(raw_event=raw, event_history_metadata={})
        status = (raw["data"].get("status") or "").lower()
        if status in _FAILED:
            failed.append(f"{raw['data']['node_info']['unique_id']}: {raw['info']['msg']}")
        yield from event.to_default_asset_events(
            manifest=params.manifest,
            dagster_dbt_translator=params.dagster_dbt_translator,
            context=context,
            target_path=target,
        )
    if not outcome.success:
        reason = str(outcome.exception) if outcome.exception else "; ".join(failed) or "dbt reported failure"
        raise Failure(
            description=f"dbt {' '.join(cleaned[:1])} failed: {reason}",
            metadata={"failed_nodes": MetadataValue.json(failed), "dbt_log": MetadataValue.path(str(target / "dbt.log"))},
        )
