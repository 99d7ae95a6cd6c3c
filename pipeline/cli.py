"""prefline: the data engineer's verbs over Dagster and the warehouse.

Exit codes: 0 success; 1 a build was blocked by a quality gate or a step failed; 2 bad usage;
3 another build holds this PREFLINE_HOME.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from pipeline import paths

FILES = """\
files ($PREFLINE_HOME, default .prefline_home in the checkout; prefline.yaml there overrides the project's):
  landing/<day>/*.jsonl|.jsonl.gz|.parquet|.csv   raw feedback, one folder per day
  control/deletions.csv                           deletion requests (prefline forget)
  evalsets/*.jsonl[.gz]                           benchmark prompts kept out of training
  warehouse.duckdb                                every stage's tables, lineage and ledger
  dagster/                                        run history (make ui)
  datasets/preference_pairs/<version>/            published versions; LATEST names the newest
  datasets/_staging/                              a blocked candidate, kept for inspection
  docs/gx/<suite>/index.html                      Data Docs of a failing GX suite
"""

EPILOG = FILES + """
exit codes:
  0 success   1 blocked by a gate or a failed step   2 bad usage
  3 another build holds this PREFLINE_HOME

run `prefline COMMAND --help` for a command's examples and exit codes.
"""

# Per command: what its exit codes mean (argparse itself exits 2 on bad usage).
EXIT_CODES = {
    "build": "0 published   1 blocked by a quality gate or a step failed (LATEST unchanged)\n"
             "  2 no days given or found   3 another build holds this PREFLINE_HOME",
    "generate": "0 written",
    "sample": "0 written",
    "trace": "0 found   1 no event, pair or KTO row with that id",
    "diff": "0 compared   1 a version id matches no or several published versions",
    "forget": "0 recorded",
    "republish": "0 successor written   1 unknown version   2 --without-deleted missing",
    "versions": "0 listed",
    "import": "0 events written   1 nothing could be imported",
    "validate": "0 every record meets the contract   1 some records would be quarantined",
}


def _cmd_generate(args: argparse.Namespace) -> int:
    from pipeline.lib.generate import write_landing

    summary = write_landing(
        paths.landing_dir(), n=args.events, days=args.days, start=args.start, seed=args.seed
    )
    print(f"wrote {summary} under {paths.landing_dir()}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.lib.sample import write_sample

    summary = write_sample(paths.home())
    print(f"sample written under {paths.home()}: {summary}")
    return 0


def _landing_days() -> list[str]:
    root = paths.landing_dir()
    days = []
    for child in sorted(root.iterdir()) if root.exists() else []:
        try:
            date.fromisoformat(child.name)
        except ValueError:
            continue
        if child.is_dir():
            days.append(child.name)
    return days


def _cmd_build(args: argparse.Namespace) -> int:
    from pipeline.orchestrate import BuildLocked, run_build

    days = sorted(set(args.date or [])) if not args.all else _landing_days()
    if not days:
        print("nothing to build: give --date YYYY-MM-DD (repeatable) or --all with landing data", file=sys.stderr)
        return 2
    print(f"building {len(days)} day(s): {days[0]} .. {days[-1]}", flush=True)
    try:
        outcome = run_build(days)
    except BuildLocked as exc:
        print(f"not started: {exc}", file=sys.stderr)
        return 3
    if outcome.success:
        target = paths.datasets_dir() / outcome.version_id
        print(f"published preference set {outcome.version_id}\n  {target}")
        print(f"  LATEST -> {outcome.version_id}")
        print("inspect runs and lineage: make ui  (http://127.0.0.1:3000)")
        return 0
    print("BUILD BLOCKED — nothing was published; LATEST is unchanged.", file=sys.stderr)
    for line in outcome.blocked:
        print(f"  failed check {line}", file=sys.stderr)
    for line in outcome.failed_steps[:10]:
        print(f"  failed step {line}", file=sys.stderr)
    print(f"  runs: {', '.join(outcome.run_ids)} (see them in the Dagster UI: make ui)", file=sys.stderr)
    return 1


def _cmd_import(args: argparse.Namespace) -> int:
    from pipeline.lib.importers import import_file

    consent = True if args.consent_training else False if args.no_consent_training else None
    summary = import_file(args.format, Path(args.path), paths.landing_dir(), args.date, consent=consent)
    print(summary.render())
    return 0 if summary.events_written else 1


def _cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.lib.capture import capture_file

    result = capture_file(Path(args.file))
    print(f"{args.file}: {result.events.num_rows} valid events, {result.quarantine.num_rows} quarantined")
    for row in result.quarantine.to_pylist()[: args.limit]:
        print(f"  line {row['source_line']}: {row['reason']} — {row['detail']}")
    return 0 if result.quarantine.num_rows == 0 else 1


def _cmd_trace(args: argparse.Namespace) -> int:
    import json

    from pipeline import warehouse
    from pipeline.lib.trace import render, trace

    with warehouse.connect(read_only=True) as con:
        result = trace(con, args.id, paths.datasets_dir())
    print(json.dumps(result, indent=2, default=str) if args.json else render(result))
    return 0 if result["kind"] != "unknown" else 1


def _resolve_version(name: str) -> str:
    from pipeline.lib.publish import latest_version

    if name.upper() == "LATEST":
        latest = latest_version(paths.datasets_dir())
        if latest is None:
            raise SystemExit("no published version yet")
        return latest
    matches = [p.name for p in paths.datasets_dir().iterdir() if p.is_dir() and p.name.startswith(name)]
    if len(matches) != 1:
        raise SystemExit(f"version {name!r} matches {len(matches)} published versions")
    return matches[0]


def _cmd_diff(args: argparse.Namespace) -> int:
    import json

    from pipeline.lib.diff import diff_versions, render

    result = diff_versions(paths.datasets_dir(), _resolve_version(args.a), _resolve_version(args.b))
    print(json.dumps(result, indent=2) if args.json else render(result, limit=args.limit))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    import json

    from pipeline.lib.versions import list_versions

    versions = list_versions(paths.datasets_dir())
    if args.json:
        print(json.dumps(versions, indent=2))
        return 0
    if not versions:
        print(f"no published versions under {paths.datasets_dir()}")
    for v in versions:
        mark = "*" if v["latest"] else " "
        print(
            f"{mark} {v['version']}  published {v['published_at'] or '?'}  train {v['train']:,}  test {v['test']:,}"
            f"  kto {v['kto']:,}  parent {v['parent'] or '-'}"
        )
    return 0


def _cmd_forget(args: argparse.Namespace) -> int:
    from pipeline import warehouse
    from pipeline.lib.forget import record_deletion, versions_with_users

    row = record_deletion(paths.control_dir(), args.user, args.reason)
    print(f"recorded deletion request for {row['user_id']} at {row['requested_at']} in {paths.control_dir()}")
    print("every later build excludes this user's events (reason 'deletion' in the ledger)")
    if not paths.warehouse_path().exists():
        return 0
    with warehouse.connect(read_only=True) as con:
        holding = versions_with_users(con, paths.datasets_dir(), {args.user})
    if not holding:
        print("no published version holds rows from this user")
        return 0
    print("published versions holding this user's rows (republish them without deleted users):")
    for version, n in holding.items():
        print(f"  {version}: {n} rows    prefline republish {version} --without-deleted")
    return 0


def _cmd_republish(args: argparse.Namespace) -> int:
    from pipeline import warehouse
    from pipeline.lib.forget import deleted_users, republish_without

    if not args.without_deleted:
        print("republish needs --without-deleted (the only republish mode)", file=sys.stderr)
        return 2
    version = _resolve_version(args.version)
    with warehouse.connect(read_only=True) as con:
        result = republish_without(con, paths.datasets_dir(), version, deleted_users(paths.control_dir()))
    print(f"successor of {version}: {result['successor']}\n  {result['path']}")
    print(f"  rows removed: {result['rows_removed']}")
    print(f"  the old folder {paths.datasets_dir() / version} is left for you to remove")
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prefline")
    except PackageNotFoundError:
        return "unknown"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prefline",
        description="Turn raw LLM user feedback into versioned, TRL-ready preference sets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"prefline {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "build",
        help="materialize day partitions and the downstream build; publish if every gate passes",
        description="Runs the Dagster build job for each day, then the window build and publish.",
        epilog="examples:\n  prefline build --date 2026-11-03          # a nightly day\n"
               "  prefline build --all                      # every day under landing/",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--date", action="append", metavar="YYYY-MM-DD", help="a day to (re)capture; repeatable")
    p.add_argument("--all", action="store_true", help="every day found under $PREFLINE_HOME/landing")
    p.set_defaults(func=_cmd_build)

    p = sub.add_parser(
        "generate",
        help="write seeded synthetic feedback events into the landing folder",
        epilog="example:\n  prefline generate --events 100000 --days 3 --start 2026-11-01",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--events", type=int, default=10_000, help="events per day")
    p.add_argument("--days", type=int, default=1)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 1))
    p.add_argument("--seed", type=int, default=7)
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser(
        "sample",
        help="write the bundled sample (HH-RLHF + generated events) into $PREFLINE_HOME",
        description="Writes 3 days of landing data (the 2,312 real HH-RLHF harmless-base pairs, ~3,000 "
                    "generated events of every type, a few benchmark leaks), deletion requests and the "
                    "bundled eval sets. `make run` does this, then `prefline build --all`.",
        epilog="example:\n  PREFLINE_HOME=/tmp/demo prefline sample && PREFLINE_HOME=/tmp/demo prefline build --all",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser(
        "trace",
        help="the whole path of a pair, KTO row or event: landing file and line, every stage, every version",
        epilog="examples:\n  prefline trace hh-000042\n  prefline trace 3f2a9c0d1e... --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("id", help="an event id, pair id or KTO row id")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_trace)

    p = sub.add_parser(
        "diff",
        help="rows added/removed (with reasons), label flips and mix shifts between two versions",
        epilog="examples:\n  prefline diff 1a2b3c4d LATEST\n  prefline diff A B --json",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("a", help="older version id (a unique prefix, or LATEST)")
    p.add_argument("b", help="newer version id (a unique prefix, or LATEST)")
    p.add_argument("--json", action="store_true")
    p.add_argument("--limit", type=int, default=20, help="rows listed per section")
    p.set_defaults(func=_cmd_diff)

    p = sub.add_parser(
        "forget",
        help="record a user's deletion request and list the published versions holding their rows",
        epilog="example:\n  prefline forget --user u-1234 --reason 'GDPR art. 17 request #881'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--user", required=True)
    p.add_argument("--reason")
    p.set_defaults(func=_cmd_forget)

    p = sub.add_parser(
        "republish",
        help="write a successor of a version without the rows of deleted users",
        epilog="example:\n  prefline republish 1a2b3c4d --without-deleted",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("version")
    p.add_argument("--without-deleted", action="store_true")
    p.set_defaults(func=_cmd_republish)

    p = sub.add_parser(
        "versions",
        help="published versions, newest first, with counts and parents",
        epilog="examples:\n  prefline versions\n  prefline versions --json | jq '.[0]'",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=_cmd_versions)

    from pipeline.lib.importers import FORMAT_HELP

    p = sub.add_parser(
        "import",
        help="convert a file from a feedback tool into contract events in the landing folder",
        epilog="formats:\n" + "\n".join(f"  {k:<14} {v}" for k, v in FORMAT_HELP.items())
        + "\n\nexample:\n  prefline import arena battles.jsonl --date 2026-11-03",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("format", choices=sorted(FORMAT_HELP))
    p.add_argument("path")
    p.add_argument("--date", required=True, help="landing day to write into (YYYY-MM-DD)")
    consent = p.add_mutually_exclusive_group()
    consent.add_argument("--consent-training", action="store_true", help="mark every imported event as consented")
    consent.add_argument("--no-consent-training", action="store_true", help="mark every imported event as not consented")
    p.set_defaults(func=_cmd_import)

    p = sub.add_parser(
        "validate",
        help="check one landing file against the event contract without building",
        epilog="example:\n  prefline validate landing/2026-11-01/events.jsonl.gz",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file")
    p.add_argument("--limit", type=int, default=20, help="quarantined records to list")
    p.set_defaults(func=_cmd_validate)

    summaries = {action.dest: action.help for action in sub._choices_actions}
    for name, command in sub.choices.items():
        if not command.description:
            summary = summaries[name]
            command.description = summary[0].upper() + summary[1:] + "."
        command.epilog = (command.epilog or "") + f"\n\nexit codes:\n  {EXIT_CODES[name]}\n\n" + FILES
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
