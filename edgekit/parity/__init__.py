"""The parity ladder (``edgekit parity``): float Keras -> int8 LiteRT -> int8 TFLM on held-out users.

Each rung is scored on the same held-out test windows and each step down the ladder is compared
with the one above, so a failure points at its cause: float -> LiteRT is the cost of quantization,
LiteRT -> TFLM is a runtime difference (TFLM is what the board runs; the two differ only where
LiteRT rounds a requantization once and TFLM twice, see :func:`apply_gates`). Both int8 runtimes
get the same int8 inputs, made by :func:`edgekit.runtimes.quantize_input` with the rule the firmware
uses.

Per-layer quantization error comes from ``tf.lite.experimental.QuantizationDebugger`` on a small,
evenly spaced subset of the test windows, calibrated with the same representative set as the export;
layers are ranked by RMSE/scale (error in units of one quantization step), as TensorFlow's guide does.

``parity.json`` is deterministic (sorted keys, rounded floats) except its ``"timing"`` section.
"""

from __future__ import annotations

import io
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import artifacts, progress, tfenv
from ..artifacts import PARITY_JSON, PARITY_MD
from ..boards import TflmRuntime
from ..errors import EdgekitError, GateFailed
from ..run import Run
from ..runtime.rungs import BoardRungPlan
from ..runtimes import (
    LiteRTRunner,
    TfliteInfo,
    TFLMRunner,
    dequantize,
    first_divergence,
    quantize_input,
    read_ops,
    tflm_op_outputs,
)
from .markdown import PAIRS, RUNG_TITLES, RUNGS, board_lines, format_table, render_markdown

DEFAULT_LAYER_WINDOWS = 64
WORST_LAYERS = 5
DIVERGENCE_WINDOWS = 5
DIGITS = 6
DEFAULT_MAX_INT8_STEP = 1


def _r(value: float) -> float:
    """Round reported floats so tiny float-order noise cannot change parity.json's bytes."""
    return round(float(value), DIGITS)


# --------------------------------------------------------------------------- metrics


def rung_metrics(probs: np.ndarray, y: np.ndarray, classes: list[str]) -> dict[str, Any]:
    """Accuracy, per-class and macro F1 and the confusion matrix of one rung (scikit-learn)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    labels = list(range(len(classes)))
    pred = probs.argmax(axis=1)
    f1 = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    return {
        "accuracy": _r(accuracy_score(y, pred)),
        "macro_f1": _r(np.mean(f1)),
        "f1": {c: _r(v) for c, v in zip(classes, f1, strict=True)},
        "confusion": confusion_matrix(y, pred, labels=labels).tolist(),
    }


def pair_metrics(upper: dict[str, Any], lower: dict[str, Any], classes: list[str]) -> dict[str, Any]:
    """How rung ``lower`` differs from rung ``upper`` (each: probs, metrics, optional int8 outputs)."""
    diff = np.abs(upper["probs"].astype(np.float64) - lower["probs"].astype(np.float64))
    agree = upper["probs"].argmax(axis=1) == lower["probs"].argmax(axis=1)
    result = {
        "accuracy_drop_pp": _r(100.0 * (upper["metrics"]["accuracy"] - lower["metrics"]["accuracy"])),
        "top1_agreement": _r(agree.mean()),
        "top1_disagreements": int((~agree).sum()),
        "f1_change": {c: _r(lower["metrics"]["f1"][c] - upper["metrics"]["f1"][c]) for c in classes},
        "macro_f1_change": _r(lower["metrics"]["macro_f1"] - upper["metrics"]["macro_f1"]),
        "prob_abs_diff_mean": _r(diff.mean()),
        "prob_abs_diff_max": _r(diff.max()),
    }
    if "int8" in upper and "int8" in lower:
        steps = np.abs(upper["int8"].astype(np.int16) - lower["int8"].astype(np.int16))
        differ = np.flatnonzero(steps.max(axis=1) > 0)
        result.update(
            int8_windows_differ=int(differ.size),
            int8_max_step_diff=int(steps.max()),
            int8_first_differing_windows=differ[:10].tolist(),
        )
    return result


# --------------------------------------------------------------------------- per-layer error


def layer_errors(model: Any, rep_x: np.ndarray, x_debug: np.ndarray) -> list[dict[str, Any]]:
    """Per-layer int8-vs-float error from TensorFlow's QuantizationDebugger, in graph order.

    ``rmse_over_scale`` is sqrt(mean_squared_error) / scale from the debugger's layer statistics:
    about 0.29 is pure rounding noise (uniform error of one step); much larger means clipping or a
    badly fitted range in that layer.
    """
    import csv

    from ..quantize import make_converter
    from ..runtimes import capture_c_output

    converter = make_converter(model, rep_x)
    x_debug = np.asarray(x_debug, dtype=np.float32)

    def dataset():
        for i in range(x_debug.shape[0]):
            yield [x_debug[i : i + 1]]

    with capture_c_output():
        debugger = tfenv.tensorflow().lite.experimental.QuantizationDebugger(converter=converter, debug_dataset=dataset)
        debugger.run()
    dump = io.StringIO()
    debugger.layer_statistics_dump(dump)
    rows = list(csv.DictReader(io.StringIO(dump.getvalue())))
    layers = []
    for row in rows:
        scale = float(row["scale"])
        rmse = float(np.sqrt(float(row["mean_squared_error"])))
        layers.append(
            {
                "op": row["op_name"],
                "layer": _layer_name(row["tensor_name"]),
                "tensor": row["tensor_name"],
                "tensor_index": int(row["tensor_idx"]),
                "rmse": _r(rmse),
                "scale": _r(scale),
                "rmse_over_scale": _r(rmse / scale) if scale > 0 else None,
                "mean_error": _r(float(row["mean_error"])),
                "max_abs_error": _r(float(row["max_abs_error"])),
            }
        )
    return layers


def _layer_name(tensor: str) -> str:
    """'seed_1/conv4_1/Relu;seed_1/conv4_1/...' -> 'conv4': the Keras layer a tensor came from."""
    first = tensor.split(";")[0]
    parts = first.split("/")
    if len(parts) == 1:  # only the graph's final tensor lives outside the model's name scope
        return "output"
    name = parts[1]
    stem, _, suffix = name.rpartition("_")
    return stem if stem and suffix.isdigit() else name


def debug_subset(n: int, k: int) -> np.ndarray:
    """``k`` evenly spaced test indices: covers every user and class without randomness."""
    if k <= 0 or n == 0:
        return np.arange(0)
    return np.unique(np.linspace(0, n - 1, min(k, n)).round().astype(int))


# --------------------------------------------------------------------------- the ladder


def parity_report(
    model: Any,
    tflite: bytes,
    info: TfliteInfo,
    x_test: np.ndarray,
    y_test: np.ndarray,
    classes: list[str],
    rep_x: np.ndarray | None = None,
    layer_windows: int = DEFAULT_LAYER_WINDOWS,
    board: BoardRungPlan | None = None,
) -> dict[str, Any]:
    """Run every test window through the rungs and compare them; no gates, no files.

    ``board`` adds the board-runtime rungs (``None``: skipped, and the report says so).
    """
    if len(y_test) == 0:
        raise EdgekitError("test set: no held-out windows to check parity on; hold out users with --test-users")
    timing: dict[str, float] = {}
    start = time.perf_counter()
    with progress.step(f"float Keras on {len(y_test)} test windows"):
        t = time.perf_counter()
        float_probs = np.asarray(model.predict(x_test, batch_size=256, verbose=0), dtype=np.float32)
        timing["float_ms_per_window_batched"] = 1000.0 * (time.perf_counter() - t) / len(y_test)
    x_int8 = quantize_input(x_test, info.input.scale, info.input.zero_point)
    litert, tflm = LiteRTRunner(tflite), TFLMRunner(tflite)
    outputs = {}
    for runner in (litert, tflm):
        with progress.step(f"{RUNG_TITLES[runner.name]} on {len(y_test)} test windows"):
            t = time.perf_counter()
            outputs[runner.name] = runner.run(x_int8)
            timing[f"{runner.name}_ms_per_inference"] = 1000.0 * (time.perf_counter() - t) / len(y_test)
    rungs: dict[str, dict[str, Any]] = {"float": {"probs": float_probs}}
    for name, q in outputs.items():
        rungs[name] = {"int8": q, "probs": dequantize(q, info.output.scale, info.output.zero_point)}
    for rung in rungs.values():
        rung["metrics"] = rung_metrics(rung["probs"], y_test, classes)

    layers: list[dict[str, Any]] = []
    subset = debug_subset(len(y_test), layer_windows if rep_x is not None else 0)
    if subset.size and rep_x is not None:  # no representative set: no debugger (subset is empty then)
        with progress.step(f"per-layer error on {subset.size} test windows (QuantizationDebugger)"):
            t = time.perf_counter()
            layers = layer_errors(model, rep_x, x_test[subset])
            timing["layer_debugger_s"] = time.perf_counter() - t
    timing["total_s"] = time.perf_counter() - start

    ranked = sorted((x for x in layers if x["rmse_over_scale"] is not None), key=lambda x: -x["rmse_over_scale"])
    pairs = {f"{a}->{b}": pair_metrics(rungs[a], rungs[b], classes) for a, b in PAIRS}
    runtime_pair = pairs["litert->tflm"]
    differing = runtime_pair["int8_first_differing_windows"][:DIVERGENCE_WINDOWS]
    runtime_pair["first_divergence"] = [
        {"window": w, **found} for w, found in zip(differing, first_divergence(tflite, x_int8[differing]), strict=True)
    ]
    t = time.perf_counter()
    board_section = _board_section(tflite, info, x_int8, outputs["tflm"], board)
    timing["board_runtime_s"] = time.perf_counter() - t
    return {
        "kind": "edgekit-parity",
        "board": board_section,
        "classes": list(classes),
        "n_test": int(len(y_test)),
        "input_quantization": {
            "scale": info.input.scale,
            "zero_point": info.input.zero_point,
            "rule": "q = clamp(round_half_away_from_zero(x / scale) + zero_point, -128, 127)",
            "saturated_fraction": _r(np.mean((x_int8 == -128) | (x_int8 == 127))),
        },
        "runtimes": {
            "float": {"name": "float", "package": "keras", "version": artifacts.versions().get("keras", "unknown")},
            "litert": litert.describe(),
            "tflm": tflm.describe(),
        },
        "rungs": {name: rungs[name]["metrics"] for name in RUNGS},
        "pairs": pairs,
        "layers": {
            "windows": int(subset.size),
            "metric": "rmse_over_scale",
            "all": layers,
            "worst": ranked[:WORST_LAYERS],
        },
        "timing": {k: round(v, 3) for k, v in sorted(timing.items())},
    }


def _board_section(
    tflite: bytes, info: TfliteInfo, x_int8: np.ndarray, desktop: np.ndarray, plan: BoardRungPlan | None
) -> dict[str, Any]:
    """The board-runtime rungs, or why they did not run."""
    from ..runtime.harness import model_interface, op_methods
    from ..runtime.rungs import prepare_board_model, run_board_rungs

    if plan is None:
        return {"runtime": {}, "rungs": {}, "skipped": "not requested"}
    interface = model_interface(tflite, info)
    model, why = prepare_board_model(tflite, interface, plan.runtime_src, op_methods(), plan.hot_kernels)
    return run_board_rungs(model, why, x_int8, desktop, read_ops(tflite), plan, lambda x: tflm_op_outputs(tflite, x))


def apply_gates(
    report: dict[str, Any],
    max_drop_pp: float,
    require_bit_exact: bool,
    max_int8_step: int = DEFAULT_MAX_INT8_STEP,
    require_board_runtime: bool = False,
) -> dict[str, Any]:
    """Add the gate verdicts to ``report``; the accuracy gate checks the worse int8 rung.

    LiteRT requantizes some kernels (FULLY_CONNECTED, 1x1 CONV_2D) with one rounding and TFLM with
    two (``SaturatingRoundingDoublingHighMul`` then ``RoundingDivideByPOT``), so on a few windows in a
    thousand their int8 outputs differ by exactly one step; no resolver setting removes it. The
    default runtime gate therefore bounds the step (a delegate or kernel bug shows up as many steps)
    and bit-exactness is an opt-in gate for models that happen to have no such ties.
    """
    if not np.isfinite(max_drop_pp) or max_drop_pp < 0:
        raise EdgekitError(f"--max-drop {max_drop_pp}: must be a non-negative number of percentage points")
    if max_int8_step < 0:
        raise EdgekitError(f"--max-int8-step {max_int8_step}: must be 0 or more int8 steps")
    drops = {b: report["pairs"][f"float->{b}"]["accuracy_drop_pp"] for b in ("litert", "tflm")}
    worst = max(drops, key=lambda k: (drops[k], k == "tflm"))
    runtime = report["pairs"]["litert->tflm"]
    differ, step = runtime["int8_windows_differ"], runtime["int8_max_step_diff"]
    report["gates"] = {
        "accuracy_drop_pp": {
            "value": drops[worst],
            "rung": worst,
            "threshold": _r(max_drop_pp),
            "passed": drops[worst] <= max_drop_pp,
        },
        "int8_step": {"value": step, "threshold": int(max_int8_step), "passed": step <= max_int8_step},
        "bit_exact": {
            "value": differ,
            "threshold": 0,
            "required": bool(require_bit_exact),
            "passed": differ == 0 or not require_bit_exact,
        },
    }
    report["gates"].update(_board_gates(report.get("board", {}), require_board_runtime))
    report["passed"] = all(g["passed"] for g in report["gates"].values())
    return report


def _board_gates(board: dict[str, Any], required: bool) -> dict[str, Any]:
    """Zero differing windows on every board rung that ran; a rung that did not run fails only if required."""
    gates = {}
    for name, rung in sorted(board.get("rungs", {}).items()):
        ran = rung.get("status") == "ran"
        differ = rung.get("windows_differ", 0) if ran else None
        gates[f"board_{name}"] = {
            "value": differ,
            "threshold": 0,
            "ran": ran,
            "reason": rung.get("reason"),
            "required": bool(required),
            "passed": (differ == 0) if ran else not required,
        }
    if required and not gates:
        gates["board_runtime"] = {
            "value": None,
            "threshold": 0,
            "ran": False,
            "required": True,
            "passed": False,
            "reason": board.get("skipped", "no board rung ran"),
        }
    return gates


def check_gates(report: dict[str, Any], where: str = PARITY_JSON) -> None:
    """Raise GateFailed with one line per the house style when a gate in ``report`` failed."""
    failures = []
    drop = report["gates"]["accuracy_drop_pp"]
    if not drop["passed"]:
        failures.append(
            f"accuracy drop float -> {RUNG_TITLES[drop['rung']]} is {drop['value']:.2f} pp, "
            f"above --max-drop {drop['threshold']:.2f} pp"
        )
    ops = sorted({d["op"] for d in report["pairs"]["litert->tflm"].get("first_divergence", []) if d["op"]})
    where_op = f" (first at {', '.join(ops)})" if ops else ""
    step = report["gates"]["int8_step"]
    if not step["passed"]:
        failures.append(
            f"int8 outputs of LiteRT and TFLM differ by up to {step['value']} steps{where_op}, "
            f"above --max-int8-step {step['threshold']}"
        )
    exact = report["gates"]["bit_exact"]
    if not exact["passed"]:
        failures.append(
            f"int8 outputs of LiteRT and TFLM differ in {exact['value']} of {report['n_test']} windows{where_op}, "
            "--require-bit-exact allows 0"
        )
    for name, gate in sorted(report["gates"].items()):
        if name.startswith("board_") and not gate["passed"]:
            failures.append(_board_failure(report, name[len("board_") :], gate))
    if failures:
        raise GateFailed(f"parity: {'; '.join(failures)}; see {where}")


def _board_failure(report: dict[str, Any], name: str, gate: dict[str, Any]) -> str:
    rung = report.get("board", {}).get("rungs", {}).get(name, {})
    title = rung.get("title", f"board runtime ({name})")
    if not gate["ran"]:
        return f"{title} did not run ({gate.get('reason')}), and --require-board-runtime is set"
    ops = sorted({d["op"] for d in rung.get("first_divergence", []) if d.get("op")})
    where = f" (first at {', '.join(ops)})" if ops else ""
    return (
        f"{title} differs from desktop TFLM in {gate['value']} of {rung['windows']} windows{where}, "
        f"up to {rung['max_step']} int8 steps; the board would not compute what was checked"
    )


def run_parity(
    run_dir: Run | Path,
    max_drop_pp: float = 1.0,
    require_bit_exact: bool = False,
    max_int8_step: int = DEFAULT_MAX_INT8_STEP,
    layer_windows: int = DEFAULT_LAYER_WINDOWS,
    enforce: bool = True,
    board: BoardRungPlan | None = None,
    require_board_runtime: bool = False,
) -> dict[str, Any]:
    """Parity of a quantized run on its held-out test users; writes parity.json and parity.md.

    Gates are checked after the files are written, so a failing run can still be inspected.
    ``enforce=False`` returns the report with failed gates instead of raising (the CLI prints the
    table first, then calls :func:`check_gates`). report.html is the caller's: the CLI and ``build``
    write it (the report sits above parity).
    """
    from ..model import load_model
    from ..quantize import DEFAULT_REPRESENTATIVE, load_quantized, representative_indices

    run = Run.of(run_dir)
    if not np.isfinite(max_drop_pp) or max_drop_pp < 0:
        raise EdgekitError(f"--max-drop {max_drop_pp}: must be a non-negative number of percentage points")
    tflite, info, contract = load_quantized(run.path)
    if board is not None and board.runtime_src is not None:
        from ..runtime.sources import locate_sources

        locate_sources(board.runtime_src)  # a wrong --runtime-src fails before anything runs
    with progress.step("loading model and test windows"):
        model = load_model(run.path)
        prepared = run.prepared()
    qsection = run.manifest.quantize
    rep_idx = representative_indices(
        prepared.y_train,
        qsection.representative_requested if qsection else DEFAULT_REPRESENTATIVE,
        qsection.seed if qsection else 0,
    )
    built = _built_runtime(run)
    plan = replace(  # build's plan is the board's own; a standalone parity uses the board the run was built for
        board or BoardRungPlan(),
        emulated=(board.emulated if board else "") or built.emulator,
        hot_kernels=board.hot_kernels if board else built.hot_kernels,
    )
    report = parity_report(
        model,
        tflite,
        info,
        prepared.x_test,
        prepared.y_test,
        contract.labels,
        rep_x=prepared.x_train[rep_idx],
        layer_windows=layer_windows,
        board=plan,
    )
    report["tflite_sha256"] = artifacts.sha256_bytes(tflite)
    report["test_users"] = sorted(int(u) for u in np.unique(prepared.subject_test))
    apply_gates(report, max_drop_pp, require_bit_exact, max_int8_step, require_board_runtime)
    artifacts.write_json_atomic(run.path / PARITY_JSON, report)
    artifacts.write_text_atomic(run.path / PARITY_MD, render_markdown(report))
    if enforce:
        check_gates(report, str(run.path / PARITY_JSON))
    return report


def _built_runtime(run: Run) -> TflmRuntime:
    """The runtime of the board the run was built for (its emulated core, its kernel optimisation);
    the Nano 33 BLE's Cortex-M4 for a run not built yet."""
    built = run.built_board()
    runtime = built.tflm if built is not None else None
    if runtime is None or runtime.emulator == "none":
        return TflmRuntime("cortex-m4", runtime.hot_kernels if runtime else "Os")
    return runtime


__all__ = [
    "PAIRS",
    "RUNGS",
    "RUNG_TITLES",
    "apply_gates",
    "board_lines",
    "check_gates",
    "format_table",
    "pair_metrics",
    "parity_report",
    "render_markdown",
    "rung_metrics",
    "run_parity",
]
