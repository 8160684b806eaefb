"""Does the tune's best model beat ``compact``? Three training seeds each, on the real WISDM windows.

The tune chooses on validation users only; this bench is where the held-out users 29-36 are first
looked at. Each model is trained exactly as ``edgekit build --model M --recipe R`` would train it
(the recipe's own epochs, patience and minimum), quantized with edgekit's defaults, and scored:
float accuracy on users 29-36 (mean and per seed), int8 accuracy (LiteRT, bit-identical to TFLM),
F1 of the weak classes. Its cost on the board is what the tune measured: the model's code and the
board's TFLM runtime run on the emulated core under QEMU (latency at the upper end of the CPI range)
and the flash the sketch uses (:func:`edgekit.tune.budget.candidate_cost`).

Results are saved per run (``WORK/<model>/s<seed>/result.json``): an interrupted bench resumes, and
``--table`` prints what has finished.

    nice -n 5 python bench/tuned.py --tune runs/tune --work runs/tuned     # compact vs TUNE/best.toml
    python bench/tuned.py --tune runs/tune --work runs/tuned --table
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from heldout import accuracy_cells, folder, results, train_and_score  # noqa: E402 (bench/ is on the path)


def candidates(tune: Path) -> dict[str, tuple[str, str]]:
    """label -> (model name or description file, recipe): compact with each recipe, then the tune's best."""
    from edgekit.recipe import DEFAULT_RECIPE

    best = json.loads((tune / "front.json").read_text())[0]  # the front's first row is best.toml
    other = "seed" if best["recipe"] != "seed" else DEFAULT_RECIPE
    return {
        f"compact ({DEFAULT_RECIPE})": ("compact", DEFAULT_RECIPE),
        "compact (seed)": ("compact", "seed"),
        f"tuned best ({best['recipe']})": (str(tune / "best.toml"), best["recipe"]),
        # the recipe the tune did not choose, for the record: nothing is chosen on these test users
        f"tuned best ({other})": (str(tune / "best.toml"), other),
    }


def run_one(label: str, model: str, recipe: str, seed: int, data: Path, work: Path) -> dict[str, Any]:
    """Train, quantize and score one (model, seed) with the recipe's own epochs; cached in result.json."""
    from edgekit.recipe import RECIPE_EPOCHS
    from edgekit.train import TrainConfig

    epochs, min_epochs, patience = RECIPE_EPOCHS[recipe]
    config = TrainConfig(model=model, recipe=recipe, epochs=epochs, min_epochs=min_epochs, patience=patience)
    return train_and_score(config, data, work / folder(label) / f"s{seed}", seed, label=label)


def board_cost(model: str, board_name: str, run: Path, work: Path) -> dict[str, Any]:
    """Measured latency and flash on the board (cached): the numbers the tune's budget uses.

    ``run`` is one trained run of the model: its contract (labels, normalisation) sizes the sketch's tables.
    """
    from edgekit.boards import load_board
    from edgekit.modelspec import load_spec
    from edgekit.quantize import load_quantized
    from edgekit.tune.budget import candidate_cost

    path = work / "costs" / f"{Path(model).stem}-{board_name}.json"
    if path.is_file():
        return json.loads(path.read_text())
    contract = load_quantized(run)[2]
    cost = candidate_cost(load_spec(model), load_board(board_name), contract, None).to_dict()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(cost, indent=1))
    return cost


def table(tune: Path, work: Path, board: str) -> str:
    """Markdown: one row per model, means over the seeds that finished (n shown)."""
    rows = [
        f"| model (recipe) | n seeds | float acc. users 29-36 (per seed) | int8 acc. | F1 Upstairs | F1 Downstairs | "
        f"{board} latency (ms, measured) | {board} flash (bytes) | parameters |",
        "|---|---:|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, (model, _) in candidates(tune).items():
        res = results(work, label)
        if res:
            cost = board_cost(model, board, work / folder(label) / f"s{res[0]['seed']}" / "run", work)
            rows.append(
                f"| {label} | {accuracy_cells(res)} | {cost['latency_ms']:.1f} | {cost['flash_bytes']:,} | "
                f"{cost['params']:,} |"
            )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tune", type=Path, required=True, help="the folder edgekit tune --out wrote")
    parser.add_argument("--data", type=Path, default=os.environ.get("EDGEKIT_WISDM_WINDOWS"))
    parser.add_argument("--work", type=Path, default=Path("runs/tuned"))
    parser.add_argument("--board", default="nano33")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", default=None, help="labels to train (default: all)")
    parser.add_argument("--table", action="store_true", help="only print the table of finished runs")
    args = parser.parse_args(argv)
    if not (args.tune / "front.json").is_file() or not (args.tune / "best.toml").is_file():
        print(f"--tune {args.tune}: no front.json and best.toml; pass the folder of a finished tune", file=sys.stderr)
        return 2
    if not args.table:
        if args.data is None or not Path(args.data).is_file():
            print(f"--data {args.data}: not a file; pass the WISDM windows .npz", file=sys.stderr)
            return 2
        for label, (model, recipe) in candidates(args.tune).items():
            if args.only and label not in args.only:
                continue
            for seed in args.seeds:
                r = run_one(label, model, recipe, seed, args.data, args.work)
                print(
                    f"{label} seed {seed}: float {r['float_accuracy']:.3f}  int8 {r['int8_accuracy']:.3f}", flush=True
                )
    print(table(args.tune, args.work, args.board))
    return 0


if __name__ == "__main__":
    sys.exit(main())
