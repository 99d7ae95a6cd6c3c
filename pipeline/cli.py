"""prefline: the data engineer's verbs over Dagster and the warehouse.

Exit codes: 0 success; 1 a build was blocked by a quality gate or a step failed; 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from pipeline import paths

EPILOG = """\
files:
  $PREFLINE_HOME (default: .prefline_home in the checkout) holds landing/<day>/ input,
  control/ deletion requests, warehouse.duckdb, dagster/ run history, and
  datasets/preference_pairs/<version>/ published versions with LATEST naming the newest.

exit codes:
  0 success   1 blocked by a gate or a failed step   2 bad usage
"""


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
    from pipeline.orchestrate import run_build

    days = sorted(set(args.date or [])) if not args.all else _landing_days()
    if not days:
        print("nothing to build: give --date YYYY-MM-DD (repeatable) or --all with landing data", file=sys.stderr)
        return 2
    print(f"building {len(days)} day(s): {days[0]} .. {days[-1]}", flush=True)
    outcome = run_build(days)
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


def _cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.lib.capture import capture_file

    result = capture_file(Path(args.file))
    print(f"{args.file}: {result.events.num_rows} valid events, {result.quarantine.num_rows} quarantined")
    for row in result.quarantine.to_pylist()[: args.limit]:
        print(f"  line {row['source_line']}: {row['reason']} — {row['detail']}")
    return 0 if result.quarantine.num_rows == 0 else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prefline",
        description="Turn raw LLM user feedback into versioned, TRL-ready preference sets.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "build",
        help="materialize day partitions and the downstream build; publish if every gate passes",
        description="Runs the Dagster build job for each day, then the window build and publish.",
        epilog="examples:\n  prefline build --date 2026-11-03\n  prefline build --all\n\n" + EPILOG,
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

    p = sub.add_parser("sample", help="write the bundled sample (HH-RLHF + generated events) into $PREFLINE_HOME")
    p.set_defaults(func=_cmd_sample)

    p = sub.add_parser(
        "validate",
        help="check one landing file against the event contract without building",
        epilog="example:\n  prefline validate landing/2026-11-01/events.jsonl.gz",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("file")
    p.add_argument("--limit", type=int, default=20, help="quarantined records to list")
    p.set_defaults(func=_cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
