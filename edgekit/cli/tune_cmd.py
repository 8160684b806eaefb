"""``edgekit tune``: search architectures and recipes under a board's budget (Ray Tune + Optuna TPE + ASHA)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from . import main
from .options import SEED, FiniteFloat, count
from .train_cmd import data_option


@main.command()
@click.option("--board", "board_name", required=True, metavar="NAME", help="Board whose flash/RAM bound the search.")
@data_option
@click.option(
    "--max-latency-ms",
    default=None,
    type=FiniteFloat(min=0, min_open=True, max=1e7),
    help="Reject candidates whose estimated latency on the board is above this (before training).",
)
@click.option("--trials", default=32, show_default=True, type=count(1, 100_000), help="Candidates to train.")
@click.option(
    "--epochs", default=30, show_default=True, type=count(1), help="Epochs per trial (ASHA stops some early)."
)
@click.option("--batch-size", default=400, show_default=True, type=count(1))
@click.option("--seed", default=0, show_default=True, type=SEED, help="Seed of the sampler and of every trial.")
@click.option("--test-users", default=None, metavar="IDS", help="Held-out users (never used by the search).")
@click.option(
    "--address",
    default=None,
    metavar="HOST:PORT",
    help="Join this Ray cluster instead of starting a local Ray (one trial per core on 127.0.0.1).",
)
@click.option(
    "--out",
    required=True,
    type=click.Path(path_type=Path),
    help="Tune folder; the same command with the same --out resumes an interrupted tune.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result instead of the summary.")
def tune(board_name, data, max_latency_ms, trials, epochs, batch_size, seed, test_users, address, out, as_json):
    """Find the most accurate model that fits a board, on your own data and compute.

    \b
    Prints one line per finished trial and the current Pareto front (validation accuracy against
    latency and flash); writes OUT/report.html and OUT/best.toml. Ctrl-C, then the same command resumes.
    Examples:
      edgekit tune --board nano33 --data wisdm_windows.npz --max-latency-ms 50 --trials 32 --out runs/tune
      edgekit build --board nano33 --model runs/tune/best.toml --out runs/tuned
    """
    from ..tune import TuneOptions, check_options, tune_run

    opts = TuneOptions(
        board=board_name,
        data=data,
        out=str(out),
        max_latency_ms=max_latency_ms,
        trials=trials,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        test_users=test_users,
        address=address,
    )
    check_options(opts)
    try:
        summary = tune_run(opts)
    except KeyboardInterrupt:
        click.echo(
            f"edgekit: tune stopped; its state is in {Path(out) / 'experiment'}: the same command resumes it", err=True
        )
        raise
    if as_json:
        click.echo(json.dumps(summary, sort_keys=True))
    else:
        click.echo(
            f"{summary['trained']} trained ({summary['kept']} kept, {summary['pruned']} pruned), "
            f"{summary['rejected']} rejected before training ({summary['budget']})"
        )
        for row in summary["front"]:
            click.echo(
                f"  front: {row['label']}  val_acc {row['val_accuracy']:.4f}  latency {row['latency_ms']:.1f} ms  "
                f"flash {row['flash_bytes']:,} B"
            )
        if summary["best"]:
            best = Path(out) / "best.toml"
            recipe = summary["best_recipe"]
            click.echo(f"best: {best}  (edgekit build --board {board_name} --model {best} --recipe {recipe})")
        click.echo(f"report: {Path(out) / 'report.html'}")
    if not summary["complete"]:
        raise click.exceptions.Exit(130)
