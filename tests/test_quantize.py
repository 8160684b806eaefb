"""int8 export: static batch 1, determinism, the input rounding rule, arena, bad files, the quantize CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from helpers.models import float_input_model

from edgekit.artifacts import MANIFEST, MODEL_KERAS, MODEL_TFLITE, sha256_file
from edgekit.cli import main
from edgekit.desktop_arena import arena_fits, measure_arena, recorded_arena_total
from edgekit.errors import EdgekitError
from edgekit.quantize import FORBIDDEN_OPS, quantize_model, quantize_run, representative_indices
from edgekit.runtimes import LiteRTRunner, TFLMRunner, inspect_tflite, quantize_input, read_ops

WINDOW, AXES, CLASSES = 16, 3, 3


def learnable_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Three classes told apart by oscillation frequency, as flat (n, 48) windows."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, CLASSES, n)
    t = np.arange(WINDOW)[None, :, None]
    freq = (0.5 + y)[:, None, None] * 2 * np.pi / WINDOW
    x = np.sin(freq * t + rng.uniform(0, 2 * np.pi, (n, 1, AXES))) + 0.3 * rng.normal(size=(n, WINDOW, AXES))
    return x.reshape(n, -1).astype(np.float32), y


@pytest.fixture(scope="module")
def tiny():
    """A small conv net trained for a few epochs: (model, x_train, y_train, x_test, y_test, int8 bytes)."""
    return train_tiny()


def train_tiny():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(WINDOW * AXES,), name="window")
    h = keras.layers.Reshape((WINDOW, AXES))(inputs)
    h = keras.layers.Conv1D(16, 4, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    outputs = keras.layers.Dense(CLASSES, activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile(keras.optimizers.Adam(0.01), "sparse_categorical_crossentropy", metrics=["accuracy"])
    x, y = learnable_data(600, seed=1)
    model.fit(x, y, epochs=20, batch_size=64, verbose=0)
    x_test, y_test = learnable_data(200, seed=2)
    rep = x[representative_indices(y, 100, seed=0)]
    return model, x, y, x_test, y_test, quantize_model(model, rep)


@pytest.mark.slow  # trains the tiny model
def test_export_is_int8_static_batch_without_shape_ops(tiny):
    model, *_, tflite = tiny
    info = inspect_tflite(tflite)
    assert info.input.dtype == info.output.dtype == "int8"
    assert info.input.shape == [1, WINDOW * AXES] and info.output.shape == [1, CLASSES]
    assert not set(FORBIDDEN_OPS) & set(info.ops_in_order), info.ops_in_order
    assert info.ops == sorted(set(info.ops_in_order)) and "CONV_2D" in info.ops
    # The ops come from the flatbuffer; LiteRT's own view of the graph must agree.
    litert_ops = [op["op_name"] for op in LiteRTRunner(tflite)._interpreter._get_ops_details()]
    assert litert_ops == info.ops_in_order


@pytest.mark.slow  # trains the tiny model
def test_dynamic_batch_export_would_add_shape_ops(tiny):
    """Guards the test above: the plain converter on a (None, F) model really adds SHAPE/STRIDED_SLICE/PACK."""
    import tensorflow as tf

    model, x, *_ = tiny
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[i : i + 1]] for i in range(10))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = converter.inference_output_type = tf.int8
    assert set(FORBIDDEN_OPS) <= set(read_ops(converter.convert()))


@pytest.mark.slow  # trains the tiny model
def test_same_model_and_representative_set_give_identical_bytes(tiny):
    model, x, y, *_, tflite = tiny
    assert quantize_model(model, x[representative_indices(y, 100, seed=0)]) == tflite
    assert quantize_model(model, x[representative_indices(y, 100, seed=1)]) != tflite


def test_representative_set_is_stratified_and_seeded():
    y = np.repeat(np.arange(4), [500, 300, 150, 50])
    idx = representative_indices(y, 100, seed=0)
    assert len(idx) == 100 and len(set(idx)) == 100 and np.all(np.diff(idx) > 0)
    assert np.bincount(y[idx], minlength=4).tolist() == [50, 30, 15, 5]
    assert np.array_equal(idx, representative_indices(y, 100, seed=0))
    assert not np.array_equal(idx, representative_indices(y, 100, seed=1))
    rare = representative_indices(np.array([0] * 97 + [1, 2, 3]), 4, seed=0)
    assert sorted(np.array([0] * 97 + [1, 2, 3])[rare].tolist()) == [0, 1, 2, 3]
    assert np.array_equal(representative_indices(y, 5000), np.arange(len(y)))
    with pytest.raises(EdgekitError, match="--representative 0"):
        representative_indices(y, 0)


def test_input_quantization_matches_the_tflm_quantize_kernel():
    """quantize_input must equal TFLM's own QUANTIZE op, ties included (numpy's round-half-even does not)."""
    from tflite_micro.python.tflite_micro import runtime as tflm

    tflite = float_input_model()
    assert read_ops(tflite)[0] == "QUANTIZE"
    interpreter = tflm.Interpreter.from_bytes(tflite, intrepreter_config=tflm.InterpreterConfig.kPreserveAllTensors)
    graph = tflm.convert_bytearray_to_object(bytearray(tflite)).subgraphs[0]
    q_index = graph.operators[0].outputs[0]
    scale = float(graph.tensors[q_index].quantization.scale[0])
    zero_point = int(graph.tensors[q_index].quantization.zeroPoint[0])
    ties = ((np.arange(-160, 160) + 0.5) * np.float32(scale)).astype(np.float32)
    x = np.concatenate([ties, np.random.default_rng(0).uniform(-6, 6, 640).astype(np.float32)]).reshape(-1, 64)
    ours = quantize_input(x, scale, zero_point)
    theirs = np.empty_like(ours)
    for i, row in enumerate(x):
        interpreter.set_input(row[None], 0)
        interpreter.invoke()
        theirs[i] = np.asarray(interpreter.GetTensor(q_index, 0)["tensor_data"]).reshape(-1)
    assert np.array_equal(ours, theirs)
    half_even = np.clip(np.round(x / np.float32(scale)) + zero_point, -128, 127).astype(np.int8)
    assert (half_even != theirs).sum() > 50, "the test must exercise exact ties"
    assert quantize_input(np.array([[1e6, -1e6]]), scale, zero_point).tolist() == [[127, -128]]


@pytest.mark.slow  # trains the tiny model
def test_litert_and_tflm_differ_at_most_by_rounding_ties(tiny):
    """LiteRT (no delegates) and TFLM are not always bit-exact: LiteRT requantizes FULLY_CONNECTED with a
    single rounding, TFLM with two, so now and then a window differs by one int8 step, first in
    FULLY_CONNECTED (or SOFTMAX right after it). This pins that the difference stays that small and
    that first_divergence names the op."""
    from edgekit.runtimes import first_divergence

    model, *_, x_test, y_test, tflite = tiny
    info = inspect_tflite(tflite)
    xq = quantize_input(x_test, info.input.scale, info.input.zero_point)
    lite, micro = LiteRTRunner(tflite).run(xq), TFLMRunner(tflite).run(xq)
    assert lite.dtype == np.int8 and lite.shape == (len(y_test), CLASSES)
    steps = np.abs(lite.astype(int) - micro.astype(int))
    differ = np.flatnonzero(steps.max(axis=1))
    assert steps.max() <= 1 and len(differ) <= 0.03 * len(y_test)
    found = first_divergence(tflite, xq[differ])
    assert all(d["op"] in ("FULLY_CONNECTED", "SOFTMAX") and d["max_step"] == 1 for d in found), found
    same = np.setdiff1d(np.arange(len(y_test)), differ)[:3]
    assert first_divergence(tflite, xq[same]) == [{"op_index": None, "op": None, "max_step": 0}] * 3


@pytest.mark.slow  # trains the tiny model
def test_tiny_model_learns_and_int8_keeps_its_accuracy(tiny):
    model, *_, x_test, y_test, tflite = tiny
    info = inspect_tflite(tflite)
    micro = TFLMRunner(tflite).run(quantize_input(x_test, info.input.scale, info.input.zero_point))
    float_acc = (model.predict(x_test, verbose=0).argmax(1) == y_test).mean()
    assert float_acc > 0.8, "the tiny model must actually learn, or parity is vacuous"
    assert abs((micro.argmax(1) == y_test).mean() - float_acc) <= 0.03
    assert LiteRTRunner(tflite).describe()["resolver"] == "BUILTIN_WITHOUT_DEFAULT_DELEGATES"


@pytest.mark.slow  # trains the tiny model
def test_measured_arena_is_the_smallest_that_runs(tiny):
    tflite = tiny[-1]
    arena = measure_arena(tflite)
    assert arena > 0 and arena % 16 == 0
    assert arena_fits(tflite, arena) and not arena_fits(tflite, arena - 16)
    assert recorded_arena_total(tflite) > 0
    assert measure_arena(tflite) == arena


def test_a_model_that_crashes_tflm_at_a_small_arena_is_still_measured():
    """Desktop TFLM dies with SIGSEGV (not an error) preparing this valid graph in 4,096 bytes.

    Before the probes ran in a helper process, the bisection took the whole process down with it
    (the tune rejected such candidates as "not deployable", and ``edgekit build`` crashed).
    """
    from edgekit.modelspec import build_keras
    from edgekit.profile import _export_in_memory
    from edgekit.tune.space import spec_from_params

    params = {"blocks": 3, "dense": 32, "dropout": 0.25, "recipe": "robust"}
    for i, (filters, kernel, pool) in enumerate([(8, 10, "avg2"), (96, 5, "max2"), (32, 7, "avg2")], 1):
        params |= {f"filters_{i}": filters, f"kernel_{i}": kernel, f"pool_{i}": pool}
    tflite = _export_in_memory(build_keras(spec_from_params(params), 80, 3, 6))
    arena = measure_arena(tflite)
    assert arena % 16 == 0 and arena_fits(tflite, arena) and not arena_fits(tflite, arena - 16)
    assert not arena_fits(tflite, 4096)
    micro = TFLMRunner(tflite, arena_size=arena)  # and the interpreter runs in the measured arena
    assert micro.run(np.zeros((2, 240), dtype=np.int8)).shape == (2, 6)


@pytest.mark.parametrize(
    "case, message",
    [
        ("empty", "file is empty"),
        ("text", "not a TensorFlow Lite flatbuffer"),
        ("truncated", "not a loadable TFLite model"),
        ("corrupt", "not a loadable TFLite model"),
        ("float", "input tensor is float32, not int8"),
    ],
)
@pytest.mark.slow  # trains the tiny model
def test_bad_tflite_is_one_clear_error(tiny, case, message):
    tflite = tiny[-1]
    data = {
        "empty": b"",
        "text": b"this is not a model\n" * 10,
        "truncated": tflite[: len(tflite) // 2],
        "corrupt": b"\xff\xff\xff\x7f" + tflite[4:],  # root table offset points past the end
        "float": float_input_model() if case == "float" else b"",
    }[case]
    with pytest.raises(EdgekitError, match=message) as info:
        inspect_tflite(data, "bad.tflite")
    assert "\n" not in str(info.value) and str(info.value).startswith("bad.tflite: ")


# --------------------------------------------------------------------------- on a trained run


@pytest.fixture(scope="module")
def quantized_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed compact run as 'edgekit train' left it, quantized here through the CLI."""
    from helpers.fixtures import copy_compact_run

    run = copy_compact_run(tmp_path_factory.mktemp("quantize") / "run", quantized=False)
    result = CliRunner().invoke(main, ["quantize", str(run)])
    assert result.exit_code == 0, result.output
    assert "TFLM arena" in result.output
    return run


def test_quantize_run_records_the_contract(quantized_run: Path):
    manifest = json.loads((quantized_run / MANIFEST).read_text())
    quant = manifest["contract"]["quant"]
    tflite = (quantized_run / MODEL_TFLITE).read_bytes()
    assert quant["tflite_sha256"] == sha256_file(quantized_run / MODEL_TFLITE)
    assert quant["tflite_bytes"] == len(tflite)
    assert quant["input_shape"] == [1, 240] and quant["output_shape"] == [1, 6]
    assert quant["ops"] == sorted(set(manifest["quantize"]["ops_in_order"]))
    assert set(quant["ops"]) == {"CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "MEAN", "RESHAPE", "SOFTMAX"}
    assert quant["arena_bytes"] == measure_arena(tflite) > 0
    info = inspect_tflite(tflite)
    assert (quant["input_scale"], quant["input_zero_point"]) == (info.input.scale, info.input.zero_point)
    assert quant["output_zero_point"] == -128 and quant["output_scale"] == pytest.approx(1 / 256)
    section = manifest["quantize"]
    assert section["representative"] == 300 and section["seed"] == 0
    assert sum(section["representative_per_class"].values()) == 300
    assert min(section["representative_per_class"].values()) > 0


def test_quantize_run_is_repeatable(quantized_run: Path):
    before = sha256_file(quantized_run / MODEL_TFLITE)
    quant = quantize_run(quantized_run, representative=300, seed=0)
    assert quant.tflite_sha256 == before == sha256_file(quantized_run / MODEL_TFLITE)
    assert not list(quantized_run.glob(".*.tmp")), "atomic writes leave no temporary files"


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), result.stderr
    return lines[0]


def test_quantize_cli_rejects_a_folder_without_a_model(quantized_run: Path, tmp_path: Path):
    run = tmp_path / "no-model"
    run.mkdir()
    shutil.copy(quantized_run / MANIFEST, run / MANIFEST)
    line = _one_line_error(CliRunner().invoke(main, ["quantize", str(run)]))
    assert f"no {MODEL_KERAS}" in line and "edgekit train" in line
    line = _one_line_error(CliRunner().invoke(main, ["quantize", str(tmp_path / "missing")]))
    assert "artifact folder not found" in line


def test_quantize_cli_help_has_an_example():
    result = CliRunner().invoke(main, ["quantize", "--help"])
    assert result.exit_code == 0 and "Example:" in result.output and "edgekit quantize runs/demo" in result.output


@pytest.mark.slow  # trains
def test_a_relative_data_path_is_found_from_another_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """Issue 12 item 22: 'train --data w.npz' in one folder, 'quantize' from another still finds the data."""
    from edgekit.train import TrainConfig, train_run

    rng = np.random.default_rng(0)
    y = np.tile(np.arange(6), 40)
    X = (rng.normal(size=(240, 80, 3)) + y[:, None, None] * 0.8).astype(np.float32)
    subject = np.repeat(np.arange(1, 13), 20)
    (tmp_path / "data").mkdir()
    np.savez(tmp_path / "data" / "w.npz", X=X, y=y, subject=subject, classes=np.array(list("abcdef")))
    monkeypatch.chdir(tmp_path / "data")
    train_run("w.npz", tmp_path / "run", TrainConfig(epochs=1, min_epochs=1, batch_size=64), seed=0)
    spec = json.loads((tmp_path / "run" / MANIFEST).read_text())["data"]["spec"]
    assert spec == str(tmp_path / "data" / "w.npz")
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    result = CliRunner().invoke(main, ["quantize", str(tmp_path / "run"), "--representative", "20"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run" / MODEL_TFLITE).is_file()
