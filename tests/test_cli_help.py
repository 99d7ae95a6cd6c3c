"""Every prefline command explains itself: what it does, an example, its exit codes, where files go."""

from __future__ import annotations

import pytest

from pipeline.cli import EXIT_CODES, build_parser


def _commands():
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    return parser, sub.choices


def test_the_top_level_help_lists_every_command_and_the_exit_codes():
    parser, commands = _commands()
    text = parser.format_help()
    assert all(name in text for name in commands)
    assert "exit codes:" in text and "3 another build holds this PREFLINE_HOME" in text


@pytest.mark.parametrize("name", sorted(EXIT_CODES))
def test_each_command_help_has_a_description_an_example_exit_codes_and_files(name):
    _, commands = _commands()
    text = commands[name].format_help()
    assert commands[name].description
    assert "example" in text and f"prefline {name}" in text.split("example", 1)[1]
    assert "exit codes:" in text and text.split("exit codes:", 1)[1].strip().startswith("0 ")
    assert "datasets/preference_pairs/<version>/" in text


def test_every_command_has_its_exit_codes_written_down():
    _, commands = _commands()
    assert set(commands) == set(EXIT_CODES)


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exc:
        build_parser().parse_args(["--version"])
    assert exc.value.code == 0 and capsys.readouterr().out.startswith("prefline ")
