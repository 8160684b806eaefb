"""The CLI's manners: the workflow in --help, an example in every command's help, one-line errors, exit codes.

These run no training; the --json one-line checks of train, build and parity live in test_report.py,
which already runs that pipeline once.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from edgekit.artifacts import MANIFEST, MANIFEST_KIND
from edgekit.cli import EXIT_BUG, main


def command_paths(group: click.Group = main, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """Every command and subgroup below ``group``, as argv prefixes, e.g. ('data', 'fetch')."""
    ctx = click.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        assert command is not None
        yield (*prefix, name)
        if isinstance(command, click.Group):
            yield from command_paths(command, (*prefix, name))


def leaf_paths() -> list[tuple[str, ...]]:
    paths = list(command_paths())
    return [p for p in paths if not any(q[: len(p)] == p and q != p for q in paths)]


def invoke(args: list[str], **env: str | None):
    return CliRunner().invoke(main, args, env={"EDGEKIT_QUIET": None, **env})


def one_error_line(result) -> str:
    """The single stderr line of a failed command (and nothing that looks like a traceback)."""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.output + result.stderr
    assert lines[0].startswith("edgekit: "), lines[0]
    return lines[0]


@pytest.fixture
def bare_run(tmp_path: Path) -> Path:
    """The smallest folder edgekit accepts: only a manifest (enough for 'edgekit report')."""
    run = tmp_path / "bare"
    run.mkdir()
    (run / MANIFEST).write_text(json.dumps({"kind": MANIFEST_KIND}))
    return run


def test_there_are_commands_and_subcommands_to_check():
    paths = list(command_paths())
    assert {("train",), ("quantize",), ("parity",), ("build",), ("boards",), ("report",)} <= set(paths)
    assert ("data", "fetch") in paths, "subgroups must be walked too"


def test_main_help_tells_the_whole_workflow_and_exit_codes():
    result = invoke(["--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for path in leaf_paths():
        assert f"edgekit {' '.join(path)}" in text, f"'edgekit {' '.join(path)}' missing from the workflow in --help"
    for code in ("0 ok", "1 a quality gate failed", "2 bad usage", "3 internal error", "--debug"):
        assert code in text


@pytest.mark.parametrize("path", list(command_paths()), ids=" ".join)
def test_every_command_has_an_example_in_its_help(path: tuple[str, ...]):
    result = invoke([*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example" in result.output, f"'edgekit {' '.join(path)} --help' shows no example"
    assert "edgekit " + path[0] in result.output.split("Example", 1)[1], "the example must show the command"


@pytest.mark.parametrize(
    "args, message",
    [
        (["quantize", "{tmp}/missing"], "artifact folder not found"),
        (["parity", "{tmp}/missing"], "artifact folder not found"),
        (["report", "{tmp}"], "not an edgekit artifact folder"),
        (["report", "{bare}", "--out", "{tmp}/no/such/dir/r.html"], "does not exist"),
        (["train", "--data", "{tmp}/missing.txt", "--out", "{tmp}/run"], "file not found"),
        (["build", "--board", "no-such-board", "--data", "synthetic", "--out", "{tmp}/run"], "no-such-board"),
        (["flash", "--board", "no-such-board", "--dry-run"], "no-such-board"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, bare_run: Path, args: list[str], message: str):
    args = [a.format(tmp=tmp_path, bare=bare_run) for a in args]
    result = invoke(args)
    assert result.exit_code == 2, result.output + result.stderr
    line = one_error_line(result)
    assert line.startswith("edgekit: error: ") and message in line


def test_click_usage_errors_exit_2():
    result = invoke(["train", "--epochs", "many"])
    assert result.exit_code == 2
    assert one_error_line(result).startswith("edgekit: error: Invalid value for '--epochs'")
    assert one_error_line(result).endswith("see 'main train --help'")


def test_debug_adds_the_traceback_and_keeps_the_exit_code(tmp_path: Path):
    result = invoke(["--debug", "quantize", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "Traceback" in result.stderr and "EdgekitError" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("edgekit: error: ")


@pytest.fixture
def buggy_command() -> Iterator[str]:
    """A command with a bug in it, registered for one test: how does the group report the unexpected?"""

    @main.command("zz-buggy", hidden=True)
    def buggy() -> None:
        {}["missing"]  # noqa: B018  (the bug)

    try:
        yield "zz-buggy"
    finally:
        main.commands.pop("zz-buggy")


def test_a_bug_is_one_line_with_a_hint_and_exit_3(buggy_command: str):
    result = invoke([buggy_command])
    assert result.exit_code == EXIT_BUG == 3
    line = one_error_line(result)
    assert line.startswith("edgekit: internal error: KeyError") and "--debug" in line
    result = invoke(["--debug", buggy_command])
    assert result.exit_code == EXIT_BUG
    assert "Traceback" in result.stderr and "KeyError" in result.stderr


def test_errors_in_a_real_process_are_one_line(tmp_path: Path):
    """What a user's terminal shows: no traceback, one line on stderr, nothing on stdout, exit 2."""
    proc = subprocess.run(
        [sys.executable, "-m", "edgekit", "report", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert proc.stderr.strip().splitlines() == [
        f"edgekit: error: {tmp_path / 'missing'}: artifact folder not found; "
        f"create one with 'edgekit train --out {tmp_path / 'missing'}'"
    ]


def test_boards_json_is_one_line():
    result = invoke(["boards", "--json"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 1
    assert {"nano33", "uno"} <= {row["name"] for row in json.loads(lines[0])}


def test_progress_goes_to_stderr_and_quiet_silences_it(bare_run: Path):
    result = invoke(["report", str(bare_run)], EDGEKIT_PROGRESS="1")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {bare_run / 'report.html'}"
    assert "edgekit: writing report.html" in result.stderr
    result = invoke(["--quiet", "report", str(bare_run)], EDGEKIT_PROGRESS="1")
    assert result.exit_code == 0
    assert result.stderr == "" and result.stdout.startswith("wrote ")
