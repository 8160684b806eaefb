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
CMSIS-NN and about 598 M with the portable reference kernels (the lead's instruction counts). The
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

from .contract import HOP, RATE_HZ
from .errors import EdgekitError

DEFAULT_BOARD = "nano33"
DEFAULT_HOP_S = HOP / RATE_HZ  # WISDM: a prediction every 2 s
KERNEL_SETS = ("cmsis-nn", "reference")
# What the Cortex-M4 constants are fitted to: the seed model's MACs and the lead's instruction counts of
# one TFLM inference with each kernel set (tests/test_profile.py checks the fit).
SEED_CALIBRATION = {"macs": 8_685_960, "cmsis-nn": 15.4e6, "reference": 598e6}


# --------------------------------------------------------------------------- cost model


@dataclass(frozen=True)
class KernelCost:
    """Instruction counts of one kernel set on one core; see the module docstring for the formula."""

    instr_per_mac: dict[str, float]
    instr_per_output: dict[str, float]
    instr_per_element: dict[str, float]
    instr_per_patch: float
    instr_per_op: float
    note: str


@dataclass(frozen=True)
class CoreCost:
    """A core type: its kernel sets, which one the board's TFLM library uses, and its CPI range."""

    title: str
    default_kernels: str
    cpi: tuple[float, float]
    cpi_note: str
    kernels: dict[str, KernelCost] = field(default_factory=dict)


# Per-element costs shared by the Arm cores (TFLM's pooling, mean and softmax kernels are plain C in
# both kernel sets for these shapes): a compare or add with its load and loop step is ~2-3 instructions;
# softmax per class ~150 (exp lookup + fixed-point division); reshape is a byte copy (memcpy, ~0.3/B).
_ARM_ELEMENTS = {
    "max_pool": 2.5,
    "avg_pool": 2.5,
    "mean": 2.5,
    "softmax": 150.0,
    "reshape": 0.3,
    "relu": 2.0,
    "add": 4.0,
}

_M4_CMSIS = KernelCost(
    # arm_convolve_s8 / arm_nn_mat_mult_kernel_s8_s16 with the DSP extension: 2 output channels x 2
    # columns per pass, SXTB16 to widen 4 weights, SMLAD = 2 MACs per instruction; ~22 instructions
    # per 16 MACs in the inner loop plus loop and leftover handling -> 1.73 (calibrated: the seed
    # then totals 15.4 M with the terms below). Fully connected (arm_nn_vec_mat_mult_t_s8) and
    # depthwise kernels reuse less data per load, hence higher.
    instr_per_mac={"conv": 1.73, "fully_connected": 2.0, "depthwise": 3.0},
    # arm_nn_requantize (SMULL-based doubling high multiply + rounding shift), offset, SSAT, store.
    instr_per_output={"conv": 16.0, "fully_connected": 16.0, "depthwise": 16.0, "mean": 16.0},
    instr_per_element=_ARM_ELEMENTS,
    instr_per_patch=1.5,  # im2col: arm_q7_to_q15_with_offset, 4 values per ~6 instructions
    instr_per_op=2000.0,  # MicroInterpreter::Invoke dispatch, per-op Eval set-up, profiler hooks
    note="calibrated: seed = 15.4 M instructions (lead's count, TFLM + CMSIS-NN on Cortex-M4)",
)
_M4_REFERENCE = KernelCost(
    # tflite::reference_integer_ops::ConvPerChannel: six nested loops, Offset() index arithmetic
    # and bounds checks around each MAC; calibrated so the seed totals 598 M instructions.
    instr_per_mac={"conv": 68.7, "fully_connected": 12.0, "depthwise": 70.0},
    instr_per_output={"conv": 40.0, "fully_connected": 40.0, "depthwise": 40.0, "mean": 40.0},
    instr_per_element={**_ARM_ELEMENTS, "max_pool": 12.0, "avg_pool": 12.0},
    instr_per_patch=0.0,
    instr_per_op=2000.0,
    note="calibrated: seed = 598 M instructions (lead's count, TFLM reference kernels on Cortex-M4)",
)


def _scaled(cost: KernelCost, factor: float, note: str) -> KernelCost:
    """The same kernels compiled for a weaker instruction set: every per-item count times ``factor``."""
    return KernelCost(
        instr_per_mac={k: v * factor for k, v in cost.instr_per_mac.items()},
        instr_per_output={k: v * factor for k, v in cost.instr_per_output.items()},
        instr_per_element={k: v * factor for k, v in cost.instr_per_element.items()},
        instr_per_patch=cost.instr_per_patch * factor,
        instr_per_op=cost.instr_per_op * factor,
        note=note,
    )


COST_MODELS: dict[str, CoreCost] = {
    "cortex-m4": CoreCost(
        title="Arm Cortex-M4(F), ARMv7E-M with the DSP extension",
        # Chirale_TensorFLowLite 2.0.0 (the boards' TFLM library) ships only the CMSIS-NN versions of
        # conv, depthwise conv, fully connected, pooling, softmax, add and mul (micro/kernels/cmsis_nn/),
        # and CMSIS-NN turns on its DSP path from __ARM_FEATURE_DSP, which the M4F has.
        default_kernels="cmsis-nn",
        # LDR 2 cycles (1 when pipelined), SMLAD/SXTB16 1, taken branch 2-4; nRF52840 runs code from
        # flash through its instruction cache, so the hot loops see ~0 wait states; ~25 % loads and a
        # branch every ~16 MACs give ~1.25, and the range covers cache misses and interrupts (sampler).
        cpi=(1.1, 1.4),
        cpi_note="LDR 2 cycles, SMLAD 1, branches 2-4; code in flash behind the nRF52840 I-cache",
        kernels={"cmsis-nn": _M4_CMSIS, "reference": _M4_REFERENCE},
    ),
    "cortex-m0plus": CoreCost(
        title="Arm Cortex-M0+, ARMv6-M (Thumb-1, no DSP, single-cycle multiplier on RP2040)",
        default_kernels="cmsis-nn",  # the same library as on the M4; CMSIS-NN takes its plain-C path here
        # 2-stage pipeline: loads 2 cycles, taken branches 2; code runs from QSPI flash through the
        # RP2040's 16 KiB XIP cache (misses cost tens of cycles), hence the wide upper end.
        cpi=(1.3, 1.8),
        cpi_note="loads and taken branches 2 cycles; code from QSPI flash behind a 16 KiB XIP cache",
        kernels={
            "cmsis-nn": KernelCost(
                # arm_nn_mat_mult_kernel_s8_s16 without ARM_MATH_DSP: 4 MACs per loop of LDRSB/LDRSH x4,
                # MULS x4, ADDS x4, pointer steps and loop branch, with spills (only r0-r7 for most
                # Thumb-1 instructions) -> ~22 instructions per 4 MACs. arm_nn_requantize's 64-bit product
                # is a software multiply (__aeabi_lmul) on ARMv6-M, hence ~4x the M4's per-output cost.
                instr_per_mac={"conv": 5.5, "fully_connected": 6.0, "depthwise": 7.0},
                instr_per_output={"conv": 60.0, "fully_connected": 60.0, "depthwise": 60.0, "mean": 60.0},
                instr_per_element={k: v * 1.1 for k, v in _ARM_ELEMENTS.items()},
                instr_per_patch=5.0,  # arm_q7_to_q15_with_offset one value per loop (no SXTB16)
                instr_per_op=2200.0,
                note="not calibrated on hardware: CMSIS-NN's plain-C loops counted for Thumb-1",
            ),
            # Thumb-1 has no IT blocks, no 3-register shifts/adds with immediates beyond 8 bits and only
            # r0-r7 for most instructions: the same C needs ~10 % more instructions than on ARMv7E-M.
            "reference": _scaled(_M4_REFERENCE, 1.1, "Cortex-M4 reference count x 1.1 (Thumb-1 code density)"),
        },
    ),
    "avr": CoreCost(
        title="8-bit AVR (ATmega)",
        default_kernels="reference",
        # Most AVR instructions take 1 cycle; loads from SRAM 2, from flash (LPM) 3, MUL 2.
        cpi=(1.3, 1.8),
        cpi_note="most instructions 1 cycle, LD 2, LPM (weights in flash) 3, MUL 2",
        kernels={
            # No TFLM port exists for AVR: every 32-bit add, multiply and index computation of the
            # reference kernels becomes 4-20 8-bit instructions. Order of magnitude only.
            "reference": _scaled(
                _M4_REFERENCE,
                6.0,
                "Cortex-M4 reference count x 6 (32-bit C on an 8-bit core); "
                "no TFLM port for AVR, order of magnitude only",
            ),
        },
    ),
}

_CORE_ALIASES = {
    "cortex-m4": "cortex-m4",
    "cortex-m4f": "cortex-m4",
    "cortex-m0+": "cortex-m0plus",
    "cortex-m0plus": "cortex-m0plus",
    "avr": "avr",
}


def core_key(core: str) -> str | None:
    """A board file's ``mcu.core`` ('Cortex-M4F', 'Cortex-M0+', 'AVR') -> a :data:`COST_MODELS` key."""
    return _CORE_ALIASES.get(core.strip().lower().replace(" ", "-"))


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
    board: Any = None,
    kernels: str | None = None,
    contract: Any = None,
    arena_source: str = "given",
) -> dict[str, Any]:
    """Profile a Keras model; with ``tflite`` also flash/arena, with ``board`` also fit and time.

    ``board`` is a :class:`edgekit.boards.Board` or a name. ``contract`` (when given) supplies the hop
    for the duty cycle and makes the fit check count edgekit's own firmware buffers, as ``build`` does.
    """
    from .boards import load_board

    rows = layer_rows(model)
    totals = {k: int(sum(r[k] for r in rows)) for k in ("params", "macs", "elements", "int8_bytes")}
    result: dict[str, Any] = {"kind": "edgekit-profile", "model": model.name, "layers": rows, "totals": totals}
    if tflite is not None:
        if arena_bytes is None:
            from .runtimes import measure_arena

            arena_bytes, arena_source = measure_arena(tflite), "measured now, desktop TFLM"
        result["int8"] = {
            "tflite_bytes": len(tflite),
            "weights_bytes": totals["int8_bytes"],
            "overhead_bytes": len(tflite) - totals["int8_bytes"],
            "arena_bytes": int(arena_bytes),
            "arena_source": arena_source,
        }
    if board is not None:
        board = load_board(board) if isinstance(board, str) else board
        hop_s = contract.hop / contract.rate_hz if contract is not None else DEFAULT_HOP_S
        result["board"] = {"name": board.name, "title": board.title, "core": board.core, "clock_hz": board.clock_hz}
        if tflite is not None:
            result["board"]["fit"] = _fit(board, tflite, int(arena_bytes), contract)
        result["estimate"] = estimate_time(rows, board, kernels, hop_s)
    return result


def _fit(board: Any, tflite: bytes, arena_bytes: int, contract: Any) -> dict[str, Any]:
    """The same fit check ``edgekit build`` applies (arena plan with margin and CMSIS-NN scratch)."""
    from .boards import fit_check
    from .firmware import plan_arena, sketch_fit

    plan = plan_arena(tflite, arena_bytes)
    if contract is not None:
        from dataclasses import replace

        if contract.quant is None:
            from .quantize import quantization_record
            from .runtimes import inspect_tflite

            contract = replace(contract, quant=quantization_record(tflite, inspect_tflite(tflite), arena_bytes))
        report = sketch_fit(tflite, contract, board, arena=plan)
    else:
        report = fit_check(board, len(tflite), plan.total)
    return dict(report.to_dict(), arena_plan=plan.to_dict(), summary=report.summary())


def profile_run(run_dir: Path, board: str | None = None, kernels: str | None = None) -> dict[str, Any]:
    """Profile a run folder: its float model, its int8 export (or an in-memory one) and a board.

    The board defaults to the one the run was built for, else ``nano33``. A run that was not quantized
    yet is exported in memory (calibrated on N(0, 1) inputs: sizes and arena do not depend on the
    calibration values) and nothing is written to the folder.
    """
    from . import artifacts
    from .boards import load_board
    from .contract import Contract
    from .model import load_model

    run_dir = Path(run_dir)
    manifest = artifacts.load_manifest(run_dir)
    name = board or (manifest.get("build") or {}).get("board") or DEFAULT_BOARD
    board_obj = load_board(name)  # a bad --board or --kernels fails before the model is loaded
    check_kernels(board_obj, kernels)
    contract = Contract.from_dict(manifest["contract"])
    model = load_model(run_dir)
    if contract.quant is not None and (run_dir / artifacts.MODEL_TFLITE).is_file():
        from .quantize import load_quantized

        tflite, _, contract = load_quantized(run_dir)
        arena = contract.quant.arena_bytes if contract.quant is not None else None
    else:
        tflite, arena = _export_in_memory(model), None
    source = "recorded by edgekit quantize" if arena is not None else "given"
    result = profile_model(model, tflite, arena, board_obj, kernels, contract, source)
    result["run"] = {
        "dir": str(run_dir),
        "model": manifest.get("model", {}).get("name", model.name),
        "quantized": contract.quant is not None,
    }
    hop_s = contract.hop / contract.rate_hz
    result["measured"] = measured_cost(_board_rungs(run_dir, tflite), board_obj, hop_s)
    return result


def _board_rungs(run_dir: Path, tflite: bytes) -> dict[str, Any]:
    """The board-runtime rungs of the run's parity.json, if it is about this very model."""
    from . import artifacts

    path = run_dir / artifacts.PARITY_JSON
    if not path.is_file():
        return {}
    report = artifacts.read_json(path)
    if report.get("tflite_sha256") != artifacts.sha256_bytes(tflite):
        return {}
    return (report.get("board") or {}).get("rungs", {})


def measured_cost(rungs: dict[str, Any], board: Any, hop_s: float = DEFAULT_HOP_S) -> dict[str, Any]:
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
    from .quantize import quantize_model

    features = int(model.inputs[0].shape[-1])
    rep = np.random.default_rng(0).standard_normal((32, features)).astype(np.float32)
    return quantize_model(model, rep)


# --------------------------------------------------------------------------- presentation


def _kilo(n: float) -> str:
    if n >= 1e6:
        return f"{n / 1e6:.2f} M"
    if n >= 1e3:
        return f"{n / 1e3:.1f} k"
    return f"{n:.0f}"


def _time(s: float) -> str:
    return f"{s * 1000:.1f} ms" if s < 1 else f"{s:.2f} s"


def format_profile(result: dict[str, Any]) -> str:
    """The table and summary lines ``edgekit profile`` prints."""
    est = result.get("estimate") or {}
    per_layer = est.get("instructions_per_layer", {})
    head = f"{'layer':<12}{'op':<26}{'output':>10}{'params':>10}{'MACs':>12}{'other ops':>18}{'int8 B':>9}"
    lines = [
        f"model {result['model']}: {result['totals']['params']:,} parameters, "
        f"{result['totals']['macs']:,} MACs per window",
        head + (f"{'instr':>10}" if per_layer else ""),
    ]
    for r in result["layers"]:
        other = f"{r['elements']:,} {r['element_op']}" if r["elements"] else "-"
        shape = "x".join(map(str, r["output_shape"]))
        line = (
            f"{r['name']:<12}{r['op']:<26}{shape:>10}{r['params']:>10,}{r['macs']:>12,}{other:>18}{r['int8_bytes']:>9,}"
        )
        lines.append(line + (f"{_kilo(per_layer.get(r['name'], 0)):>10}" if per_layer else ""))
    t = result["totals"]
    lines.append(
        f"{'total':<12}{'':<26}{'':>10}{t['params']:>10,}{t['macs']:>12,}{t['elements']:>18,}"
        f"{t['int8_bytes']:>9,}" + (f"{_kilo(est['instructions']):>10}" if per_layer else "")
    )
    if "int8" in result:
        q = result["int8"]
        lines.append(
            f"int8 model {q['tflite_bytes']:,} B (weights+biases {q['weights_bytes']:,} B, flatbuffer "
            f"{q['overhead_bytes']:,} B); TFLM arena {q['arena_bytes']:,} B ({q['arena_source']})"
        )
    board = result.get("board")
    if board and "fit" in board:
        fit = board["fit"]
        lines.append(f"{fit['summary']}{'' if fit['fits'] else '  DOES NOT FIT'}")
    measured = result.get("measured") or {}
    if measured.get("available"):
        lo, hi = measured["seconds"]
        lines.append(
            f"measured for {board['name']}: {_kilo(measured['instructions'])} instructions per inference "
            f"({measured['source']}) -> {_time(lo)} to {_time(hi)} at {measured['clock_hz'] / 1e6:g} MHz "
            f"(CPI {measured['cpi'][0]:g}-{measured['cpi'][1]:g}); duty cycle {100 * measured['duty_cycle'][0]:.1f}-"
            f"{100 * measured['duty_cycle'][1]:.1f} % of the {measured['hop_s']:g} s hop; arena used "
            f"{measured['arena_used_bytes']:,} B"
        )
        if measured["per_op"]:
            lines.append("  per op: " + ", ".join(f"{o['op']} {_kilo(o['instructions'])}" for o in measured["per_op"]))
    elif measured:
        lines.append(f"measured for {board['name']}: not available ({measured['reason']})")
    if est.get("available"):
        lo, hi = est["seconds"]
        lines.append(
            f"cost-model estimate on {board['name']}: {_kilo(est['instructions'])} instructions "
            f"({est['kernels']} kernels) -> "
            f"{_time(lo)} to {_time(hi)} per inference; duty cycle {100 * est['duty_cycle'][0]:.1f}-"
            f"{100 * est['duty_cycle'][1]:.1f} % of the {est['hop_s']:g} s hop"
            + ("" if est["keeps_up"] else "  (too slow for the hop)")
        )
        lines.append("assumptions (an estimate, not a measurement):")
        lines.extend(f"  - {a}" for a in est["assumptions"])
    elif est:
        lines.append(f"estimate on {board['name']}: not available ({est['reason']})")
    return "\n".join(lines)
