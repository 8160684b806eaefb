"""The parity ladder's board rungs: the board's own runtime on the host and on an emulated Cortex-M.

Each rung runs the generated model code and runtime tree (see :mod:`edgekit.runtime.tree`) and compares
its int8 outputs byte for byte with the desktop TFLM package. A differing window is traced to its first
differing op by dumping every intermediate tensor on both sides. A rung that cannot run here (no
cross-compiler, no QEMU, no runtime sources) reports ``status: not run`` with the reason: it never passes
silently, and ``--require-board-runtime`` turns it into an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .. import progress
from ..errors import EdgekitError
from .harness import BoardModel, BoardRuntime, ModelInterface, model_sources
from .sources import locate_sources
from .toolchain import TARGETS

DEFAULT_BOARD_WINDOWS = 512
DIVERGENCE_WINDOWS = 5
HOST = "host"


@dataclass(frozen=True)
class BoardRungPlan:
    """Which board rungs to run, on what, and where the runtime sources are."""

    emulated: str = "cortex-m4"  # a key of TARGETS; the board's core
    windows: int = DEFAULT_BOARD_WINDOWS  # held-out windows the emulated board runs (plus the golden ones)
    golden: tuple[int, ...] = ()  # indices of the self-test windows, always run on the emulated board
    runtime_src: Path | None = None
    hot_kernels: str = "Os"  # the board's optimisation of the CMSIS-NN sources (boards' tflm.hot_kernels)


def sample_indices(n: int, k: int, golden: tuple[int, ...]) -> np.ndarray:
    """Golden windows plus ``k`` evenly spaced ones (all of them when n <= k), sorted and unique."""
    spread = np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int)) if n and k > 0 else np.arange(0)
    return np.unique(np.concatenate([spread, np.asarray(golden, dtype=int)])).astype(int)


def prepare_board_model(
    tflite: bytes,
    interface: ModelInterface,
    runtime_src: Path | None,
    methods: dict[str, str],
    hot_kernels: str = "Os",
    extra_ops: tuple[str, ...] = (),
) -> tuple[BoardModel | None, str | None]:
    """The model code + runtime tree, or (None, why) when the runtime sources are not to be had."""
    try:
        sources = locate_sources(runtime_src)
    except EdgekitError as exc:
        if runtime_src is not None:
            raise
        return None, str(exc)
    return model_sources(tflite, interface, sources, methods, hot_kernels, extra_ops), None


def run_board_rungs(
    model: BoardModel | None,
    why: str | None,
    x_int8: np.ndarray,
    desktop: np.ndarray,
    ops: list[str],
    plan: BoardRungPlan,
    reference: Any,
) -> dict[str, Any]:
    """Both board rungs against the desktop TFLM outputs ``desktop`` (int8, one row per window)."""
    section: dict[str, Any] = {"runtime": _describe(model), "rungs": {}}
    if model is not None:  # the CMSIS-NN optimisation the rungs compiled: the one the sketch ships
        section["runtime"]["hot_kernels"] = plan.hot_kernels
    sample = sample_indices(len(x_int8), plan.windows, plan.golden)
    for name, rows in ((HOST, np.arange(len(x_int8))), (plan.emulated, sample)):
        target = TARGETS[name]
        if model is None:
            section["rungs"][name] = _not_run(target.title, why or "no runtime sources")
            continue
        missing = target.missing()
        if missing:
            section["rungs"][name] = _not_run(target.title, f"{', '.join(missing)} not installed")
            continue
        with progress.step(f"{target.title} on {len(rows)} windows"):
            section["rungs"][name] = _run_rung(BoardRuntime(model, target), x_int8, rows, desktop, ops, reference)
    return section


def _not_run(title: str, reason: str) -> dict[str, Any]:
    return {"title": title, "status": "not run", "reason": reason}


def _describe(model: BoardModel | None) -> dict[str, Any]:
    if model is None:
        return {}
    return {
        "sources": model.tree.sources,
        "tree_sha256": model.tree.sha256,
        "files": len(model.tree.files),
        "kernels": {k.op: k.registration for k in model.tree.kernels},
    }


def _run_rung(
    runtime: BoardRuntime, x_int8: np.ndarray, rows: np.ndarray, desktop: np.ndarray, ops: list[str], reference: Any
) -> dict[str, Any]:
    run = runtime.run(x_int8[rows])
    steps = np.abs(run.outputs.astype(np.int16) - desktop[rows].astype(np.int16))
    differ = rows[np.flatnonzero(steps.max(axis=1) > 0)]
    result: dict[str, Any] = {
        "title": runtime.target.title,
        "status": "ran",
        "target": runtime.target.name,
        "flags": " ".join(runtime.target.flags),
        "windows": int(len(rows)),
        "windows_differ": int(differ.size),
        "max_step": int(steps.max()) if steps.size else 0,
        "first_differing_windows": differ[:10].tolist(),
        "top1_changes": int((run.outputs.argmax(axis=1) != desktop[rows].argmax(axis=1)).sum()),
        "arena_used_bytes": run.arena_used_bytes,
    }
    if run.instructions is not None and len(rows):
        result["instructions"] = {
            "mean": int(run.instructions.mean()),
            "min": int(run.instructions.min()),
            "max": int(run.instructions.max()),
        }
        per_window = [round(v / len(rows)) for v in run.op_instructions]
        result["op_instructions"] = [{"op": op, "instructions": int(v)} for op, v in zip(ops, per_window, strict=False)]
    if differ.size:
        result["first_divergence"] = first_divergence(runtime, x_int8[differ[:DIVERGENCE_WINDOWS]], ops, reference)
        for entry, window in zip(result["first_divergence"], differ[:DIVERGENCE_WINDOWS], strict=True):
            entry["window"] = int(window)
    return result


def first_divergence(runtime: BoardRuntime, x_int8: np.ndarray, ops: list[str], reference: Any) -> list[dict]:
    """The first op whose output differs from the desktop TFLM's, per window (all tensors dumped)."""
    board = runtime.tensors(x_int8)
    desktop = reference(x_int8)
    found = []
    for ours, theirs in zip(board, desktop, strict=True):
        entry: dict[str, Any] = {"op_index": None, "op": None, "max_step": 0}
        for position, (a, b) in enumerate(zip(ours, theirs, strict=False)):
            b = np.asarray(b, dtype=np.int8).ravel()
            if a.shape != b.shape or not np.array_equal(a, b):
                step = int(np.abs(a.astype(np.int32) - b.astype(np.int32)).max()) if a.shape == b.shape else 255
                entry = {"op_index": position, "op": ops[position] if position < len(ops) else None, "max_step": step}
                break
        found.append(entry)
    return found
