"""The ``edgekit`` command: a thin click layer over the Python API.

Each stage's commands live in their own module here and only parse options, call the API and print.
Errors from the API (:class:`edgekit.errors.EdgekitError`) become one line on stderr and the
documented exit code; ``--debug`` shows the traceback instead.
"""

from __future__ import annotations

import os
import sys

import click

from .. import __version__
from ..errors import EXIT_USAGE, EdgekitError

WORKFLOW = """Train a 1D-CNN activity model, quantize it to int8, prove parity, generate TFLM firmware.

\b
Workflow:
  edgekit train  --data synthetic --out runs/demo     train the float model (Keras)
  edgekit quantize runs/demo                          int8 .tflite, calibrated on training windows
  edgekit parity   runs/demo                          float vs LiteRT vs TFLM on held-out users
  edgekit build  --board nano33 --out runs/demo       all of the above + Arduino sketch
\b
Exit codes: 0 ok, 1 a quality gate failed, 2 bad usage or bad input.
"""


class EdgekitGroup(click.Group):
    """Turns EdgekitError into one line and an exit code; --debug keeps the traceback."""

    def invoke(self, ctx: click.Context):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except EdgekitError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"edgekit: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except click.exceptions.Exit:
            raise
        except click.ClickException:
            raise
        except KeyboardInterrupt:
            click.echo("edgekit: interrupted", err=True)
            sys.exit(130)


@click.group(cls=EdgekitGroup, help=WORKFLOW, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="edgekit")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.option("--quiet", "-q", is_flag=True, help="Print only results and errors, no progress.")
@click.pass_context
def main(ctx: click.Context, debug: bool, quiet: bool) -> None:
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    ctx.obj["quiet"] = quiet
    if quiet:
        os.environ["EDGEKIT_QUIET"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _register() -> None:
    from . import train_cmd  # noqa: F401  (imports register commands on `main`)

    for name in ("data_cmd", "quantize_cmd", "build_cmd", "board_cmd", "device_cmd", "report_cmd", "profile_cmd"):
        try:
            __import__(f"{__name__}.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"{__name__}.{name}":
                raise


_register()
__all__ = ["main", "EXIT_USAGE"]
