"""What bench/recipe.py and bench/tuned.py share: train a run, score it on the held-out users, summarise seeds.

Both benches train one model per (variant, seed) with ``train_run`` + ``quantize_run``, cache the
scores in ``WORK/<folder>/s<seed>/result.json`` (an interrupted bench resumes) and print a Markdown row
per variant whose accuracy cells are the same. Not a bench itself: imported by the two scripts.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np

WEAK = ("Upstairs", "Downstairs")  # the classes the seed network confuses: their F1 is reported


def folder(label: str) -> str:
    """A variant's folder under WORK: 'robust - rotation/tilt' -> 'robust-rotation+tilt', 'compact (seed)'
    -> 'compact-seed' (the names the runs were saved under)."""
    return label.replace(" ", "").replace("/", "+").replace("(", "-").replace(")", "")


def results(work: Path, label: str) -> list[dict[str, Any]]:
    """The finished seeds of one variant, in seed order."""
    return [json.loads(p.read_text()) for p in sorted((work / folder(label)).glob("s*/result.json"))]


def train_and_score(config: Any, data: Path, out: Path, seed: int, **extra: Any) -> dict[str, Any]:
    """Train ``config`` into ``out/run``, quantize it, score float and int8 on users 29-36; cached in result.json.

    int8 accuracy is LiteRT's (builtin kernels, bit-identical to TFLM on these models, and faster).
    ``extra`` keys go into the result first (the variant's name and the seed).
    """
    from edgekit import artifacts
    from edgekit.data.prepare import prepare_run
    from edgekit.quantize import load_quantized, quantize_run
    from edgekit.runtimes import LiteRTRunner, quantize_input
    from edgekit.train import train_run

    if (out / "result.json").is_file():
        return json.loads((out / "result.json").read_text())
    run = out / "run"
    start = time.time()
    manifest = train_run(data, run, config, seed=seed, force=True)
    quantize_run(run)
    tflite, info, _ = load_quantized(run)
    prepared = prepare_run(run)
    q = info.input
    pred8 = LiteRTRunner(tflite).run(quantize_input(prepared.x_test, q.scale, q.zero_point)).argmax(axis=1)
    metrics = artifacts.read_json(run / artifacts.METRICS)
    history = artifacts.read_json(run / artifacts.HISTORY)
    best = manifest["training"]["best_epoch"]
    result = {
        **extra,
        "seed": seed,
        "float_accuracy": metrics["accuracy"],
        "int8_accuracy": float(np.mean(pred8 == prepared.y_test)),
        "f1": {c: metrics["per_class"][c]["f1-score"] for c in WEAK},
        "val_accuracy": history["val_accuracy"][best - 1],
        "epochs_run": manifest["training"]["epochs_run"],
        "best_epoch": best,
        "wall_s": round(time.time() - start, 1),
    }
    result["int8_drop_pp"] = 100 * (result["float_accuracy"] - result["int8_accuracy"])
    artifacts.write_json_atomic(out / "result.json", result)
    return result


def mean(res: list[dict[str, Any]], key: str) -> float:
    return float(np.mean([r[key] for r in res]))


def accuracy_cells(res: list[dict[str, Any]]) -> str:
    """'n | **mean** (per seed) | int8 mean | F1 Upstairs | F1 Downstairs': the cells both tables share."""
    per_seed = "/".join(f"{r['float_accuracy']:.3f}" for r in res)
    f1 = [float(np.mean([r["f1"][c] for r in res])) for c in WEAK]
    return (
        f"{len(res)} | **{mean(res, 'float_accuracy'):.3f}** ({per_seed}) | {mean(res, 'int8_accuracy'):.3f} | "
        f"{f1[0]:.3f} | {f1[1]:.3f}"
    )
