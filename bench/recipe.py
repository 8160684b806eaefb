"""Seed recipe vs the robust recipe (and ablations) for the seed architecture, three training seeds each.

Every run is ``train_run`` + ``quantize_run`` with edgekit's defaults, on the real WISDM windows; the
held-out users 29-36 are only *measured* here, nothing is chosen on them (the recipe's knobs were fixed
before this bench ran; early stopping watches the user-disjoint validation users). Printed per
variant: mean (and per-seed) float accuracy on users 29-36, int8 accuracy (LiteRT, builtin kernels,
bit-identical to TFLM) and its drop, F1 of the weak classes, validation accuracy at the chosen epoch.

Results are saved per run (``WORK/<variant>/s<seed>/result.json``), so an interrupted bench resumes
and ``--table`` prints whatever has finished. The seed architecture trains ~8 s/epoch on 2 free cores.

    nice -n 15 python bench/recipe.py --work /work/runs/recipe            # all variants, seeds 0 1 2
    python bench/recipe.py --work /work/runs/recipe --table               # print the table so far
"""

from __future__ import annotations

import argparse
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heldout import accuracy_cells, folder, mean, results, train_and_score  # noqa: E402 (bench/ is on the path)


def variants() -> dict[str, tuple[str, Any, tuple[int, int, int]]]:
    """name -> (recipe name, explicit Recipe or None, (epochs, min_epochs, patience))."""
    from edgekit.recipe import RECIPE_EPOCHS, RECIPES

    robust = RECIPES["robust"]
    long = RECIPE_EPOCHS["robust"]
    no_aug = replace(robust, rotate_deg=0.0, tilt_deg=0.0, scale=0.0, jitter=0.0, time_warp=0.0)
    return {
        "seed": ("seed", None, RECIPE_EPOCHS["seed"]),
        "robust": ("robust", None, long),
        "robust - augmentation": ("robust", no_aug, long),
        "robust - rotation/tilt": ("robust", replace(robust, rotate_deg=0.0, tilt_deg=0.0), long),
        "robust - label smoothing": ("robust", replace(robust, label_smoothing=0.0), long),
        "robust - cosine LR": ("robust", replace(robust, lr_schedule="constant", warmup_epochs=0), long),
        "robust - longer training": ("robust", None, RECIPE_EPOCHS["seed"]),
    }


def run_one(name: str, seed: int, data: Path, work: Path) -> dict[str, Any]:
    """Train, quantize and score one (variant, seed); cached in result.json."""
    from edgekit.train import TrainConfig

    recipe, spec, (epochs, min_epochs, patience) = variants()[name]
    config = TrainConfig(
        model="seed", recipe=recipe, recipe_spec=spec, epochs=epochs, min_epochs=min_epochs, patience=patience
    )
    return train_and_score(config, data, work / folder(name) / f"s{seed}", seed, variant=name)


def table(work: Path) -> str:
    """Markdown: one row per variant, means over the seeds that finished (n shown)."""
    rows = [
        "| variant | n seeds | float acc. users 29-36 (per seed) | int8 acc. | F1 Upstairs | F1 Downstairs | "
        "int8 drop (pp) | val acc. | epochs (best) |",
        "|---|---:|---|---:|---:|---:|---:|---:|---|",
    ]
    for name in variants():
        res = results(work, name)
        if res:
            epochs = ", ".join(f"{r['epochs_run']} ({r['best_epoch']})" for r in res)
            rows.append(
                f"| {name} | {accuracy_cells(res)} | {mean(res, 'int8_drop_pp'):.2f} | "
                f"{mean(res, 'val_accuracy'):.3f} | {epochs} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("EDGEKIT_WISDM_WINDOWS"))
    parser.add_argument("--work", type=Path, default=Path("runs/recipe"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=None, help="default: all, main comparison first")
    parser.add_argument("--table", action="store_true", help="only print the table of finished runs")
    args = parser.parse_args(argv)
    if not args.table:
        if args.data is None or not Path(args.data).is_file():
            print(f"--data {args.data}: not a file; pass the WISDM windows .npz", file=sys.stderr)
            return 2
        names = args.variants or list(variants())
        unknown = [n for n in names if n not in variants()]
        if unknown:
            print(f"--variants: unknown {unknown}; choose from {list(variants())}", file=sys.stderr)
            return 2
        main_pair = [n for n in names if n in ("seed", "robust")]
        order = [(n, s) for s in args.seeds for n in main_pair]
        order += [(n, s) for s in args.seeds for n in names if n not in main_pair]
        for name, seed in order:
            r = run_one(name, seed, args.data, args.work)
            print(
                f"{name} seed {seed}: float {r['float_accuracy']:.4f} int8 {r['int8_accuracy']:.4f} "
                f"val {r['val_accuracy']:.4f} epochs {r['epochs_run']} ({r['best_epoch']}) {r['wall_s']} s",
                flush=True,
            )
            print(table(args.work), flush=True)
    print(table(args.work))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
