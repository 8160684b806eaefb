"""Seed vs compact on the real WISDM windows, through edgekit's own pipeline; prints a Markdown table.

Each model goes through train_run -> quantize_run -> run_parity -> profile_run with the defaults
``edgekit build`` uses (batch 400, up to 50 epochs, the same early stopping, 300 calibration
windows, parity on the held-out users 29-36), so the numbers are the ones a user would get.
Accuracy is from one training seed: on these 8 test users seeds move it by about +-1.5 pp.
Takes several minutes on two cores (the seed model trains for ~3-7 min).

    python bench/models.py --data /path/to/wisdm_v1.1_adatime_windows.npz
    python bench/models.py --models compact --work runs/bench --reuse   # reuse trained runs
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def weighted_f1(confusion: list[list[int]]) -> float:
    """Support-weighted F1 from a confusion matrix (rows: true, columns: predicted)."""
    cm = np.asarray(confusion, dtype=np.float64)
    tp, support, predicted = np.diag(cm), cm.sum(axis=1), cm.sum(axis=0)
    denom = support + predicted
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float((f1 * support).sum() / support.sum())


def bench_model(name: str, data: Path, work: Path, board: str, seed: int, reuse: bool) -> dict[str, Any]:
    """Train, quantize, check parity and profile one architecture; returns the table's numbers."""
    from edgekit import artifacts
    from edgekit.boards import load_board
    from edgekit.parity import run_parity
    from edgekit.profile import profile_run
    from edgekit.quantize import quantize_run
    from edgekit.train import TrainConfig, train_run

    run = work / name
    if not (reuse and (run / artifacts.MODEL_KERAS).is_file()):
        print(f"training {name} ...", file=sys.stderr, flush=True)
        train_run(data, run, TrainConfig(model=name), seed=seed, force=True)
    quantize_run(run)
    parity = run_parity(run, max_drop_pp=0.5, require_bit_exact=True, layer_windows=0, enforce=False)
    prof = profile_run(run, board=load_board(board))
    manifest = artifacts.load_manifest(run)
    metrics = artifacts.read_json(run / artifacts.METRICS)
    training = manifest["training"]
    est = prof["estimate"]
    return {
        "model": name,
        "float accuracy": metrics["accuracy"],
        "int8 (TFLM) accuracy": parity["rungs"]["tflm"]["accuracy"],
        "float weighted F1": metrics["weighted"]["f1-score"],
        "int8 (TFLM) weighted F1": weighted_f1(parity["rungs"]["tflm"]["confusion"]),
        "int8 drop (pp)": f"{parity['pairs']['float->tflm']['accuracy_drop_pp']:.2f}",
        "LiteRT vs TFLM windows differing": parity["pairs"]["litert->tflm"]["int8_windows_differ"],
        "LiteRT vs TFLM max int8 step": parity["pairs"]["litert->tflm"].get("int8_max_step_diff", 0),
        "parameters": prof["totals"]["params"],
        "MACs per window": prof["totals"]["macs"],
        "int8 flash (.tflite bytes)": prof["int8"]["tflite_bytes"],
        "TFLM arena (bytes, desktop)": prof["int8"]["arena_bytes"],
        "desktop TFLM (ms/inference)": f"{parity['timing']['tflm_ms_per_inference']:.2f}",
        f"est. {board} instructions": est["instructions"],
        f"est. {board} time (ms)": f"{1000 * est['seconds'][0]:.0f}-{1000 * est['seconds'][1]:.0f}",
        f"{board} flash / RAM used": f"{board_pct(prof)}",
        "epochs run (best)": f"{training['epochs_run']} ({training['best_epoch']})",
        "training wall time (s)": training["wall_time_s"],
        "training s/epoch (this machine)": training["wall_time_s"] / training["epochs_run"],
    }


def board_pct(prof: dict[str, Any]) -> str:
    fit = prof["board"]["fit"]
    return f"{fit['flash']['pct']:.0f} % / {fit['ram']['pct']:.0f} %"


def _cell(key: str, value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}" if "accuracy" in key or "F1" in key else f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Metrics as rows, models as columns, plus a ratio column when two models are compared."""
    names = [r["model"] for r in rows]
    ratio = len(rows) == 2
    out = [
        "| metric | " + " | ".join(names) + (f" | {names[1]} / {names[0]} |" if ratio else " |"),
        "|---|" + "---:|" * (len(rows) + ratio),
    ]
    for key in rows[0]:
        if key == "model":
            continue
        cells = [_cell(key, r[key]) for r in rows]
        if ratio:
            a, b = rows[0][key], rows[1][key]
            both = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (a, b))
            relative = not any(word in key for word in ("accuracy", "F1", "LiteRT"))
            cells.append(f"{b / a:.3f}" if both and a and relative else "")
        out.append(f"| {key} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=os.environ.get("EDGEKIT_WISDM_WINDOWS"),
        help="WISDM windows .npz (default: $EDGEKIT_WISDM_WINDOWS)",
    )
    parser.add_argument("--models", default="seed,compact", help="comma-separated architectures")
    parser.add_argument("--board", default="nano33")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=None, help="keep the runs here (default: a temporary folder)")
    parser.add_argument("--reuse", action="store_true", help="reuse trained runs found in --work")
    args = parser.parse_args(argv)
    if args.data is None or not Path(args.data).is_file():
        parser.error("--data: pass the WISDM windows .npz (or set EDGEKIT_WISDM_WINDOWS)")
    work = args.work or Path(tempfile.mkdtemp(prefix="edgekit-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        rows = [
            bench_model(m.strip(), Path(args.data), work, args.board, args.seed, args.reuse)
            for m in args.models.split(",")
        ]
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    print(markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
