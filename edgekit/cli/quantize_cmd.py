"""``edgekit quantize`` and ``edgekit parity``: int8 export, then proof that it still agrees with float."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import main
from .options import SEED, count, gate_options, representative_option
from .train_cmd import board_runtime_options

RUN_DIR = click.argument("run_dir", metavar="RUN_DIR", type=click.Path(path_type=Path))


@main.command()
@RUN_DIR
@representative_option
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed for drawing the representative set.")
def quantize(run_dir: Path, representative: int, seed: int) -> None:
    """Export RUN_DIR's float model as a full-integer int8 .tflite (static batch 1).

    Writes RUN_DIR/model_int8.tflite and records scales, zero points, ops, size, sha256 and the
    TFLM tensor arena in the manifest's contract. Same model and seed give the same bytes.

    \b
    Example:
      edgekit quantize runs/demo
      edgekit quantize runs/demo --representative 500 --seed 1
    """
    from ..quantize import describe, quantize_run

    quant = quantize_run(run_dir, representative=representative, seed=seed)
    click.echo(describe(quant))
    click.echo(f"wrote {run_dir / 'model_int8.tflite'}")


@main.command()
@RUN_DIR
@gate_options
@click.option(
    "--layer-windows",
    default=64,
    show_default=True,
    type=count(0),
    metavar="N",
    help="Test windows for the per-layer error analysis (0 skips it).",
)
@board_runtime_options
@click.option(
    "--emulate",
    type=click.Choice(["cortex-m4", "cortex-m0plus"]),
    default=None,
    help="Emulated core for the board rung (default: the built board's core, else cortex-m4).",
)
@click.option("--json", "as_json", is_flag=True, help="Print parity.json as one JSON line instead of the table.")
def parity(
    run_dir: Path,
    max_drop: float,
    max_int8_step: int,
    require_bit_exact: bool,
    layer_windows: int,
    runtime_src: Path | None,
    board_windows: int,
    require_board_runtime: bool,
    emulate: str | None,
    as_json: bool,
) -> None:
    """Compare float Keras, int8 LiteRT and int8 TFLM on RUN_DIR's held-out users.

    Also runs the board's own TFLM runtime (the sources the sketch ships) built for the host on every
    test window and for an emulated Cortex-M under QEMU on --board-windows of them.

    Writes RUN_DIR/parity.json and parity.md, then applies the gates: exit 1 with one line if the
    accuracy drop exceeds --max-drop, LiteRT and TFLM differ by more than --max-int8-step, (with
    --require-bit-exact) they differ at all, or the board's runtime differs from the desktop TFLM on
    any window.

    \b
    Example:
      edgekit parity runs/demo
      edgekit parity runs/demo --max-drop 0.5 --json
    """
    from ..parity import check_gates, format_table, run_parity
    from ..report import write_report
    from ..runtime.rungs import BoardRungPlan

    board = BoardRungPlan(emulated=emulate or "", windows=board_windows, runtime_src=runtime_src)
    report = run_parity(
        run_dir,
        max_drop_pp=max_drop,
        require_bit_exact=require_bit_exact,
        max_int8_step=max_int8_step,
        layer_windows=layer_windows,
        enforce=False,
        board=board,
        require_board_runtime=require_board_runtime,
    )
    write_report(run_dir)  # before the gates: a failing run's page is what a person reads next
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
    else:
        click.echo(format_table(report))
        click.echo(f"wrote {run_dir / 'parity.json'} and {run_dir / 'parity.md'}")
    check_gates(report, str(run_dir / "parity.json"))
