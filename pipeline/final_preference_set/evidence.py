"""Check evaluations read back from the Dagster instance, for publishing and for the
candidate's check on everything upstream of it.

Dagster's blocking checks stop the downstream steps of their own run only: a later run that
selects `preference_set` alone, or the candidate and its descendants, is not stopped by a check
that failed before. So publishing looks up, for every blocking check, the latest evaluation of
the very materialization it must vouch for: an evaluation targets a materialization when it
names its storage id, or, where Dagster records no target (a check on an unpartitioned asset
in a run of one partition), when it ran in the same run.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from dagster import (
    AssetCheckKey,
    AssetKey,
    AssetRecordsFilter,
    AssetSelection,
    DagsterEventType,
    DagsterInstance,
    EventLogRecord,
)

from pipeline.final_preference_set.audit import Audit, Evaluation, decide
from pipeline.final_preference_set.publish import Candidate, file_digests, verify_candidate

CANDIDATE = AssetKey("preference_set_candidate")
PAGE = 500


@dataclass(frozen=True)
class Materialization:
    storage_id: int
    run_id: str
    timestamp: float
    partition: str | None
    metadata: dict


def _materialization(record: EventLogRecord) -> Materialization:
    mat = record.asset_materialization
    metadata = {k: getattr(v, "value", v) for k, v in (mat.metadata or {}).items()}
    return Materialization(record.storage_id, record.run_id, record.timestamp, mat.partition, metadata)


def latest_materialization(instance: DagsterInstance, key: AssetKey) -> Materialization | None:
    records = instance.fetch_materializations(key, limit=1).records
    return _materialization(records[0]) if records else None


def latest_per_partition(instance: DagsterInstance, key: AssetKey, days: list[str]) -> dict[str, Materialization]:
    """The latest materialization of each of ``days`` (missing days are absent)."""
    wanted, found, cursor = set(days), {}, None
    while wanted - set(found):
        result = instance.fetch_materializations(
            AssetRecordsFilter(asset_key=key, asset_partitions=sorted(wanted - set(found))), limit=PAGE, cursor=cursor
        )
        for record in result.records:
            mat = _materialization(record)
            if mat.partition in wanted and mat.partition not in found:
                found[mat.partition] = mat
        if not result.has_more:
            break
        cursor = result.cursor
    return found


def evaluations_of(instance: DagsterInstance, check: AssetCheckKey, targets: list[Materialization],
                   label: str) -> dict[int, Evaluation | None]:
    """For each target materialization (by storage id), the latest completed evaluation of
    ``check`` that vouches for it, or None."""
    pending = {m.storage_id: m for m in targets}
    by_run: dict[str, list[Materialization]] = {}
    for m in targets:
        by_run.setdefault(m.run_id, []).append(m)
    found: dict[int, Evaluation | None] = {sid: None for sid in pending}
    settled: set[int] = set()
    oldest = min((m.timestamp for m in targets), default=0.0)
    cursor = None
    while len(settled) < len(pending):
        records = instance.event_log_storage.get_asset_check_execution_history(check, limit=PAGE, cursor=cursor)
        for record in records:
            event = record.event
            if event is None or event.dagster_event_type != DagsterEventType.ASSET_CHECK_EVALUATION:
                continue  # planned, not (yet) evaluated: a crashed or running check is no evidence
            evaluation = event.dagster_event.event_specific_data
            target = evaluation.target_materialization_data
            hits = [target.storage_id] if target is not None and target.storage_id in pending else []
            if target is None or target.run_id == record.run_id:
                # In the run that materialized it: a range run names one partition's
                # materialization as its target but checks every day of the range.
                hits += [m.storage_id for m in by_run.get(record.run_id, [])
                         if evaluation.partition in (None, m.partition)]
            for sid in hits:
                if sid in settled:
                    continue  # a later evaluation of the same materialization already decided
                settled.add(sid)
                metadata = {k: getattr(v, "value", v) for k, v in (evaluation.metadata or {}).items()}
                found[sid] = Evaluation(label, bool(evaluation.passed), record.run_id, record.create_timestamp,
                                        evaluation.description or "", metadata, evaluation.partition)
        if len(records) < PAGE or records[-1].create_timestamp < oldest:
            break
        cursor = records[-1].id
    return found


def repository_asset_graph():
    """The whole code location's asset graph: a run's own job may hold only the assets it
    selected, and a launch path may have no repository at all (execute_in_process)."""
    from pipeline.definitions import load_defs

    return load_defs().resolve_asset_graph()


def blocking_checks(asset_graph, key: AssetKey) -> list[AssetCheckKey]:
    return sorted((ck for ck in asset_graph.get(key).check_keys if asset_graph.get_check_spec(ck).blocking),
                  key=lambda ck: ck.name)


def candidate_audit(instance: DagsterInstance, asset_graph, candidate: Candidate) -> Audit:
    """Whether ``candidate`` may be published: it is the last materialization of the candidate
    asset, its files are those that materialization recorded, and every blocking check on the
    candidate has a passing (or accepted) latest evaluation of it, naming the same version."""
    mat = latest_materialization(instance, CANDIDATE)
    expected = [ck.name for ck in blocking_checks(asset_graph, CANDIDATE)]
    if mat is None or mat.metadata.get("version_id") != candidate.version_id:
        built = mat.metadata.get("version_id") if mat else None
        return decide(candidate.version_id, expected, {}, [
            f"the last materialization of {CANDIDATE.to_user_string()} is "
            + (f"version {built}" if built else "missing") + f", not {candidate.version_id}"
        ])
    file_problems = verify_candidate(candidate)
    recorded = mat.metadata.get("file_digests") or {}
    on_disk = file_digests(candidate.path) if candidate.path.is_dir() else {}
    changed = sorted(name for name in set(recorded) | set(on_disk) if recorded.get(name) != on_disk.get(name))
    if changed:
        file_problems.append(f"changed since it was built: {', '.join(changed)}")
    found = {}
    for ck in blocking_checks(asset_graph, CANDIDATE):
        evaluation = evaluations_of(instance, ck, [mat], ck.name)[mat.storage_id]
        audited = evaluation.metadata.get("audited_version") if evaluation else None
        found[ck.name] = evaluation if audited in (None, candidate.version_id) else None
    return decide(candidate.version_id, expected, found, file_problems)


@dataclass
class UpstreamEvidence:
    checked: int  # (check, materialization) pairs looked at
    problems: list[str]


def upstream_evidence(instance: DagsterInstance, asset_graph, key: AssetKey, days: Iterable[str]) -> UpstreamEvidence:
    """Every blocking check on every asset upstream of ``key`` must have passed on the data
    that reaches it: the latest materialization of each unpartitioned asset and of each
    partitioned asset's ``days``."""
    days = sorted(set(days))
    upstream = AssetSelection.assets(key).upstream(include_self=False).resolve(asset_graph)
    checked, problems = 0, []
    for asset in sorted(upstream, key=lambda k: k.to_user_string()):
        checks = blocking_checks(asset_graph, asset)
        if not checks:
            continue
        name = asset.to_user_string()
        if asset_graph.get(asset).partitions_def is not None:
            mats = latest_per_partition(instance, asset, days)
            problems += [f"{name} on {d}: never materialized" for d in days if d not in mats]
        else:
            latest = latest_materialization(instance, asset)
            mats = {None: latest} if latest else {}
            if latest is None:
                problems.append(f"{name}: never materialized")
        targets = list(mats.values())
        for ck in checks:
            found = evaluations_of(instance, ck, targets, f"{name}:{ck.name}")
            for day, mat in sorted(mats.items(), key=lambda kv: kv[0] or ""):
                checked += 1
                where = f"{name}:{ck.name}" + (f" on {day}" if day else "")
                evaluation = found[mat.storage_id]
                if evaluation is None:
                    problems.append(f"{where}: never ran on the data in this candidate (run {mat.run_id[:8]})")
                elif not evaluation.passed:
                    problems.append(f"{where} failed (run {evaluation.run_id[:8]}): {evaluation.description}")
    return UpstreamEvidence(checked, problems)


def recorded_failures(instance: DagsterInstance, asset_graph, version_id: str) -> list[str]:
    """The candidate checks whose latest evaluation of ``version_id`` failed, as summaries."""
    failures = []
    for ck in blocking_checks(asset_graph, CANDIDATE):
        for record in instance.event_log_storage.get_asset_check_execution_history(ck, limit=PAGE):
            event = record.event
            if event is None or event.dagster_event_type != DagsterEventType.ASSET_CHECK_EVALUATION:
                continue
            evaluation = event.dagster_event.event_specific_data
            audited = (evaluation.metadata or {}).get("audited_version")
            if getattr(audited, "value", audited) == version_id:
                if not evaluation.passed:
                    failures.append(f"{ck.name}: {evaluation.description}")
                break
    return failures
