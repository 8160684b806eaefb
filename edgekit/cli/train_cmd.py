"""``edgekit train``: data -> float model + metrics in an artifact folder."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..recipe import DEFAULT_RECIPE, RECIPE_EPOCHS, recipe_names
from . import main
from .options import SEED, count

DEFAULT_OUT = "edgekit-run"


def data_option(func):
    return click.option(
        "--data",
        default=None,
        metavar="PATH|synthetic",
        help="WISDM raw .txt/.txt.gz, windows .npz, or 'synthetic'. Default: download WISDM v1.1 once and cache it.",
    )(func)


def training_options(func):
    """Options shared by train and build, so both describe a run the same way."""
    options = [
        click.option(
            "--model",
            "model_name",
            default="seed",
            show_default=True,
            type=MODEL,
            metavar="NAME|FILE.toml",
            help="Architecture: a shipped one (seed, compact) or a model description file (e.g. TUNE/best.toml).",
        ),
        click.option(
            "--recipe",
            default=DEFAULT_RECIPE,
            show_default=True,
            type=click.Choice(recipe_names()),
            help="Training recipe: 'seed' is the article's; 'robust' adds augmentation, label smoothing, cosine LR.",
        ),
        click.option("--epochs", default=None, type=count(1), help="Maximum epochs [default: the recipe's]."),
        click.option("--batch-size", default=400, show_default=True, type=count(1)),
        click.option(
            "--seed", default=0, show_default=True, type=SEED, help="Seed for every RNG; same seed, same run."
        ),
        click.option(
            "--test-users",
            default=None,
            metavar="IDS",
            help="Held-out users, e.g. '29-36' (default: 29-36 for WISDM ids, else the last 22 %).",
        ),
        click.option(
            "--patience", default=None, type=count(0), help="Early-stopping patience (epochs) [default: the recipe's]."
        ),
        click.option(
            "--min-epochs",
            default=None,
            type=count(0),
            help="Epochs before early stopping may stop or pick the best weights [default: the recipe's].",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return data_option(func)


def board_runtime_options(func):
    """Options of the board-runtime parity rungs, shared by parity and build."""
    options = [
        click.option(
            "--runtime-src",
            type=click.Path(path_type=Path, file_okay=False),
            default=None,
            metavar="DIR",
            envvar="EDGEKIT_RUNTIME_SRC",
            show_envvar=True,
            help="Folder with the pinned TFLM sources (tflite-micro/, CMSIS-NN/, flatbuffers/, gemmlowp/, "
            "ruy/); default: edgekit's cache, downloaded once ('edgekit runtime fetch').",
        ),
        click.option(
            "--board-windows",
            default=512,
            show_default=True,
            type=count(0),
            metavar="N",
            help="Held-out windows the emulated board runs (plus the self-test windows); all if fewer.",
        ),
        click.option(
            "--require-board-runtime",
            is_flag=True,
            help="Fail when a board-runtime rung cannot run here (no toolchain, QEMU or sources).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


class ModelParam(click.ParamType):
    """--model: a shipped architecture's name or the path of a .toml model description."""

    name = "model"

    def convert(self, value, param, ctx):
        from ..modelspec import is_path, shipped_names

        if not is_path(value) and value not in shipped_names():
            names = ", ".join(shipped_names())
            self.fail(f"{value!r} is not one of {names} (or a .toml model description file)", param, ctx)
        return str(value)  # a file is read and checked by make_config, before any work


MODEL = ModelParam()


def make_config(
    model_name: str,
    epochs: int | None,
    batch_size: int,
    test_users: str | None,
    patience: int | None,
    min_epochs: int | None,
    recipe: str = DEFAULT_RECIPE,
):
    """A TrainConfig; epochs, patience and min-epochs left unset take the recipe's values."""
    from ..modelspec import is_path, load_spec
    from ..train import TrainConfig

    if is_path(model_name):
        load_spec(model_name)  # a missing or malformed file: one line, exit 2, before anything starts
    default_epochs, default_min, default_patience = RECIPE_EPOCHS[recipe]
    return TrainConfig(
        model=model_name,
        epochs=default_epochs if epochs is None else epochs,
        batch_size=batch_size,
        test_users=test_users,
        patience=default_patience if patience is None else patience,
        min_epochs=default_min if min_epochs is None else min_epochs,
        recipe=recipe,
    )


@main.command()
@training_options
@click.option(
    "--out",
    default=DEFAULT_OUT,
    show_default=True,
    type=click.Path(path_type=Path),
    help="Artifact folder to write (replaced atomically).",
)
@click.option("--force", is_flag=True, help="Replace --out even if edgekit did not create it.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON result instead of tables.")
def train(data, model_name, recipe, epochs, batch_size, seed, test_users, patience, min_epochs, out, force, as_json):
    """Train the activity model and evaluate it on held-out users.

    \b
    Example:
      edgekit train --data synthetic --epochs 5 --out runs/demo
      edgekit train --data WISDM_ar_v1.1_raw.txt --seed 1 --out runs/wisdm
    """
    from ..report import write_report
    from ..train import train_run

    config = make_config(model_name, epochs, batch_size, test_users, patience, min_epochs, recipe)
    manifest = train_run(data, out, config, seed=seed, force=force, finish=write_report)
    metrics = json.loads((Path(out) / "metrics.json").read_text())
    if as_json:
        click.echo(
            json.dumps(
                {
                    "out": str(out),
                    "accuracy": metrics["accuracy"],
                    "loss": metrics["loss"],
                    "weighted_f1": metrics["weighted"]["f1-score"],
                    "training": manifest["training"],
                    "skipped": manifest["data"].get("skipped"),
                },
                sort_keys=True,
            )
        )
        return
    from ..model import format_metrics

    skipped = manifest["data"].get("skipped")
    if skipped is not None:
        click.echo(
            f"data: {manifest['data']['records']} records, {skipped['count']} lines skipped"
            + (f" ({', '.join(f'{n} {r}' for r, n in skipped['reasons'].items())})" if skipped["count"] else "")
        )
    t = manifest["training"]
    click.echo(
        f"trained {manifest['model']['name']} ({manifest['model']['params']:,} params) for {t['epochs_run']} "
        f"epochs (best {t['best_epoch']}) in {t['wall_time_s']} s on {t['train_windows']} windows"
    )
    click.echo(format_metrics(metrics))
    click.echo(f"artifact folder: {out}")
