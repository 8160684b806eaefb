"""Full-integer post-training quantization of a run's float model (``edgekit quantize``).

The firmware runs TFLM with int8 input and output tensors and only int8 kernels, so the export is
full-integer (``TFLITE_BUILTINS_INT8``, int8 in/out), calibrated on a class-stratified, seeded sample
of the *training* windows (never test users: their statistics must not leak into the scales).

The export uses a static batch of 1. With a dynamic batch the converter keeps the batch size as a
runtime value and adds SHAPE, STRIDED_SLICE and PACK ops to rebuild the Reshape target on every
inference; on a board they cost flash, op-resolver slots and time for nothing. Rebuilding the model
with ``keras.models.clone_model`` on a ``(1, F)`` input and copying the weights works for any Keras
model without knowing its architecture (a ``tf.function`` with a fixed TensorSpec does not: Keras 3
resource variables break the converter's calibration of concrete functions).

Same model + same representative set -> byte-identical ``.tflite``: the converter is deterministic
and every name in the flatbuffer comes from the saved model's layer names, which cloning keeps.
"""

from __future__ import annotations

from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import numpy as np

from . import artifacts, progress, tfenv
from .artifacts import MODEL_KERAS, MODEL_TFLITE
from .contract import Contract, Quantization
from .desktop_arena import measure_arena, recorded_arena_total
from .errors import EdgekitError
from .run import Run
from .runtimes import TfliteInfo, capture_c_output, inspect_tflite

DEFAULT_REPRESENTATIVE = 300
FORBIDDEN_OPS = ("SHAPE", "STRIDED_SLICE", "PACK")


def representative_indices(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` windows, stratified by class (largest-remainder shares), seeded.

    Stratifying keeps rare classes (e.g. stairs) in calibration, so their activation ranges are not
    clipped by scales fitted mostly on walking. Every present class gets at least one window when
    ``n`` allows it.
    """
    y = np.asarray(y)
    if n < 1:
        raise EdgekitError(f"--representative {n}: must be at least 1")
    if n >= len(y):
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    quota = _largest_remainder(counts, n)
    rng = np.random.default_rng(seed)
    chosen = [
        rng.choice(np.flatnonzero(y == c), size=k, replace=False) for c, k in zip(classes, quota, strict=True) if k
    ]
    return np.sort(np.concatenate(chosen))


def _largest_remainder(counts: np.ndarray, n: int) -> np.ndarray:
    """Integer shares of ``n`` proportional to ``counts``, at least 1 each when n >= len(counts)."""
    exact = counts / counts.sum() * n
    quota = np.floor(exact).astype(int)
    if n >= len(counts):
        quota = np.maximum(quota, 1)
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    i = 0
    while quota.sum() < n:
        k = order[i % len(order)]
        if quota[k] < counts[k]:
            quota[k] += 1
        i += 1
    while quota.sum() > n:  # minimum-1 rule overshot: take back from the biggest shares
        quota[np.argmax(quota)] -= 1
    return np.minimum(quota, counts)


def batch1_model(model: Any) -> Any:
    """The same network on a static ``(1, F)`` input, sharing nothing but copied weights."""
    keras = tfenv.keras()
    if len(model.inputs) != 1:
        raise EdgekitError(f"model: has {len(model.inputs)} inputs; edgekit quantizes single-input models")
    shape = tuple(model.inputs[0].shape)
    if len(shape) != 2 or shape[1] is None:
        raise EdgekitError(f"model: input shape {shape} is not a flat (batch, features) vector; use edgekit.model")
    name = model.layers[0].name if model.layers else "window"
    clone = keras.models.clone_model(model, input_tensors=keras.Input(batch_shape=(1, shape[1]), name=name))
    clone.set_weights(model.get_weights())
    return clone


def make_converter(model: Any, rep_x: np.ndarray) -> Any:
    """A TFLite converter set up for edgekit's full-integer export (also used by the parity debugger)."""
    tf = tfenv.tensorflow()
    rep_x = _check_rep(rep_x, model)
    converter = tf.lite.TFLiteConverter.from_keras_model(batch1_model(model))
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8

    def representative():
        for i in range(rep_x.shape[0]):
            yield [rep_x[i : i + 1]]

    converter.representative_dataset = representative
    return converter


def _check_rep(rep_x: np.ndarray, model: Any) -> np.ndarray:
    rep_x = np.asarray(rep_x, dtype=np.float32)
    features = model.inputs[0].shape[-1]
    if rep_x.ndim != 2 or rep_x.shape[0] < 1 or rep_x.shape[1] != features:
        raise EdgekitError(
            f"representative set: shape {list(rep_x.shape)} does not match the model input (n, {features})"
        )
    if not np.all(np.isfinite(rep_x)):
        raise EdgekitError("representative set: contains NaN or infinite values; check the training data")
    return np.ascontiguousarray(rep_x)


def quantize_model(model: Any, rep_x: np.ndarray) -> bytes:
    """Convert a float Keras model to a full-integer int8 ``.tflite`` (static batch 1).

    The converter's own chatter (SavedModel paths, absl logs) is captured and shown only in the
    error when conversion fails.
    """
    converter = make_converter(model, rep_x)
    log = None
    try:
        with capture_c_output() as log:
            tflite = converter.convert()
    except Exception as exc:  # the converter raises many types (ConverterError, RuntimeError, ValueError)
        detail = _last_line(str(exc)) or _last_line(log.getvalue() if log else "")
        raise EdgekitError(f"model: TFLite int8 conversion failed ({detail}); check the model's layers") from None
    ops = inspect_tflite(tflite, "converted model").ops_in_order
    extra = [op for op in FORBIDDEN_OPS if op in ops]
    if extra:  # pragma: no cover - guards the batch-1 export against converter changes
        raise EdgekitError(f"model: int8 export still contains {', '.join(extra)}; the batch-1 rebuild failed")
    return tflite


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:200] if lines else ""


def quantization_record(tflite: bytes, info: TfliteInfo, arena_bytes: int | None) -> Quantization:
    """The contract's ``quant`` section. ``ops`` is the sorted unique list the op resolver needs."""
    return Quantization(
        input_scale=info.input.scale,
        input_zero_point=info.input.zero_point,
        output_scale=info.output.scale,
        output_zero_point=info.output.zero_point,
        input_shape=info.input.shape,
        output_shape=info.output.shape,
        ops=info.ops,
        arena_bytes=arena_bytes,
        tflite_bytes=len(tflite),
        tflite_sha256=artifacts.sha256_bytes(tflite),
    )


def check_against_contract(info: TfliteInfo, contract: Contract, source: str) -> None:
    """The model's tensors must be the shapes the contract's window and labels imply."""
    want_in, want_out = [1, contract.n_features], [1, len(contract.labels)]
    if info.input.shape != want_in or info.output.shape != want_out:
        raise EdgekitError(
            f"{source}: tensors {info.input.shape} -> {info.output.shape} do not match the run's contract "
            f"{want_in} -> {want_out}; re-run 'edgekit quantize'"
        )


def quantize_run(run: Run | Path, representative: int = DEFAULT_REPRESENTATIVE, seed: int = 0) -> Quantization:
    """Quantize a trained run: write ``model_int8.tflite`` and record it in the manifest's contract.

    ``run`` may be an open :class:`Run` (``build`` passes its own, so the windows are read once).
    """
    from .model import load_model

    run = Run.of(run)
    run_dir = run.path
    if not (run_dir / MODEL_KERAS).is_file():
        raise EdgekitError(f"{run_dir}: no {MODEL_KERAS} in the artifact folder; run 'edgekit train --out {run_dir}'")
    if representative < 1:
        raise EdgekitError(f"--representative {representative}: must be at least 1")
    contract = replace(run.contract)  # a copy: its quant is filled in below
    with progress.step("loading model and training windows"):
        model = load_model(run_dir)
        prepared = run.prepared()
    idx = representative_indices(prepared.y_train, representative, seed)
    with progress.step(f"quantizing to int8 (calibrating on {len(idx)} training windows)"):
        tflite = quantize_model(model, prepared.x_train[idx])
    info = inspect_tflite(tflite, MODEL_TFLITE)
    check_against_contract(info, contract, MODEL_TFLITE)
    with progress.step("measuring the TFLM tensor arena"):
        recorded = recorded_arena_total(tflite)
        arena = measure_arena(tflite, recorded)
    quant = quantization_record(tflite, info, arena)
    artifacts.write_bytes_atomic(run_dir / MODEL_TFLITE, tflite)
    contract.quant = quant
    artifacts.update_manifest(
        run_dir,
        contract=contract.to_dict(),
        quantize={
            "representative": int(len(idx)),
            "representative_requested": int(representative),
            "representative_per_class": _per_class(prepared.y_train[idx], contract.labels),
            "seed": int(seed),
            "source": "training windows (stratified by class)",
            "ops_in_order": info.ops_in_order,
            "arena": {
                "required_bytes": arena,
                "recorded_total_bytes": recorded,
                "how": "smallest 16-byte multiple with which the host TFLM interpreter prepares and runs the model",
            },
            "file": MODEL_TFLITE,
        },
    )
    run.reload()
    return quant


def _per_class(y: np.ndarray, labels: list[str]) -> dict[str, int]:
    return {label: int(np.sum(y == i)) for i, label in enumerate(labels)}


def load_quantized(run_dir: Path) -> tuple[bytes, TfliteInfo, Contract]:
    """A run's int8 model, validated and checked against the manifest it was recorded in."""
    run_dir = Path(run_dir)
    manifest = artifacts.load_manifest(run_dir)
    contract = Contract.from_dict(manifest["contract"])
    path = run_dir / MODEL_TFLITE
    if not path.is_file():
        raise EdgekitError(f"{path}: int8 model not found; run 'edgekit quantize {run_dir}' first")
    tflite = path.read_bytes()
    info = inspect_tflite(tflite, str(path))
    check_against_contract(info, contract, str(path))
    quant = contract.quant
    if quant is None or not quant.tflite_sha256:
        raise EdgekitError(
            f"{path}: the manifest has no record of this int8 model (copied in?); run 'edgekit quantize {run_dir}'"
        )
    if quant.tflite_sha256 != artifacts.sha256_bytes(tflite):
        raise EdgekitError(
            f"{path}: does not match the manifest (sha256 differs: the file was replaced); "
            f"re-run 'edgekit quantize {run_dir}'"
        )
    return tflite, info, contract


def describe(quant: Quantization) -> str:
    """A short human summary of the export, as the CLI prints it."""
    q = asdict(quant)
    return "\n".join(
        [
            f"int8 model   {q['tflite_bytes']} bytes  sha256 {q['tflite_sha256'][:16]}",
            f"input        int8{q['input_shape']}  scale {q['input_scale']:.6g}  zero point {q['input_zero_point']}",
            f"output       int8{q['output_shape']}  scale {q['output_scale']:.6g}  zero point {q['output_zero_point']}",
            f"ops          {', '.join(q['ops'])}",
            f"TFLM arena   {q['arena_bytes']} bytes (measured on this host)",
        ]
    )
