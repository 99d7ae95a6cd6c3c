"""End-to-end build benchmark: generate N events a day for D days with prefline's generator,
build through Dagster exactly as a user would (`prefline build`), and report per stage wall
time, rows in and out, rows/s, peak memory of the whole process tree, and how many of the
built prompts and responses are distinct.

    .venv/bin/python bench/build.py --realistic --events 1000000 --days 1
    .venv/bin/python bench/build.py --realistic --events 100000 --days 30 --nightly   # increment vs full rebuild
    .venv/bin/python bench/build.py --events 10000 --days 1                           # pool mode

Two kinds of day (`prefline generate`): --realistic composes every prompt and reply from the
bundled real text, so nearly all are distinct, with a product's event mix, and the bench home
gets the bundled eval sets so decontamination has benchmarks to match; without it, the pool
mode recombines a fixed pool of a few thousand real texts (a large day repeats its prompts,
so per-text stages see a few thousand texts however many events there are).

Per step: wall time, CPU seconds of the process tree (sampled from /proc; on a shared machine
they vary less than wall time), rows in and out, rows/s and peak memory.

To time another checkout's pipeline code with this bench (a commit before a change, say), put
it first on PYTHONPATH: `PYTHONPATH=../old-checkout .venv/bin/python bench/build.py ...`; the
result records the path and commit of the code it measured.

Results: bench/results/build-[realistic-]<events>x<days>[-nightly][-TAG].{md,json}
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


TICK = os.sysconf("SC_CLK_TCK")


def _tree_usage(pid: int) -> tuple[int, float]:
    """Sum of RSS (kB) over a process and all its descendants, and the CPU seconds they and
    the children they have reaped used so far, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            ppid = int(fields[1])
            with open(f"/proc/{entry}/status") as fh:
                vm = next((line for line in fh if line.startswith("VmRSS:")), "VmRSS: 0 kB")
        except (OSError, StopIteration):
            continue
        children.setdefault(ppid, []).append(int(entry))
        rss[int(entry)] = int(vm.split()[1])
        ticks[int(entry)] = sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    total, cpu, stack = 0, 0, [pid]
    while stack:
        p = stack.pop()
        total += rss.get(p, 0)
        cpu += ticks.get(p, 0)
        stack.extend(children.get(p, []))
    return total, cpu / TICK


# (unix time, tree RSS in kB, tree CPU seconds) of every sample of every measured command:
# per-step peaks and CPU time (the machine is shared: CPU seconds vary less than wall time)
RSS_SAMPLES: list[tuple[float, int, float]] = []


def run_measured(cmd: list[str], env: dict[str, str]) -> dict[str, float]:
    """Run a command; wall time and peak RSS of its process tree (sampled every 50 ms)."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, cpu = 0, 0.0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak, cpu
        while not done.is_set():
            rss, cpu = _tree_usage(proc.pid)
            RSS_SAMPLES.append((time.time(), rss, cpu))
            peak = max(peak, rss)
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = proc.communicate()
    done.set()
    sampler.join()
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{output[-4000:]}")
    return {"wall_s": round(wall, 2), "cpu_s": round(cpu, 1), "peak_tree_rss_mb": round(peak / 1024, 1),
            "output": output}


def stage_table(home: Path, run_ids: set[str] | None = None) -> list[dict]:
    """Per-step wall time and row counts from the Dagster run history of this home."""
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    from dagster import DagsterEventType, DagsterInstance, EventRecordsFilter

    with DagsterInstance.get() as instance:
        runs = [r for r in instance.get_runs() if run_ids is None or r.run_id in run_ids]
        steps: dict[str, dict] = {}
        for run in runs:
            for stat in instance.get_run_step_stats(run.run_id):
                if stat.start_time is None or stat.end_time is None:
                    continue
                s = steps.setdefault(stat.step_key, {"step": stat.step_key, "wall_s": 0.0, "cpu_s": 0.0, "runs": 0,
                                                     "peak_mb": 0.0})
                s["wall_s"] += stat.end_time - stat.start_time
                s["runs"] += 1
                during = [(kb, cpu) for t, kb, cpu in RSS_SAMPLES if stat.start_time <= t <= stat.end_time]
                s["peak_mb"] = max(s["peak_mb"], round(max((kb for kb, _ in during), default=0) / 1024, 1))
                if len(during) > 1:
                    s["cpu_s"] += during[-1][1] - during[0][1]
        records = instance.get_event_records(
            EventRecordsFilter(event_type=DagsterEventType.ASSET_MATERIALIZATION), limit=100000
        )
        rows: dict[str, dict] = {}
        step_assets: dict[str, set[str]] = {}
        partitions: dict[str, set] = {}
        for rec in records:
            if run_ids is not None and rec.run_id not in run_ids:
                continue
            mat = rec.asset_materialization
            step_assets.setdefault(rec.event_log_entry.step_key, set()).add(mat.asset_key.path[-1])
            partitions.setdefault(mat.asset_key.path[-1], set()).add(mat.partition)
            meta = {k: v.value for k, v in mat.metadata.items() if isinstance(v.value, (int, float))}
            key = mat.asset_key.to_user_string()
            agg = rows.setdefault(key, {})
            # A run's figures: a backfill of several days records the run's totals on each
            # day's materialization, so the largest is the run's (and the sum would not be).
            for k in ("records_read", "events_captured", "events_in", "events_normalized", "prompts",
                      "pairs_needing_label", "train_pairs", "test_pairs", "kto_rows"):
                if k in meta:
                    agg[k] = max(agg.get(k, 0), meta[k])
    counts = _table_rows(home, partitions)
    upstream = _upstream_tables()
    for s in steps.values():
        s["wall_s"] = round(s["wall_s"], 2)
        s["cpu_s"] = round(s["cpu_s"], 1)
        assets = step_assets.get(s["step"], set())
        if assets:
            reads = {u for a in assets for u in upstream.get(a, ())} - assets
            # Capture reads landing files, not tables: its input is the records it read.
            s["rows_in"] = sum(counts.get(t, 0) for t in reads) + sum(
                rows.get(a, {}).get("records_read", 0) for a in assets)
            s["rows_out"] = sum(counts.get(t, 0) for t in assets)
            s["rows_per_s"] = round(max(s["rows_in"], s["rows_out"]) / s["wall_s"]) if s["wall_s"] else None
    return sorted(steps.values(), key=lambda s: -s["wall_s"]), rows


def _table_rows(home: Path, partitions: dict[str, set]) -> dict[str, int]:
    """Rows of each warehouse table: of a daily table, the partitions this phase materialized
    (all of them for a table it only read); of a window table, all."""
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        tables = {r[0]: r[1] for r in con.execute(
            "select table_name, bool_or(column_name = 'partition_date') from information_schema.columns "
            "group by 1").fetchall()}
        out = {}
        for table, partitioned in tables.items():
            days = sorted(p for p in partitions.get(table, set()) if p)
            if partitioned and days:
                out[table] = con.execute(f"select count(*) from {table} where cast(partition_date as varchar) in "
                                         f"({', '.join('?' * len(days))})", days).fetchone()[0]
            else:
                out[table] = con.execute(f"select count(*) from {table}").fetchone()[0]
        return out
    finally:
        con.close()


def _upstream_tables() -> dict[str, set[str]]:
    """Each asset's upstream assets, by table name, from prefline's asset graph."""
    sys.path.insert(0, str(ROOT))
    from pipeline.definitions import load_defs

    graph = load_defs().resolve_asset_graph()
    return {k.path[-1]: {p.path[-1] for p in graph.get(k).parent_keys} for k in graph.get_all_asset_keys()}


def _run_ids(home: Path) -> set[str]:
    os.environ["DAGSTER_HOME"] = str(home / "dagster")
    if not (home / "dagster").exists():
        return set()
    from dagster import DagsterInstance

    with DagsterInstance.get() as instance:
        return {r.run_id for r in instance.get_runs()}


def build(home: Path, env: dict[str, str], args: list[str]) -> dict:
    return run_measured([str(BIN / "prefline"), "build", *args], env)


def distinct_texts(home: Path) -> dict[str, float]:
    """How many of the normalized events' prompts and responses are distinct (by prompt_hash
    and response_hash), and how many prompts sit in a near-duplicate cluster with another."""
    import duckdb

    con = duckdb.connect(str(home / "warehouse.duckdb"), read_only=True)
    try:
        prompts, distinct_prompts = con.execute(
            "select count(*), count(distinct prompt_hash) from normalized_events").fetchone()
        responses, distinct_responses = con.execute(
            "select count(*), count(distinct response_hash) from normalized_responses").fetchone()
        tables = {r[0] for r in con.execute("select table_name from information_schema.tables").fetchall()}
        near = None
        if "prompt_clusters" in tables:
            near = con.execute("select count(*) from (select prompt_hash, count(*) over (partition by cluster_id) as n "
                               "from prompt_clusters) where n > 1").fetchone()[0]
    finally:
        con.close()
    out = {"prompt_rows": prompts, "distinct_prompts": distinct_prompts,
           "distinct_prompt_share": round(distinct_prompts / prompts, 4) if prompts else None,
           "response_rows": responses, "distinct_responses": distinct_responses,
           "distinct_response_share": round(distinct_responses / responses, 4) if responses else None}
    if near is not None:
        out["prompts_in_near_duplicate_clusters"] = near
        out["near_duplicate_share"] = round(near / distinct_prompts, 4) if distinct_prompts else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=10_000, help="events per day")
    ap.add_argument("--days", type=int, default=1)
    ap.add_argument("--nightly", action="store_true",
                    help="build days-1 days, then time one more day alone vs a full rebuild of all days")
    ap.add_argument("--realistic", action="store_true",
                    help="realistic days: distinct texts composed from the bundled real text, a product's event "
                         "mix, the bundled eval sets in the home (default: the pool mode, a fixed pool of texts)")
    ap.add_argument("--tag", help="appended to the result file names (build-...-TAG), to keep a run beside another")
    ap.add_argument("--keep", action="store_true", help="keep the PREFLINE_HOME")
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="prefline-bench-"))
    env = {**os.environ, "PREFLINE_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
           "GX_ANALYTICS_ENABLED": "False", "PATH": f"{BIN}:{os.environ['PATH']}"}
    if args.realistic:
        # A deployment has eval sets to keep out of training: decontamination gets real work.
        sys.path.insert(0, str(ROOT))
        from pipeline.synth.sample import copy_evalsets

        copy_evalsets(home / "evalsets")
    else:
        # The pool mode recombines a fixed pool of real texts: past ~100k events a day most
        # events repeat one exactly, a day's AI-label share wanders around its 25% gate, and
        # after weeks of history most near-duplicate clusters are at their pair cap, so few new
        # events survive. The gates rightly block such data; the bench measures cost, so it lets
        # these through, the way an operator would, with the reason on record.
        (home / "prefline.yaml").write_text(
            "gates:\n  accept:\n"
            "  - gate: day_duplicate_rate\n"
            "    reason: bench data recombines a fixed pool of texts, so large days repeat exactly\n"
            "  - gate: ai_label_share\n"
            "    reason: bench data; a generated day's AI-label share sits near the gate\n"
            "  - gate: day_survival_share\n"
            "    reason: bench data draws on a fixed pool of prompts; after weeks most clusters are at their pair cap\n"
            "  - gate: day_survival_vs_trailing\n"
            "    reason: bench data draws on a fixed pool of prompts; later days saturate their clusters' pair caps\n"
        )
    start = date(2026, 10, 1)
    gen = run_measured([str(BIN / "prefline"), "generate", "--events", str(args.events), "--days", str(args.days),
                        "--start", start.isoformat()] + (["--realistic"] if args.realistic else []), env)
    days = [(start + timedelta(days=i)).isoformat() for i in range(args.days)]
    code = Path(os.environ.get("PYTHONPATH", "").split(os.pathsep)[0] or ROOT)
    commit = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    result: dict = {"code": {"path": str(code), "commit": commit.stdout.strip()},
                    "mode": "realistic" if args.realistic else "pool", "events_per_day": args.events,
                    "days": args.days, "load_before": os.getloadavg(),
                    "generate": {k: v for k, v in gen.items() if k != "output"}}

    phases: dict[str, set[str]] = {}

    def phase(name: str, build_args: list[str]) -> dict:
        before = _run_ids(home)
        measured = build(home, env, build_args)
        phases[name] = _run_ids(home) - before
        return measured

    if args.nightly:
        history = phase("history", [a for d in days[:-1] for a in ("--date", d)])
        nightly = phase("nightly", ["--date", days[-1]])
        full = phase("full_rebuild", ["--all"])
        result.update(history={k: v for k, v in history.items() if k != "output"},
                      nightly={k: v for k, v in nightly.items() if k != "output"},
                      full_rebuild={k: v for k, v in full.items() if k != "output"},
                      nightly_over_full=round(nightly["wall_s"] / full["wall_s"], 3))
    else:
        full = build(home, env, ["--all"])
        result["build"] = {k: v for k, v in full.items() if k != "output"}
        result["events_per_s"] = round(args.events * args.days / full["wall_s"], 1)
    result["load_after"] = os.getloadavg()
    result["texts"] = distinct_texts(home)
    steps, rows = stage_table(home, phases.get("nightly"))
    result["steps"] = steps
    result["rows"] = rows
    if args.nightly:
        result["full_rebuild_steps"] = stage_table(home, phases["full_rebuild"])[0]

    name = ("build-realistic-" if args.realistic else "build-") + f"{args.events}x{args.days}" + (
        "-nightly" if args.nightly else "") + (f"-{args.tag}" if args.tag else "")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    header = ["| step | wall s | CPU s | rows in | rows out | rows/s | peak tree RSS MB |",
              "|---|---:|---:|---:|---:|---:|---:|"]

    def line(s: dict) -> str:
        rows = [f"{s[k]:,}" if s.get(k) is not None else "" for k in ("rows_in", "rows_out", "rows_per_s")]
        return f"| {s['step']} | {s['wall_s']} | {s['cpu_s']} | {' | '.join(rows)} | {s['peak_mb']} |"

    t = result["texts"]
    texts = [f"Built texts: {t['prompt_rows']:,} prompt rows, {t['distinct_prompts']:,} distinct prompts "
             f"({t['distinct_prompt_share']:.1%}); {t['response_rows']:,} response rows, "
             f"{t['distinct_responses']:,} distinct responses ({t['distinct_response_share']:.1%})"
             + (f"; {t['prompts_in_near_duplicate_clusters']:,} distinct prompts in near-duplicate clusters "
                f"({t['near_duplicate_share']:.1%})" if "near_duplicate_share" in t else "") + ".",
             f"Machine load (1, 5, 15 min) before: {', '.join(f'{x:.2f}' for x in result['load_before'])}; "
             f"after: {', '.join(f'{x:.2f}' for x in result['load_after'])} (2 cores).", ""]
    md = [f"# {name}", ""] + texts + header + [line(s) for s in steps]
    if args.nightly:
        md = md[:len(texts) + 2] + ["Steps of the nightly run:", ""] + md[len(texts) + 2:]
        md += ["", "Steps of the full rebuild:", ""] + header + [line(s) for s in result["full_rebuild_steps"]]
    md += ["", "```", json.dumps({k: v for k, v in result.items() if k not in ('steps', 'rows', 'full_rebuild_steps')},
                                 indent=2), "```"]
    (out / f"{name}.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))
    if not args.keep:
        import shutil

        shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
