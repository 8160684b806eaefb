"""``edgekit build``: the one command from data to a sketch folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..firmware import MAX_SELFTEST_WINDOWS
from . import main
from .options import gate_options, representative_option
from .train_cmd import DEFAULT_OUT, board_runtime_options, make_config, training_options


@main.command()
@click.option(
    "--board",
    "board_name",
    required=True,
    metavar="NAME",
    help="Board file name (see 'edgekit boards') or path to a board .toml.",
)
@training_options
@click.option(
    "--out",
    default=DEFAULT_OUT,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Artifact folder (replaced atomically; the trained model is reused when nothing changed).",
)
@click.option(
    "--axis-map",
    default=None,
    metavar="MAP",
    help="Board axes -> WISDM axes, e.g. '-y,x,z' (default: the board file's).",
)
@click.option(
    "--norm-from",
    type=click.Path(path_type=Path),
    default=None,
    metavar="RECORDING",
    help="Raw WISDM-format recording (m/s^2) whose per-axis mean/std the board uses; "
    "required for models trained on pre-normalised windows.",
)
@click.option(
    "--selftest",
    default=0,
    show_default=True,
    type=click.IntRange(0, MAX_SELFTEST_WINDOWS),
    metavar="K",
    help="Embed K golden test windows that the board checks at boot (see 'edgekit verify').",
)
@gate_options
@representative_option
@board_runtime_options
@click.option("--force", is_flag=True, help="Replace --out even if edgekit did not create it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result instead of the summary.")
def build(
    board_name,
    data,
    model_name,
    recipe,
    epochs,
    batch_size,
    seed,
    test_users,
    patience,
    min_epochs,
    out,
    axis_map,
    norm_from,
    selftest,
    max_drop,
    max_int8_step,
    require_bit_exact,
    representative,
    runtime_src,
    board_windows,
    require_board_runtime,
    force,
    as_json,
):
    """Train, quantize, prove parity and generate the Arduino sketch for a board.

    \b
    Examples:
      edgekit build --board nano33 --data synthetic --out runs/demo
      edgekit build --board nano33 --data wisdm_windows.npz --norm-from my_walk.txt --out runs/wisdm
      edgekit build --board nano33 --model compact --selftest 8
    """
    from ..build import build_run, format_summary

    config = make_config(model_name, epochs, batch_size, test_users, patience, min_epochs, recipe)
    summary = build_run(
        board_name,
        data,
        out,
        config,
        seed=seed,
        axis_map=axis_map,
        norm_from=norm_from,
        selftest=selftest,
        max_drop_pp=max_drop,
        require_bit_exact=require_bit_exact,
        max_int8_step=max_int8_step,
        representative=representative,
        force=force,
        runtime_src=runtime_src,
        board_windows=board_windows,
        require_board_runtime=require_board_runtime,
    )
    if as_json:
        click.echo(json.dumps(summary.to_dict(), sort_keys=True))
    else:
        click.echo(format_summary(summary))
