"""Every prefline command explains itself: what it does, examples, its exit codes, where files go.
In-process through the parser: no subprocess, no warehouse."""

from __future__ import annotations

import re

import pytest

from pipeline.cli.main import EXIT_CODES, build_parser

COMMANDS = ("build", "generate", "sample", "import", "validate", "trace", "diff", "versions", "forget", "republish")


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return parser, sub.choices


def _section(text: str, title: str) -> str:
    """The indented lines under ``title:`` up to the next blank line."""
    block = text.split(f"\n{title}:\n", 1)[1]
    return block.split("\n\n", 1)[0]


def test_every_command_is_there_and_has_its_exit_codes_written_down():
    _, commands = _commands()
    assert set(commands) == set(COMMANDS) == set(EXIT_CODES)


def test_the_top_level_help_lists_every_command_examples_exit_codes_and_files():
    parser, commands = _commands()
    text = parser.format_help()
    assert all(re.search(rf"^\s+{name}\s", text, re.M) for name in commands)
    assert "prefline build --all" in _section(text, "examples")
    codes = _section(text, "exit codes")
    assert [line.split()[0] for line in codes.splitlines()] == ["0", "1", "2", "3"]
    assert "another build holds this PREFLINE_HOME" in codes
    assert "datasets/preference_pairs/<version>/" in text and "datasets/_staging/" in text


@pytest.mark.parametrize("name", COMMANDS)
def test_each_command_help_has_a_description_examples_exit_codes_and_files(name):
    _, commands = _commands()
    command = commands[name]
    text = command.format_help()
    assert command.description and len(command.description.split()) >= 25, "a paragraph, not a line"
    examples = _section(text, "examples")
    assert examples.strip() and all(f"prefline {name}" in line for line in examples.splitlines())
    codes = [line.split()[0] for line in _section(text, "exit codes").splitlines()]
    assert codes and codes[0] == "0" and codes == sorted(codes)
    for key in ("landing/", "control/", "evalsets/", "warehouse.duckdb", "datasets/preference_pairs/<version>/",
                "datasets/_staging/", "docs/gx/"):
        assert key in text, key
    # Every option says what it is for.
    for action in command._actions:
        assert action.help, f"{name}: {action.dest} has no help"


@pytest.mark.parametrize("name", COMMANDS)
def test_help_exits_0_and_prints_the_same_text(name, capsys):
    _, commands = _commands()
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args([name, "--help"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == commands[name].format_help()


def test_only_build_exits_3_and_build_documents_its_gate_and_lock_codes():
    _, commands = _commands()
    build = _section(commands["build"].format_help(), "exit codes")
    assert re.search(r"^\s*1 blocked by a quality gate", build, re.M)
    assert re.search(r"^\s*3 another build holds", build, re.M)
    assert all(not re.search(r"^3 ", EXIT_CODES[n], re.M) for n in COMMANDS if n != "build")


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0 and re.match(r"prefline \S+\n", capsys.readouterr().out)
