"""``edgekit profile``: parameters, MACs, int8 flash, arena, board fit and an estimated inference time."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..profile import KERNEL_SETS
from . import main
from .train_cmd import DEFAULT_OUT


@main.command()
@click.argument("run_dir", metavar="[RUN_DIR]", required=False, default=DEFAULT_OUT, type=click.Path(path_type=Path))
@click.option(
    "--board",
    "board_name",
    default=None,
    metavar="NAME",
    help="Board file name or path (default: the board the run was built for, else nano33).",
)
@click.option(
    "--kernels",
    type=click.Choice(KERNEL_SETS),
    default=None,
    help="TFLM kernel set for the time estimate (default: what the board's TFLM library uses).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the profile as one JSON object instead of tables.")
def profile(run_dir: Path, board_name: str | None, kernels: str | None, as_json: bool) -> None:
    """Per-layer size and work of RUN_DIR's model, its fit on a board and an estimated inference time.

    Nothing is measured on a board: MACs come from layer shapes, the arena from the desktop TFLM
    interpreter, and the time from a documented per-core cost model (printed with the result).
    A run that is not quantized yet is exported to int8 in memory; RUN_DIR is never modified.

    \b
    Example:
      edgekit profile runs/demo
      edgekit profile runs/demo --board nano-rp2040 --json
    """
    from ..boards import load_board
    from ..profile import format_profile, profile_run

    board = load_board(board_name) if board_name else None  # a name or a board file, resolved once, here
    result = profile_run(run_dir, board=board, kernels=kernels)
    if as_json:
        click.echo(json.dumps(result, sort_keys=True))
        return
    click.echo(format_profile(result))
