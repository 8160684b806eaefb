"""The parity ladder: float Keras vs int8 LiteRT vs int8 TFLM, its report files, gates and CLI."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers.fixtures import copy_compact_run

from edgekit.artifacts import MANIFEST, MODEL_TFLITE, PARITY_JSON, PARITY_MD, update_manifest, write_bytes_atomic
from edgekit.cli import main
from edgekit.contract import Contract
from edgekit.errors import EdgekitError, GateFailed
from edgekit.parity import apply_gates, check_gates, run_parity

pytestmark = pytest.mark.slow  # the parity CLI runs the board rungs: the TFLM runtime library and QEMU


def copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


@pytest.fixture(scope="module")
def quantized(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private copy of the committed compact run (trained on synthetic data and quantized)."""
    return copy_compact_run(tmp_path_factory.mktemp("parity") / "run")


@pytest.fixture(scope="module")
def cli_result(quantized: Path):
    """The default gates: at most 1 pp int8 drop, LiteRT and TFLM within one int8 step."""
    return CliRunner().invoke(main, ["parity", str(quantized), "--json"])


def assert_runtimes_agree(report: dict) -> None:
    """LiteRT vs TFLM: identical, or a handful of windows one int8 step apart at a known op."""
    runtime = report["pairs"]["litert->tflm"]
    differ = runtime["int8_windows_differ"]
    assert differ <= 0.01 * report["n_test"] and runtime["int8_max_step_diff"] <= 1, runtime
    assert len(runtime["first_divergence"]) == min(differ, 5)
    assert {d["op"] for d in runtime["first_divergence"]} <= {"FULLY_CONNECTED", "SOFTMAX"}
    assert all(d["max_step"] == 1 for d in runtime["first_divergence"])
    assert runtime["top1_agreement"] >= 0.99
    gates = report["gates"]
    assert gates["int8_step"] == {"value": runtime["int8_max_step_diff"], "threshold": 1, "passed": True}
    assert gates["bit_exact"]["value"] == differ
    assert gates["bit_exact"]["passed"] == (differ == 0 or not gates["bit_exact"]["required"])


def test_parity_cli_passes_and_prints_the_json_it_wrote(quantized: Path, cli_result):
    assert cli_result.exit_code == 0, cli_result.output + cli_result.stderr
    printed = json.loads(cli_result.stdout)
    assert printed == json.loads((quantized / PARITY_JSON).read_text())
    assert printed["passed"] is True


def test_each_rung_agrees_within_the_gates(quantized: Path, cli_result):
    report = json.loads((quantized / PARITY_JSON).read_text())
    n, classes = report["n_test"], report["classes"]
    assert n == json.loads((quantized / MANIFEST).read_text())["training"]["test_windows"] > 100
    for rung in ("float", "litert", "tflm"):
        metrics = report["rungs"][rung]
        assert sum(map(sum, metrics["confusion"])) == n
        assert list(metrics["f1"]) == classes
        assert metrics["accuracy"] > 0.5, "the synthetic model must have learned something"
    for step in ("float->litert", "float->tflm"):
        assert report["pairs"][step]["accuracy_drop_pp"] <= 1.0
        assert report["pairs"][step]["top1_agreement"] >= 0.97
        assert 0 < report["pairs"][step]["prob_abs_diff_max"] < 0.25
        assert set(report["pairs"][step]["f1_change"]) == set(classes)
    assert_runtimes_agree(report)
    assert report["runtimes"]["litert"]["resolver"] == "BUILTIN_WITHOUT_DEFAULT_DELEGATES"
    assert report["runtimes"]["tflm"]["package"] == "tflite-micro"
    assert report["gates"]["accuracy_drop_pp"]["passed"] and report["gates"]["bit_exact"]["required"] is False


def test_per_layer_error_names_the_worst_layers(quantized: Path, cli_result):
    layers = json.loads((quantized / PARITY_JSON).read_text())["layers"]
    assert layers["windows"] == 64
    ops = [x["op"] for x in layers["all"]]
    assert ops.count("CONV_2D") == 3 and "FULLY_CONNECTED" in ops  # the compact model's
    named = {x["layer"] for x in layers["all"]}
    assert {"conv1", "conv2", "conv3", "probs"} <= named
    worst = layers["worst"]
    scores = [x["rmse_over_scale"] for x in worst]
    assert len(worst) == 5 and scores == sorted(scores, reverse=True)
    assert all(0 < x["rmse_over_scale"] < 10 for x in worst)


def test_report_files_are_deterministic_apart_from_timing(quantized: Path, cli_result):
    first = json.loads((quantized / PARITY_JSON).read_text())
    first_md = (quantized / PARITY_MD).read_text()
    assert "| int8 TFLM |" in first_md and "## Per-class F1" in first_md and "RMSE/scale" in first_md
    assert set(first["timing"]) >= {"tflm_ms_per_inference", "litert_ms_per_inference", "total_s"}
    assert first["timing"]["tflm_ms_per_inference"] > 0
    second = run_parity(quantized, require_bit_exact=False)
    assert (quantized / PARITY_MD).read_text() == first_md
    stored = json.loads((quantized / PARITY_JSON).read_text())
    for report in (first, second, stored):
        report.pop("timing")
    assert first == second == stored


def test_bit_exact_gate_names_metric_value_and_threshold(quantized: Path, cli_result):
    report = json.loads((quantized / PARITY_JSON).read_text())
    report["pairs"]["litert->tflm"]["int8_windows_differ"] = 3
    report["pairs"]["litert->tflm"]["first_divergence"] = [
        {"window": 7, "op_index": 8, "op": "FULLY_CONNECTED", "max_step": 1}
    ]
    apply_gates(report, max_drop_pp=1.0, require_bit_exact=True)
    with pytest.raises(GateFailed) as info:
        check_gates(report)
    message = str(info.value)
    assert "\n" not in message and info.value.exit_code == 1
    assert f"differ in 3 of {report['n_test']} windows (first at FULLY_CONNECTED)" in message
    assert "allows 0" in message
    apply_gates(report, max_drop_pp=1.0, require_bit_exact=False)
    check_gates(report)  # not required: passes


def test_int8_step_gate_catches_a_runtime_that_drifts(quantized: Path, cli_result):
    """A delegate or kernel bug moves outputs by many steps: the default gate (1 step) must fail."""
    report = json.loads((quantized / PARITY_JSON).read_text())
    report["pairs"]["litert->tflm"]["int8_max_step_diff"] = 3
    report["pairs"]["litert->tflm"]["first_divergence"] = [{"window": 2, "op_index": 1, "op": "CONV_2D", "max_step": 3}]
    apply_gates(report, max_drop_pp=1.0, require_bit_exact=False)
    with pytest.raises(GateFailed) as info:
        check_gates(report)
    assert "differ by up to 3 steps (first at CONV_2D), above --max-int8-step 1" in str(info.value)
    apply_gates(report, max_drop_pp=1.0, require_bit_exact=False, max_int8_step=3)
    check_gates(report)


def test_accuracy_gate_fails_with_exit_1_after_writing_the_report(quantized: Path, tmp_path: Path):
    """An int8 model that no longer matches its float model (one class's bias pushed up) must fail."""
    from edgekit.model import load_model
    from edgekit.quantize import inspect_tflite, quantization_record, quantize_model

    run = copy_run(quantized, tmp_path / "run")
    (run / PARITY_JSON).unlink(missing_ok=True)
    model = load_model(run)
    kernel, bias = model.get_layer("probs").get_weights()
    bias[0] += 50.0
    model.get_layer("probs").set_weights([kernel, bias])
    from edgekit.data.prepare import prepare_run

    prepared = prepare_run(run)
    tflite = quantize_model(model, prepared.x_train[:100])
    write_bytes_atomic(run / MODEL_TFLITE, tflite)
    contract = Contract.from_dict(json.loads((run / MANIFEST).read_text())["contract"])
    contract.quant = quantization_record(tflite, inspect_tflite(tflite), None)
    update_manifest(run, contract=contract.to_dict())

    args = ["parity", str(run), "--layer-windows", "0", "--board-windows", "16"]
    result = CliRunner().invoke(main, args, env={"EDGEKIT_QUIET": "1"})  # stderr: the error line alone
    assert result.exit_code == 1, result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: parity: accuracy drop float -> int8 TFLM is ")
    assert "above --max-drop 1.00 pp" in lines[0] and str(run / PARITY_JSON) in lines[0]
    report = json.loads((run / PARITY_JSON).read_text())
    assert report["passed"] is False and report["gates"]["accuracy_drop_pp"]["value"] > 20
    assert "gates:" in result.stdout and "FAILED" in result.stdout


def _one_line_error(result) -> str:
    assert result.exit_code == 2, result.output + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    "damage, message",
    [
        ("missing", "int8 model not found; run 'edgekit quantize"),
        ("truncated", "not a loadable TFLite model"),
        ("garbage", "not a TensorFlow Lite flatbuffer"),
        ("float", "input tensor is float32, not int8"),
        ("replaced", "does not match the manifest"),
    ],
)
def test_parity_rejects_a_bad_int8_model_with_one_line(quantized: Path, tmp_path: Path, damage: str, message: str):
    run = copy_run(quantized, tmp_path / "run")
    path = run / MODEL_TFLITE
    data = path.read_bytes()
    if damage == "missing":
        path.unlink()
    elif damage == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif damage == "garbage":
        path.write_bytes(b"\x00" * 4096)
    elif damage == "float":
        from helpers.models import float_input_model

        path.write_bytes(float_input_model())
    elif damage == "replaced":
        path.write_bytes(_other_int8_model(run))
    for stale in (PARITY_JSON, PARITY_MD):
        (run / stale).unlink(missing_ok=True)
    line = _one_line_error(CliRunner().invoke(main, ["parity", str(run)]))
    assert message in line and str(path) in line
    assert not (run / PARITY_JSON).exists() and not (run / PARITY_MD).exists()


def _other_int8_model(run: Path) -> bytes:
    """A valid int8 model of the right shape that is not the one recorded in the manifest."""
    from edgekit.data.prepare import prepare_run
    from edgekit.model import load_model
    from edgekit.quantize import quantize_model

    return quantize_model(load_model(run), prepare_run(run).x_train[:20])


def test_parity_options_are_validated(quantized: Path):
    """The CLI refuses the number before any work (a click usage error, exit 2); the API checks it again."""
    result = CliRunner().invoke(main, ["parity", str(quantized), "--max-drop", "-1"])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--max-drop': -1.0 is not in the range 0<=x<=100" in result.stderr
    with pytest.raises(EdgekitError, match=r"--max-drop -1\.0: must be a non-negative number"):
        run_parity(quantized, -1.0)
    result = CliRunner().invoke(main, ["parity", "--help"])
    assert "Example:" in result.output and "edgekit parity runs/demo" in result.output
