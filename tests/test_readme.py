"""The README's commands run as written (issue 12, item 28): every ``edgekit`` line in a code block parses
with the real CLI, every ``python bench/...`` script exists and accepts its documented options, and a build on
pre-normalised windows carries the ``--norm-from`` it needs.

Parsing is click's own (``make_context``), so an option renamed in code and not in the README fails here;
what the commands then do is covered by the pipeline tests.
"""

from __future__ import annotations

import re
import shlex
import subprocess
import sys
import warnings
from pathlib import Path

import click
import pytest

from edgekit.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def code_lines() -> list[str]:
    """Commands in ```bash/```sh blocks (```text ones hold output), continuation lines joined."""
    lines, block, pending = [], False, ""
    for raw in README.read_text().splitlines():
        if raw.startswith("```"):
            block = not block and raw[3:].strip() in ("bash", "sh")
            continue
        if not block:
            continue
        line = pending + raw.strip()
        if line.endswith("\\"):
            pending = line[:-1] + " "
            continue
        pending = ""
        lines.append(line)
    return lines


def shell_words(line: str) -> list[list[str]]:
    """The simple commands of a shell line (split at ; | && { }), and those inside ``$(...)`` words."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|(){}")
    lexer.whitespace_split = True
    commands, current = [], []
    for token in lexer:
        if set(token) <= set(";&|(){}"):
            commands.append(current)
            current = []
        elif "$(" in token:
            commands.extend(shell_words(token[token.index("$(") + 2 : token.rindex(")")]))
        else:
            current.append(token)
    return [words for words in [*commands, current] if words]


def edgekit_commands() -> list[list[str]]:
    loop_values = {"$S": "0"}  # `for S in 0 1 2; do ... --seed $S` documents three runs; check the first
    return [
        [loop_values.get(word, word).replace("$S", "0") for word in words[1:]]
        for line in code_lines()
        for words in shell_words(line)
        if words[0] == "edgekit"
    ]


def bench_commands() -> list[list[str]]:
    """``python bench/...`` in code blocks and in inline code spans of the prose."""
    inline = re.findall(r"`(python bench/[^`]+)`", README.read_text())
    lines = [line for line in code_lines() if line.startswith("python bench/")] + inline
    return [shlex.split(line, comments=True)[1:] for line in dict.fromkeys(lines)]


def test_the_readme_documents_commands():
    assert len(edgekit_commands()) >= 15 and len(bench_commands()) >= 2


def unparsed(ctx: click.Context) -> list[str]:
    """A group's words after its own options (click < 9 keeps the subcommand name apart)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return [*getattr(ctx, "protected_args", []), *ctx.args]


@pytest.mark.parametrize("argv", edgekit_commands(), ids=" ".join)
def test_every_edgekit_command_in_the_readme_parses(argv: list[str]):
    ctx = main.make_context("edgekit", list(argv), resilient_parsing=False)
    command: click.Command = main
    while isinstance(command, click.Group) and unparsed(ctx):
        name, *rest = unparsed(ctx)
        sub = command.get_command(ctx, name)
        assert sub is not None, f"edgekit {name}: no such command"
        ctx = sub.make_context(name, rest, parent=ctx)
        command = sub


@pytest.mark.parametrize("argv", [a for a in edgekit_commands() if a and a[0] == "build"], ids=" ".join)
def test_builds_on_prenormalised_windows_pass_norm_from(argv: list[str]):
    data = argv[argv.index("--data") + 1] if "--data" in argv else ""
    if data.endswith(".npz"):
        assert "--norm-from" in argv, f"edgekit {' '.join(argv)}: z-scored windows need --norm-from"


@pytest.mark.parametrize("argv", bench_commands(), ids=" ".join)
def test_bench_commands_exist_and_accept_their_options(argv: list[str]):
    script = ROOT / argv[0]
    assert script.is_file(), f"{argv[0]} is not in the checkout"
    help_text = subprocess.run(
        [sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120, cwd=ROOT
    ).stdout
    for option in (word.split("=")[0] for word in argv[1:] if word.startswith("--")):
        assert option in help_text, f"{argv[0]}: no option {option}"
    assert not any(word.startswith("/work/") for word in argv), "a path that exists only on one machine"
