"""The ``edgekit`` command: a thin click layer over the Python API.

Each stage's commands live in their own module here and only parse options, call the API and print.
Errors from the API (:class:`edgekit.errors.EdgekitError`) become one line on stderr and the
documented exit code; ``--debug`` prints the traceback too (same exit code). Anything unexpected
is a bug: one line saying so and exit 3, so CI can tell a broken tool from bad input (2) or a failed gate (1).
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import NoReturn

import click

from .. import __version__
from ..errors import EXIT_USAGE, EdgekitError

EXIT_BUG = 3  # an unexpected exception: a bug, told apart from bad input (2) and a failed gate (1)
EXIT_INTERRUPTED = 130

WORKFLOW = """Train a 1D-CNN activity model, quantize it to int8, prove parity, generate TFLM firmware.

\b
Workflow (every step reads and writes one artifact folder, here runs/demo):
  edgekit data fetch                                  download WISDM v1.1 once (train does it if needed)
  edgekit runtime fetch                               the board's pinned TFLM sources, once (build does it too)
  edgekit runtime show                                which TFLM/CMSIS-NN commits the sketch ships, and where
  edgekit train    --data synthetic --out runs/demo   train the float model (Keras)
  edgekit quantize runs/demo                          int8 .tflite, calibrated on training windows
  edgekit parity   runs/demo                          float, LiteRT, TFLM, the board's runtime (host + QEMU)
  edgekit build    --board nano33 --out runs/demo     all of the above + the Arduino sketch
  edgekit boards                                      the boards and their flash/RAM budgets
  edgekit profile  runs/demo --board nano33           measured instructions and time on the board
  edgekit report   runs/demo                          runs/demo/report.html: the whole run on one page
  edgekit tune     --board nano33 --out runs/tune     the most accurate model that fits the board (Ray)
\b
With a board on USB:
  edgekit flash    --board nano33 --run runs/demo     compile and upload the sketch
  edgekit verify   --run runs/demo                    on-board self-test against the desktop
  edgekit monitor                                     live predictions from the board
  edgekit capture  --user 1 --activity Walking --out me.txt    record labelled data
\b
Results go to stdout (--json: one JSON line for CI); progress to stderr as plain lines (--quiet,
before or after the command, silences it). 'edgekit COMMAND --help' shows options and examples.
\b
Exit codes: 0 ok; 1 a quality gate failed; 2 bad usage, bad input or a file problem (one line
saying what and how to fix it); 3 internal error, i.e. a bug in edgekit (rerun with --debug for
the traceback); 130 interrupted.
"""


class EdgekitGroup(click.Group):
    """Turns every failure into one line on stderr and a documented exit code; --debug adds the traceback.

    A user who mistyped a path should read what to fix, not a traceback; a bug should still be told
    apart from bad input (exit 3, not 2), so CI and bug reports can tell which one happened.
    """

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            path = exc.ctx.command_path if exc.ctx else ctx.command_path
            message = exc.format_message().rstrip(".")
            _fail(ctx, f"edgekit: error: {message}; see '{path} --help'", EXIT_USAGE)
        except (click.exceptions.Exit, click.ClickException, click.exceptions.Abort):
            raise
        except EdgekitError as exc:
            _fail(ctx, f"edgekit: error: {exc}", exc.exit_code)
        except KeyboardInterrupt:
            _fail(ctx, "edgekit: interrupted", EXIT_INTERRUPTED)
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            _fail(
                ctx,
                f"edgekit: error: {where}{exc.strerror or _one_line(exc)}; "
                "check the path, permissions and free disk space",
                EXIT_USAGE,
            )
        except Exception as exc:
            _fail(
                ctx,
                f"edgekit: internal error: {type(exc).__name__}: {_one_line(exc)}; this is a bug in edgekit: "
                "rerun with --debug to see the traceback and please report it",
                EXIT_BUG,
            )


def _fail(ctx: click.Context, message: str, code: int) -> NoReturn:
    """One line on stderr and the documented exit code; --debug adds the traceback but keeps the code."""
    if ctx.obj and ctx.obj.get("debug"):
        traceback.print_exc(file=sys.stderr)
    # a path or value with a newline in it must not break the one-line promise
    click.echo("".join(c if c.isprintable() else repr(c)[1:-1] for c in message), err=True)
    sys.exit(code)


def _one_line(exc: BaseException, limit: int = 300) -> str:
    text = " ".join(str(exc).split()) or "(no message)"
    return text if len(text) <= limit else text[: limit - 3] + "..."


@click.group(cls=EdgekitGroup, help=WORKFLOW, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgekit")
@click.option("--debug", is_flag=True, help="Also print the traceback of an error (the exit code stays the same).")
@click.option("--quiet", "-q", is_flag=True, help="Print only results and errors, no progress.")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["quiet"] = quiet
    if quiet:
        os.environ["EDGEKIT_QUIET"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TF's own ERROR lines too: edgekit reports errors itself


def _set_quiet(ctx: click.Context, _param: click.Parameter, quiet: bool) -> None:
    if quiet:
        os.environ["EDGEKIT_QUIET"] = "1"


def _accept_quiet_anywhere(command: click.Command) -> None:
    """``edgekit build ... --quiet`` means what ``edgekit --quiet build ...`` means: users put it last."""
    if isinstance(command, click.Group):
        for sub in command.commands.values():
            _accept_quiet_anywhere(sub)
        return
    if not any("--quiet" in param.opts for param in command.params):
        command.params.append(
            click.Option(
                ["--quiet", "-q"],
                is_flag=True,
                expose_value=False,
                is_eager=True,
                callback=_set_quiet,
                help="Print only results and errors, no progress (same as 'edgekit --quiet').",
            )
        )


def _register() -> None:
    from . import train_cmd  # noqa: F401  (imports register commands on `main`)

    for name in (
        "data_cmd",
        "quantize_cmd",
        "build_cmd",
        "board_cmd",
        "device_cmd",
        "report_cmd",
        "profile_cmd",
        "runtime_cmd",
        "tune_cmd",
    ):
        try:
            __import__(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise
    for command in main.commands.values():
        _accept_quiet_anywhere(command)


_register()
__all__ = ["main", "EXIT_BUG", "EXIT_INTERRUPTED", "EXIT_USAGE"]
