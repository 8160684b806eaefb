"""Offline footprint and latency estimate of a model on a board (``edgekit profile``).

The instructions per inference that count are *measured*: the board-runtime rung of ``edgekit parity``
runs the firmware's own model code and TFLM on the board's emulated core and counts them
(:func:`measured_cost`). What follows is the older *estimate*, kept for boards no emulator covers and for
comparing architectures before anything is built; it is labelled as such wherever it is shown.

Everything in the estimate is computed, not measured on a board: parameters and multiply-accumulates come from
the Keras layer shapes, int8 bytes from the parameter counts (int8 weights, int32 biases), the
tensor arena from the desktop TFLM interpreter, and the time from a cost model with a handful of
constants per core and kernel set (:data:`COST_MODELS`). The point is to say *before* flashing
whether a model can keep up with the window hop and fit the board, and to compare architectures.

Cost model: instructions per inference =
    sum over layers of  instr_per_mac[op] * MACs
                      + instr_per_output[op] * output elements      (requantize, clamp, store)
                      + instr_per_patch * conv patch elements        (CMSIS-NN's im2col to int16)
                      + instr_per_element[op] * other elements       (pool compares, mean adds, copies)
                      + instr_per_op                                  (TFLM dispatch, kernel set-up)
and seconds = instructions * CPI / clock, with CPI given as a range. The Cortex-M4 constants are
calibrated on the seed network (8.69 M MACs), for which TFLM needs about 15.4 M instructions with
CMSIS-NN and about 598 M with the portable reference kernels (instruction counts of one inference on the
emulated core). The
other cores are derived from those by instruction-set arguments written next to each entry; they are
estimates to be replaced by a measurement when one exists.

Which kernels a board runs is decided by the runtime edgekit ships in the sketch: TFLM with the CMSIS-NN
kernels, which use SMLAD on a Cortex-M4F and plain C on a Cortex-M0+.
``--kernels reference`` shows what the portable kernels would cost (e.g. with another TFLM build).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..boards import Board
from ..contract import HOP, RATE_HZ, Contract
from ..errors import EdgekitError
from ..run import Run
from .costs import COST_MODELS, SEED_CALIBRATION, CoreCost, KernelCost, core_key
from .text import format_profile

DEFAULT_HOP_S = HOP / RATE_HZ  # WISDM: a prediction every 2 s
KERNEL_SETS = ("cmsis-nn", "reference")
# --------------------------------------------------------------------------- layers


# Keras layer class -> (TFLite op as the int8 export names it, cost-model op kind)
_LAYER_OPS: dict[str, tuple[str, str]] = {
    "Conv1D": ("CONV_2D", "conv"),
    "Conv2D": ("CONV_2D", "conv"),
    "DepthwiseConv1D": ("DEPTHWISE_CONV_2D", "depthwise"),
    "DepthwiseConv2D": ("DEPTHWISE_CONV_2D", "depthwise"),
    "Dense": ("FULLY_CONNECTED", "fully_connected"),
    "MaxPooling1D": ("MAX_POOL_2D", "max_pool"),
    "MaxPooling2D": ("MAX_POOL_2D", "max_pool"),
    "AveragePooling1D": ("AVERAGE_POOL_2D", "avg_pool"),
    "AveragePooling2D": ("AVERAGE_POOL_2D", "avg_pool"),
    "GlobalAveragePooling1D": ("MEAN", "mean"),
    "GlobalAveragePooling2D": ("MEAN", "mean"),
    "Reshape": ("RESHAPE", "reshape"),
    "Flatten": ("RESHAPE", "reshape"),
    "Softmax": ("SOFTMAX", "softmax"),
    "ReLU": ("RELU", "relu"),
    "Add": ("ADD", "add"),
}
_NO_OP = ("InputLayer", "Dropout", "SpatialDropout1D", "GaussianNoise", "ActivityRegularization")
_ELEMENT_WORD = {
    "max_pool": "compares",
    "avg_pool": "adds",
    "mean": "adds",
    "reshape": "copies",
    "softmax": "exp",
    "relu": "max",
    "add": "adds",
}


def _shape(tensor: Any) -> tuple[int, ...]:
    """Shape without the batch; the first input's for a layer with several (Add, Concatenate)."""
    if isinstance(tensor, (list, tuple)):
        tensor = tensor[0]
    return tuple(int(d) for d in tuple(tensor.shape)[1:] if d is not None)


def _count(shape: tuple[int, ...]) -> int:
    return int(math.prod(shape)) if shape else 0


def layer_rows(model: Any) -> list[dict[str, Any]]:
    """One row per Keras layer: op, output shape, parameters, MACs, other element ops, int8 bytes."""
    return [_layer_row(layer) for layer in model.layers if type(layer).__name__ not in ("InputLayer",)]


def _layer_row(layer: Any) -> dict[str, Any]:
    cls = type(layer).__name__
    out_shape, in_shape = _shape(layer.output), _shape(layer.input)
    op, kind = _LAYER_OPS.get(cls, ("-", "none" if cls in _NO_OP else "other"))
    macs, outputs, patch, elements = _work(layer, kind, in_shape, out_shape)
    weights = bias = 0
    for var in layer.weights:
        n = int(np.prod(var.shape))
        if var.name.split("/")[-1].startswith("bias"):
            bias += n
        else:
            weights += n
    row = {
        "name": layer.name,
        "layer": cls,
        "op": op,
        "kind": kind,
        "output_shape": list(out_shape),
        "params": int(layer.count_params()),
        "macs": macs,
        "outputs": outputs,
        "patch_elements": patch,
        "elements": elements,
        "element_op": _ELEMENT_WORD.get(kind, ""),
        "int8_bytes": weights + 4 * bias,  # int8 weights, int32 biases (TFLite's int8 scheme)
        "fused_softmax": getattr(getattr(layer, "activation", None), "__name__", "") == "softmax",
    }
    if row["fused_softmax"]:
        row["op"] = f"{op}+SOFTMAX"
    return row


def _work(layer: Any, kind: str, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> tuple[int, int, int, int]:
    """(MACs, output elements, im2col patch elements, other element ops) from the layer's shapes.

    Conv: output positions x kernel taps x C_in x C_out / groups. Dense: inputs x units (per position
    for a time-distributed Dense). Pooling and mean count one compare/add per input element read.
    """
    outputs = _count(out_shape)
    if kind == "conv":
        positions, taps = _count(out_shape[:-1]), int(math.prod(layer.kernel_size))
        per_group = in_shape[-1] // int(getattr(layer, "groups", 1))
        return positions * taps * per_group * out_shape[-1], outputs, positions * taps * in_shape[-1], 0
    if kind == "depthwise":
        return outputs * int(math.prod(layer.kernel_size)), outputs, 0, 0
    if kind == "fully_connected":
        positions = _count(out_shape[:-1]) or 1
        return positions * in_shape[-1] * out_shape[-1], outputs, 0, 0
    if kind in ("max_pool", "avg_pool"):
        return 0, outputs, 0, outputs * int(math.prod(layer.pool_size))
    if kind == "mean":
        return 0, outputs, 0, _count(in_shape)
    if kind in ("reshape", "softmax", "relu", "add"):
        return 0, outputs, 0, outputs
    return 0, outputs, 0, 0


def _instructions(row: dict[str, Any], cost: KernelCost) -> float:
    if row["kind"] in ("none", "other"):
        return 0.0
    kind = row["kind"]
    instr = (
        cost.instr_per_mac.get(kind, 0.0) * row["macs"]
        + cost.instr_per_output.get(kind, 0.0) * row["outputs"]
        + cost.instr_per_element.get(kind, 0.0) * row["elements"]
        + cost.instr_per_op
    )
    if kind == "conv":
        instr += cost.instr_per_patch * row["patch_elements"]
    if row["fused_softmax"]:
        instr += cost.instr_per_element["softmax"] * row["outputs"] + cost.instr_per_op
    return instr


# --------------------------------------------------------------------------- estimate


def check_kernels(board: Any, kernels: str | None) -> str | None:
    """``kernels`` if the board's core has a cost model for it (None passes: the core's default)."""
    key = core_key(board.core)
    if kernels is None or key is None:
        return kernels
    known = COST_MODELS[key].kernels
    if kernels not in known:
        raise EdgekitError(
            f"--kernels {kernels}: no cost model for {kernels} kernels on {board.core}; "
            f"choose one of {', '.join(sorted(known))}"
        )
    return kernels


def estimate_time(
    rows: list[dict[str, Any]], board: Any, kernels: str | None = None, hop_s: float = DEFAULT_HOP_S
) -> dict[str, Any]:
    """Instructions, seconds (a range from the CPI range) and duty cycle for ``board``.

    Returns ``{"available": False, "reason": ...}`` for a core without a cost model, so the rest of the
    profile (sizes, fit) is still shown.
    """
    key = core_key(board.core)
    if key is None:
        return {
            "available": False,
            "reason": f"no cost model for core '{board.core}' (known: {', '.join(sorted(COST_MODELS))})",
        }
    core = COST_MODELS[key]
    kernels = check_kernels(board, kernels) or core.default_kernels
    cost = core.kernels[kernels]
    per_layer = {row["name"]: _instructions(row, cost) for row in rows}
    total = sum(per_layer.values())
    seconds = [total * cpi / board.clock_hz for cpi in core.cpi]
    mid = total * sum(core.cpi) / 2 / board.clock_hz
    return {
        "available": True,
        "core": key,
        "core_title": core.title,
        "kernels": kernels,
        "kernels_default": kernels == core.default_kernels,
        "instructions": int(round(total)),
        "instructions_per_layer": {k: int(round(v)) for k, v in per_layer.items()},
        "clock_hz": board.clock_hz,
        "cpi": list(core.cpi),
        "seconds": [round(s, 6) for s in seconds],
        "seconds_mid": round(mid, 6),
        "hop_s": hop_s,
        "duty_cycle": [round(s / hop_s, 6) for s in seconds],
        "keeps_up": seconds[1] < hop_s,
        "assumptions": _assumptions(core, cost, board, [r for r in rows if r["kind"] == "other"]),
    }


def _assumptions(core: CoreCost, cost: KernelCost, board: Any, uncosted: list[dict[str, Any]]) -> list[str]:
    mac = ", ".join(f"{k} {v:g}" for k, v in sorted(cost.instr_per_mac.items()))
    out = ", ".join(f"{k} {v:g}" for k, v in sorted(cost.instr_per_output.items()))
    return [
        f"core {board.core} at {board.clock_hz / 1e6:g} MHz; CPI {core.cpi[0]:g}-{core.cpi[1]:g} ({core.cpi_note})",
        f"instructions per MAC: {mac}; per output element (requantize+store): {out}",
        f"per conv im2col element {cost.instr_per_patch:g}; per TFLM op {cost.instr_per_op:g}; "
        "pooling/mean/copy per element: "
        + ", ".join(f"{k} {cost.instr_per_element[k]:g}" for k in ("max_pool", "avg_pool", "mean", "reshape")),
        cost.note,
        "not counted: input quantization and normalisation in the sketch (~5 k instructions), sensor "
        "sampling interrupts (inside the CPI range), USB serial output",
    ] + (
        [f"no cost entry, counted as 0: {', '.join(r['name'] + ' (' + r['layer'] + ')' for r in uncosted)}"]
        if uncosted
        else []
    )


# --------------------------------------------------------------------------- profiles


def profile_model(
    model: Any,
    tflite: bytes | None = None,
    arena_bytes: int | None = None,
    board: Board | None = None,
    kernels: str | None = None,
    contract: Contract | None = None,
    arena_source: str = "given",
    footprint: Footprint | None = None,
) -> dict[str, Any]:
    """Profile a Keras model; with ``tflite`` also flash/arena, with ``board`` also fit and time.

    ``contract`` (when given) supplies the hop for the duty cycle and makes the fit check count edgekit's own
    firmware buffers, as ``build`` does; ``footprint`` says what else the sketch holds (self-test windows, the
    arena the board's runtime measured), so the fit is the very one ``build`` reports.
    """
    rows = layer_rows(model)
    totals = {k: int(sum(r[k] for r in rows)) for k in ("params", "macs", "elements", "int8_bytes")}
    result: dict[str, Any] = {"kind": "edgekit-profile", "model": model.name, "layers": rows, "totals": totals}
    if tflite is not None:
        if arena_bytes is None:
            from ..desktop_arena import measure_arena

            arena_bytes, arena_source = measure_arena(tflite), "measured now, desktop TFLM"
        result["int8"] = {
            "tflite_bytes": len(tflite),
            "weights_bytes": totals["int8_bytes"],
            "overhead_bytes": len(tflite) - totals["int8_bytes"],
            "arena_bytes": int(arena_bytes),
            "arena_source": arena_source,
        }
    if board is not None:
        hop_s = contract.hop / contract.rate_hz if contract is not None else DEFAULT_HOP_S
        result["board"] = {"name": board.name, "title": board.title, "core": board.core, "clock_hz": board.clock_hz}
        if tflite is not None and arena_bytes is not None:
            result["board"]["fit"] = _fit(board, tflite, int(arena_bytes), contract, footprint or Footprint())
        result["estimate"] = estimate_time(rows, board, kernels, hop_s)
    return result


@dataclass(frozen=True)
class Footprint:
    """What besides the model decides the sketch's flash and RAM: its self-test windows and the arena the
    board's own runtime used on the emulated core (parity's board rungs), when known."""

    selftest_windows: int = 0
    board_rungs: dict[str, Any] = field(default_factory=dict)


def _fit(board: Board, tflite: bytes, arena_bytes: int, contract: Contract | None, footprint: Footprint) -> dict:
    """The same fit check ``edgekit build`` applies (arena plan with margin and CMSIS-NN scratch)."""
    from ..boards import fit_check
    from ..firmware import plan_arena

    if contract is not None:
        if contract.quant is None:
            from dataclasses import replace

            from ..quantize import quantization_record
            from ..runtimes import inspect_tflite

            contract = replace(contract, quant=quantization_record(tflite, inspect_tflite(tflite), arena_bytes))
        report, plan = sketch_footprint(tflite, contract, board, footprint)
    else:
        plan = plan_arena(tflite, arena_bytes)
        report = fit_check(board, len(tflite), plan.total)
    return dict(report.to_dict(), arena_plan=plan.to_dict(), summary=report.summary())


def sketch_footprint(tflite: bytes, contract: Contract, board: Board, footprint: Footprint) -> tuple[Any, Any]:
    """(FitReport, ArenaPlan) of the sketch ``build`` writes: the one computation ``build`` and ``profile`` share.

    The arena is planned from the board's own runtime's measurement when its emulated rung ran, else from the
    desktop TFLM's; the flash counts the self-test windows the sketch embeds (only their size matters here).
    """
    from ..firmware import Selftest, plan_arena, sketch_fit

    assert contract.quant is not None
    plan = plan_arena(tflite, contract.quant.arena_bytes, board_arena(footprint.board_rungs, board))
    k = footprint.selftest_windows
    tests = (
        Selftest(np.zeros((k, contract.n_features), np.int8), np.zeros((k, len(contract.labels)), np.int8))
        if k
        else None
    )
    return sketch_fit(tflite, contract, board, tests, plan), plan


def emulated_core(board: Board) -> str:
    """The emulated core the board-runtime rung runs for ``board`` (a Cortex-M4 for a board without one)."""
    assert board.tflm is not None
    return board.tflm.emulator if board.tflm.emulator != "none" else "cortex-m4"


def board_arena(rungs: dict[str, Any], board: Board) -> Any:
    """arena_used_bytes of the board's runtime on its emulated core (a ``BoardArena``), when that rung ran."""
    from ..firmware import BoardArena

    if board.tflm is None:
        return None
    rung = rungs.get(emulated_core(board), {})
    if rung.get("status") != "ran":
        return None
    return BoardArena(int(rung["arena_used_bytes"]), f"{rung['title']} (arena_used_bytes)")


def profile_run(
    run: Run | Path,
    board: Board | None = None,
    kernels: str | None = None,
    selftest_windows: int | None = None,
) -> dict[str, Any]:
    """Profile a run folder: its float model, its int8 export (or an in-memory one) and a board.

    The board defaults to the one the run was built for, else ``nano33`` (see :attr:`Run.board`). A run that
    was not quantized yet is exported in memory (calibrated on N(0, 1) inputs: sizes and arena do not depend
    on the calibration values) and nothing is written to the folder. ``selftest_windows`` defaults to the
    number the run's sketch embeds.
    """
    from .. import artifacts
    from ..model import load_model

    run = Run.of(run)
    board = board or run.board  # a bad --board or --kernels fails before the model is loaded
    check_kernels(board, kernels)
    contract = run.contract
    model = load_model(run.path)
    if contract.quant is not None and (run.path / artifacts.MODEL_TFLITE).is_file():
        from ..quantize import load_quantized

        tflite, _, contract = load_quantized(run.path)
        arena = contract.quant.arena_bytes if contract.quant is not None else None
    else:
        tflite, arena = _export_in_memory(model), None
    source = "recorded by edgekit quantize" if arena is not None else "given"
    if selftest_windows is None:
        selftest_windows = run.manifest.build.selftest_windows if run.manifest.build else 0
    rungs = _board_rungs(run.path, tflite)
    footprint = Footprint(selftest_windows, rungs)
    result = profile_model(model, tflite, arena, board, kernels, contract, source, footprint)
    result["run"] = {
        "dir": str(run.path),
        "model": run.manifest.model_name or model.name,
        "quantized": contract.quant is not None,
    }
    hop_s = contract.hop / contract.rate_hz
    result["measured"] = measured_cost(rungs, board, hop_s)
    return result


def _board_rungs(run_dir: Path, tflite: bytes) -> dict[str, Any]:
    """The board-runtime rungs of the run's parity.json, if it is about this very model."""
    from .. import artifacts

    path = run_dir / artifacts.PARITY_JSON
    if not path.is_file():
        return {}
    report = artifacts.read_json(path)
    if report.get("tflite_sha256") != artifacts.sha256_bytes(tflite):
        return {}
    return (report.get("board") or {}).get("rungs", {})


def measured_cost(rungs: dict[str, Any], board: Board, hop_s: float = DEFAULT_HOP_S) -> dict[str, Any]:
    """Instructions per inference measured on the board's emulated core, and the time they imply.

    The count is exact for the code the board runs (the firmware's model code and TFLM runtime, built
    with the board's flags, under QEMU -icount); the time range multiplies it by the core's CPI range
    at the board's clock, because QEMU counts instructions, not cycles.
    """
    target = board.tflm.emulator if board.tflm is not None else "none"
    rung = rungs.get(target)
    if target == "none":
        return {"available": False, "reason": f"no emulated core stands for {board.core}"}
    if not rung or rung.get("status") != "ran" or "instructions" not in rung:
        why = (rung or {}).get("reason") or "no board-runtime rung in parity.json; run 'edgekit parity RUN'"
        return {"available": False, "reason": why}
    key = core_key(board.core)
    cpi = COST_MODELS[key].cpi if key else (1.0, 1.0)
    instructions = rung["instructions"]["mean"]
    seconds = [instructions * c / board.clock_hz for c in cpi]
    return {
        "available": True,
        "source": f"{rung['title']}, {rung['windows']} windows (QEMU -icount; {rung['flags']})",
        "instructions": instructions,
        "instructions_range": [rung["instructions"]["min"], rung["instructions"]["max"]],
        "per_op": rung.get("op_instructions", []),
        "clock_hz": board.clock_hz,
        "cpi": list(cpi),
        "seconds": [round(x, 6) for x in seconds],
        "duty_cycle": [round(x / hop_s, 6) for x in seconds],
        "hop_s": hop_s,
        "arena_used_bytes": rung["arena_used_bytes"],
    }


def _export_in_memory(model: Any) -> bytes:
    from ..quantize import quantize_model

    features = int(model.inputs[0].shape[-1])
    rep = np.random.default_rng(0).standard_normal((32, features)).astype(np.float32)
    return quantize_model(model, rep)


__all__ = [
    "COST_MODELS",
    "DEFAULT_HOP_S",
    "KERNEL_SETS",
    "SEED_CALIBRATION",
    "CoreCost",
    "Footprint",
    "KernelCost",
    "board_arena",
    "core_key",
    "emulated_core",
    "estimate_time",
    "format_profile",
    "layer_rows",
    "measured_cost",
    "profile_model",
    "profile_run",
    "sketch_footprint",
]
