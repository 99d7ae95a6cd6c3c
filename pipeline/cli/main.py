"""prefline: the data engineer's verbs over Dagster and the warehouse.

Exit codes: 0 success; 1 a build was blocked by a quality gate, a step failed, or an error;
2 bad usage; 3 another build holds this PREFLINE_HOME. `prefline COMMAND --help` lists each
command's own (EXIT_CODES below).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from pipeline.core import paths

FILES = """\
files (under $PREFLINE_HOME; default: .prefline_home in the checkout):
  landing/<day>/*.jsonl[.gz]|.parquet|.csv        raw feedback, one folder per day (YYYY-MM-DD)
  control/deletions*.csv                          deletion requests (prefline forget)
  evalsets/**/*.jsonl[.gz]                        benchmark files as published, kept out of training
  prefline.yaml                                   overrides the project's settings ($PREFLINE_CONFIG)
  warehouse.duckdb                                every stage's tables, the lineage and the ledger
  dagster/                                        run history and logs ($DAGSTER_HOME; make ui)
  datasets/preference_pairs/<version>/            published versions: train/test/kto/lineage/
                                                  rejected.parquet, manifest.json, README.md, *.png
  datasets/preference_pairs/LATEST                the newest published version id
  datasets/preference_pairs/publications.jsonl    when each version was published, by which run
  datasets/_staging/<version>/                    the candidate; a blocked one stays for inspection
  docs/gx/<suite>/index.html                      Data Docs of a failing Great Expectations suite
  tmp/                                            DuckDB's spill files, a day's batches staged before
                                                  they are swapped in (emptied after each step)
"""

EPILOG = """examples:
  prefline sample && prefline build --all     # build the bundled sample end to end
  prefline build --date 2026-11-03            # the nightly run for one day
  prefline versions                           # what is published, newest first
  prefline diff <old> LATEST                  # what changed, with reasons
  prefline trace <pair or event id>           # a row's whole path, landing file to version

exit codes:
  0 success
  1 blocked by a quality gate, a failed step, or an error (a traceback is printed)
  2 bad usage
  3 another build holds this PREFLINE_HOME (build only)

""" + FILES + """
Run `prefline COMMAND --help` for a command's description, examples and exit codes.
"""

DESCRIPTION = """\
Turn raw LLM user feedback (pairwise preferences, ratings, thumbs, edits, regenerations) into
versioned, TRL-ready preference sets. Every build captures each day's landing files against the
event contract, normalizes, deduplicates and decontaminates them, builds pairs and KTO rows,
judges what needs a judge, runs the quality gates and only then publishes a new immutable
version folder with a dataset card. Builds run as Dagster jobs, so the CLI, the schedule and
the UI (make ui) share one run history."""

# Per command: what its exit codes mean. argparse itself exits 2 on bad usage, and an
# unexpected error exits 1 with a traceback.
EXIT_CODES = {
    "build": "0 published (LATEST names the new version, or the same one if nothing changed)\n"
             "1 blocked by a quality gate or a step failed: nothing published, LATEST unchanged\n"
             "2 bad usage, a --date with no landing folder, or --all with no day folder under landing/\n"
             "3 another build holds this PREFLINE_HOME (nothing started)",
    "generate": "0 written\n1 an error (e.g. the landing folder is not writable)\n2 bad usage (e.g. --start not YYYY-MM-DD)",
    "sample": "0 written\n1 an error",
    "trace": "0 found\n1 no event, record, pair or KTO row with that id, or the warehouse cannot be opened\n"
             "2 bad usage",
    "diff": "0 compared\n1 a version id matches no or several published versions, or no version is published\n"
            "2 bad usage",
    "forget": "0 recorded (whether or not a published version holds the user's rows)\n2 bad usage (--user missing)",
    "republish": "0 successor written (or already there)\n1 the version matches no or several published versions "
                 "(a blocked candidate is named with its failed checks), or the successor fails its checks\n"
                 "2 --without-deleted missing, or bad usage",
    "versions": "0 listed (also when none is published)",
    "import": "0 events written, or the same file was imported before (nothing written)\n"
              "1 nothing could be imported (every record skipped)\n"
              "2 bad usage: unknown format, a missing file, an unsupported extension or a bad --date",
    "validate": "0 every record meets the event contract\n1 some records would be quarantined, or the file "
                "cannot be read\n2 bad usage",
}

# Per command: what it does, one paragraph.
DESCRIPTIONS = {
    "build": """\
Build and, if every gate passes, publish a new version. Runs the Dagster `build` job: each
stretch of consecutive days is captured, staged, filtered and normalized in one run, and the
last run also takes the whole window through dedup, decontamination, pair construction,
judging and export. The candidate is written to datasets/_staging/<version>/, audited by the
blocking checks, and only then renamed into datasets/preference_pairs/<version>/ with LATEST
pointed at it. A blocked build publishes nothing and lists the failed checks and steps; the
candidate stays in _staging and a failing Great Expectations suite writes its Data Docs under
docs/gx/. Rebuilding the same inputs with the same config gives the same version id and bytes.
One build runs per PREFLINE_HOME at a time (lock file .build.lock).""",
    "generate": """\
Write seeded synthetic feedback events into landing/<day>/, one file per chat format, plus
deletion requests for a few users under control/. Each day mixes every event type and the
messes of a production feed (redeliveries, re-logged conversations, reused ids, opt-outs,
malformed records). The same arguments always write the same bytes; use it for load tests
and benchmarks. By default texts are recombined from a fixed pool of a few thousand real
prompts and replies (the pool mode: a large day repeats its prompts); --realistic composes
every prompt and reply from the bundled HH-RLHF and OASST text (Markov chains with real
lengths), so a day's texts are nearly all distinct, with a product's event mix (mostly
thumbs and regenerations), a few % re-asked prompts, PII and junk.""",
    "sample": """\
Write the bundled sample into $PREFLINE_HOME: three days of landing data (the 2,312 real
HH-RLHF harmless-base pairs as pairwise events, ~3,000 generated events of every type, a few
benchmark leaks for decontamination to catch), deletion requests under control/ and the
bundled eval sets under evalsets/. `make run` does this, then `prefline build --all`.""",
    "trace": """\
Show the whole path of one row or event: for a pair or KTO row, its columns, the versions
that publish it and every captured record it was built from; for an event or record id, its
landing file and line, each stage's decision (kept, quarantined, dropped and why) and the
rows and versions it ended in. Opens the warehouse read-only, which fails (exit 1) while a
build is writing to it.""",
    "diff": """\
Compare two published versions: rows added and removed (with the ledger's reason where an
event was dropped), label flips (the same prompt and responses with chosen and rejected
swapped), and shifts in label-source, category and template mix and in response lengths.
Versions are given by id, a unique prefix of one, or LATEST.""",
    "forget": """\
Record a user's deletion request in control/deletions.csv. Every later build excludes the
user's events (reason `deletion` in the ledger). Published versions are never modified: the
command lists the versions that hold rows built from the user's events, with the command
that republishes each one without them.""",
    "republish": """\
Write a successor of a published version without the rows built from the events of users in
control/deletions*.csv. The successor is a new version folder (its parent is the old one, its
rejected.parquet records the removed events with reason `deletion`); LATEST moves to it if it
named the old version. The old folder is left in place for you to remove.""",
    "versions": """\
List the published versions, newest first, with their publication time, train/test pair and
KTO row counts and parent version; `*` marks LATEST. Read from each version's manifest.json
and datasets/preference_pairs/publications.jsonl.""",
    "import": """\
Convert a file exported from a feedback or annotation tool into contract events. Each event
lands in the day folder of its own created_at, landing/<YYYY-MM-DD>/import-<format>-<file
stem>-<content key>.jsonl, so an export spanning months fills many days and `prefline build
--all` builds them. Files are named by content: an import never overwrites another, and the
same file imported again writes nothing and says so. A failed import leaves nothing behind.
.json, .jsonl, .ndjson (each optionally .gz) and .parquet are read. Nothing is dropped
silently: records that give no event are counted by reason in the summary. Consent to
training defaults per format (annotation work: yes; end-user chats and arena votes: no); the
summary names the default applied; set it with the flags below.""",
    "validate": """\
Check one landing file against the event contract without building or touching the
warehouse: prints how many records are valid and, for those capture would quarantine, the
line number, reason and detail.""",
}

def _cmd_generate(args: argparse.Namespace) -> int:
    from pipeline.synth.generate import write_landing

    summary = write_landing(
        paths.landing_dir(), n=args.events, days=args.days, start=args.start, seed=args.seed,
        mode="realistic" if args.realistic else "pool",
    )
    print(f"wrote {summary} under {paths.landing_dir()}")
    return 0


def _cmd_sample(args: argparse.Namespace) -> int:
    from pipeline.synth.sample import write_sample

    summary = write_sample(paths.home())
    print(f"sample written under {paths.home()}: {summary}")
    return 0


def _evalsets_problem() -> str | None:
    """The one-line reason the eval sets cannot be read (a line no rule reads), checked before a
    build starts so it is not found mid-build; None when they read or decontamination is off."""
    from pipeline.core.config import load_config
    from pipeline.dedup.decontam import DecontamConfig, load_evalsets

    try:
        if DecontamConfig.from_config(load_config().get("decontamination")).enabled:
            load_evalsets(paths.evalsets_dir())
    except ValueError as exc:
        return f"{exc} (fix or remove that file under {paths.evalsets_dir()})"
    return None


def _cmd_build(args: argparse.Namespace) -> int:
    from pipeline.cli.build import BuildLocked, run_build
    from pipeline.core.partitions import landing_days

    root = paths.landing_dir()
    days = landing_days(root) if args.all else sorted(set(args.date or []))
    if not days:
        print(f"nothing to build: give --date YYYY-MM-DD (repeatable), or --all with day folders under {root}",
              file=sys.stderr)
        return 2
    missing = [d for d in days if not (root / d).is_dir()]
    if missing:
        # A day built before whose folder is gone rebuilds as an empty day; a day never seen
        # and without a folder is a typo or a missing copy.
        from pipeline.cli.build import known_days

        missing = sorted(set(missing) - set(known_days()))
    if missing:
        print(f"no landing folder for {', '.join(missing)} under {root}: put that day's files in "
              f"{root / missing[0]}/ (or `prefline import ...`), or build the days that exist with --all",
              file=sys.stderr)
        return 2
    problem = _evalsets_problem()
    if problem:
        print(f"not started: {problem}", file=sys.stderr)
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
    from pipeline.importers import import_file

    consent = True if args.consent_training else False if args.no_consent_training else None
    try:
        options = dict(o.split("=", 1) if "=" in o else (o, "") for o in args.option or ())
        summary = import_file(args.format, Path(args.path), paths.landing_dir(), args.date, consent=consent,
                              options=options)
    except (ValueError, FileNotFoundError, IsADirectoryError) as exc:
        print(f"prefline import: {exc}", file=sys.stderr)
        return 2
    print(summary.render())
    return 0 if summary.events_written or summary.already_imported else 1


def _cmd_validate(args: argparse.Namespace) -> int:
    from pipeline.capture.landing import capture_file

    result = capture_file(Path(args.file))
    print(f"{args.file}: {result.events.num_rows} valid events, {result.quarantine.num_rows} quarantined")
    for row in result.quarantine.to_pylist()[: args.limit]:
        print(f"  line {row['source_line']}: {row['reason']} — {row['detail']}")
    return 0 if result.quarantine.num_rows == 0 else 1


def _cmd_trace(args: argparse.Namespace) -> int:
    import json

    from pipeline.cli.trace import render, trace
    from pipeline.core import warehouse

    with warehouse.connect(read_only=True) as con:
        result = trace(con, args.id, paths.datasets_dir())
    print(json.dumps(result, indent=2, default=str) if args.json else render(result))
    return 0 if result["kind"] != "unknown" else 1


def _resolve_version(name: str) -> str:
    from pipeline.final_preference_set.publish import latest_version

    if name.upper() == "LATEST":
        latest = latest_version(paths.datasets_dir())
        if latest is None:
            raise SystemExit("no published version yet")
        return latest
    root = paths.datasets_dir()
    matches = [p.name for p in root.iterdir() if p.is_dir() and p.name.startswith(name)] if root.is_dir() else []
    if len(matches) != 1:
        staged = paths.staging_dir()
        blocked = [p.name for p in staged.iterdir() if p.is_dir() and p.name.startswith(name)] if staged.is_dir() else []
        if not matches and len(blocked) == 1:
            raise SystemExit(_not_published(blocked[0]))
        raise SystemExit(f"version {name!r} matches {len(matches)} published versions")
    return matches[0]


def _not_published(version: str) -> str:
    """Why a candidate in _staging is not a published version, from the run history."""
    from dagster import DagsterInstance

    from pipeline.cli.build import ensure_dagster_home
    from pipeline.definitions import load_defs
    from pipeline.final_preference_set.audit import HOW_TO_PROCEED
    from pipeline.final_preference_set.evidence import recorded_failures

    ensure_dagster_home()
    with DagsterInstance.get() as instance:
        failures = recorded_failures(instance, load_defs().resolve_asset_graph(), version)
    lines = [f"{version} is a candidate in {paths.staging_dir()} that was never published"
             + (", blocked by:" if failures else "; no check has passed it")]
    lines += [f"  - {f}" for f in failures]
    lines.append(f"to proceed: {HOW_TO_PROCEED}")
    return "\n".join(lines)


def _cmd_diff(args: argparse.Namespace) -> int:
    import json

    from pipeline.cli.diff import diff_versions, render

    result = diff_versions(paths.datasets_dir(), _resolve_version(args.a), _resolve_version(args.b))
    print(json.dumps(result, indent=2) if args.json else render(result, limit=args.limit))
    return 0


def _cmd_versions(args: argparse.Namespace) -> int:
    import json

    from pipeline.cli.versions import list_versions

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
    from pipeline.cli.forget import record_deletion, versions_with_users
    from pipeline.core import warehouse

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
    from pipeline.cli.forget import deleted_users, republish_without
    from pipeline.core import warehouse

    if not args.without_deleted:
        print("republish needs --without-deleted (the only republish mode)", file=sys.stderr)
        return 2
    from pipeline.final_preference_set.publish import PublishRefused

    version = _resolve_version(args.version)
    try:
        with warehouse.connect(read_only=True) as con:
            result = republish_without(con, paths.datasets_dir(), version, deleted_users(paths.control_dir()))
    except PublishRefused as exc:
        print(f"not republished: {exc}; the successor stays in {paths.staging_dir()}", file=sys.stderr)
        return 1
    print(f"successor of {version}: {result['successor']}\n  {result['path']}")
    print(f"  rows removed: {result['rows_removed']}")
    print(f"  the old folder {paths.datasets_dir() / version} is left for you to remove")
    return 0


def _day(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("prefline")
    except PackageNotFoundError:
        return "unknown"


def _add(sub, name: str, help: str, examples: str):
    """A subcommand whose help has a description, examples, exit codes and the file layout."""
    epilog = (
        "examples:\n" + examples.rstrip() + "\n\nexit codes:\n"
        + "".join(f"  {line}\n" for line in EXIT_CODES[name].splitlines()) + "\n" + FILES
    )
    return sub.add_parser(name, help=help, description=DESCRIPTIONS[name], epilog=epilog,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="prefline",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"prefline {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _add(sub, "build", "materialize day partitions and the downstream build; publish if every gate passes", """\
  prefline build --date 2026-11-03                      # the nightly run: one new day
  prefline build --date 2026-11-03 --date 2026-11-04    # several days (consecutive ones share a run)
  prefline build --all                                  # every day under landing/ (a full rebuild)
  PREFLINE_HOME=/srv/prefline prefline build --all      # another deployment
""")
    p.add_argument("--date", action="append", metavar="YYYY-MM-DD", type=_day,
                   help="a day to (re)capture from landing/<day>/; repeatable")
    p.add_argument("--all", action="store_true", help="every day found under $PREFLINE_HOME/landing (ignores --date)")
    p.set_defaults(func=_cmd_build)

    p = _add(sub, "generate", "write seeded synthetic feedback events into the landing folder", """\
  prefline generate                                          # 10,000 events on 2026-11-01
  prefline generate --events 100000 --days 3 --start 2026-11-01
  prefline generate --seed 11 && prefline build --all        # another draw, then build it
  prefline generate --realistic --events 1000000             # a day of distinct texts, for benchmarks
""")
    p.add_argument("--events", type=int, default=10_000, metavar="N", help="events per day (default: 10000)")
    p.add_argument("--days", type=int, default=1, metavar="N", help="consecutive days to write (default: 1)")
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 11, 1), metavar="YYYY-MM-DD",
                   help="first day (default: 2026-11-01)")
    p.add_argument("--seed", type=int, default=7, help="random seed; the same arguments write the same bytes (default: 7)")
    p.add_argument("--realistic", action="store_true",
                   help="compose distinct prompts and replies from the bundled real text, with a product's event "
                        "mix (default: the pool mode, which recombines a fixed pool of a few thousand real texts)")
    p.set_defaults(func=_cmd_generate)

    p = _add(sub, "sample", "write the bundled sample (HH-RLHF + generated events) into $PREFLINE_HOME", """\
  prefline sample && prefline build --all
  PREFLINE_HOME=/tmp/demo prefline sample && PREFLINE_HOME=/tmp/demo prefline build --all
""")
    p.set_defaults(func=_cmd_sample)

    p = _add(sub, "trace", "the whole path of a pair, KTO row or event: landing file and line, every stage, every version", """\
  prefline trace hh-000042                          # an event id: landing line, each stage
  prefline trace 001f9233d026f56c17a854e61c67c00a   # a pair or KTO row id: its sources, versions
  prefline trace hh-000042 --json | jq '.records[0].stages'
""")
    p.add_argument("id", help="an event id, record id, pair id or KTO row id")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_trace)

    p = _add(sub, "diff", "rows added/removed (with reasons), label flips and mix shifts between two versions", """\
  prefline diff 1a2b3c4d LATEST                 # the last published change
  prefline diff 1a2b 5e6f --limit 100           # unique prefixes are enough
  prefline diff 1a2b3c4d LATEST --json > diff.json
""")
    p.add_argument("a", help="older version id (a unique prefix, or LATEST)")
    p.add_argument("b", help="newer version id (a unique prefix, or LATEST)")
    p.add_argument("--json", action="store_true", help="machine-readable output, every row")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="rows listed per section (default: 20)")
    p.set_defaults(func=_cmd_diff)

    p = _add(sub, "forget", "record a user's deletion request and list the published versions holding their rows", """\
  prefline forget --user u-1234 --reason 'GDPR art. 17 request #881'
  prefline forget --user u-1234 && prefline republish LATEST --without-deleted
""")
    p.add_argument("--user", required=True, help="the user_id of the user's events")
    p.add_argument("--reason", help="free text kept with the request (e.g. a ticket number)")
    p.set_defaults(func=_cmd_forget)

    p = _add(sub, "republish", "write a successor of a version without the rows of deleted users", """\
  prefline republish 1a2b3c4d --without-deleted
  prefline republish LATEST --without-deleted
""")
    p.add_argument("version", help="the version to republish (a unique prefix, or LATEST)")
    p.add_argument("--without-deleted", action="store_true",
                   help="drop rows of users in control/deletions*.csv (required: the only republish mode)")
    p.set_defaults(func=_cmd_republish)

    p = _add(sub, "versions", "published versions, newest first, with counts and parents", """\
  prefline versions
  prefline versions --json | jq '.[0]'
""")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=_cmd_versions)

    from pipeline.importers import FORMAT_HELP

    p = _add(sub, "import", "convert a file from a feedback tool into contract events in the landing folder", """\
  prefline import label-studio project-1-at-2023-04-17.json
  prefline import argilla export.json.gz --no-consent-training
  prefline import arena battles.jsonl --date 2026-11-03 && prefline build --all
""")
    p.epilog = "formats:\n" + "\n".join(f"  {k:<14} {v}" for k, v in FORMAT_HELP.items()) + "\n\n" + p.epilog
    p.add_argument("format", choices=sorted(FORMAT_HELP), help="the tool or dataset the file comes from (see formats)")
    p.add_argument("path", help="the exported file")
    p.add_argument("--date", metavar="YYYY-MM-DD",
                   help="day for events whose source has no time of its own (default: today, UTC); "
                        "events with a time land in their own day")
    consent = p.add_mutually_exclusive_group()
    consent.add_argument("--consent-training", action="store_true", help="mark every imported event as consented")
    consent.add_argument("--no-consent-training", action="store_true", help="mark every imported event as not consented")
    p.add_argument("--option", action="append", metavar="NAME=VALUE",
                   help="a format's import option, e.g. arena moderation=keep (see formats)")
    p.set_defaults(func=_cmd_import)

    p = _add(sub, "validate", "check one landing file against the event contract without building", """\
  prefline validate landing/2026-11-01/events.jsonl.gz
  prefline validate export.parquet --limit 100
""")
    p.add_argument("file", help="a .jsonl, .jsonl.gz, .parquet or .csv file")
    p.add_argument("--limit", type=int, default=20, metavar="N", help="quarantined records to list (default: 20)")
    p.set_defaults(func=_cmd_validate)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
