"""Firmware generation, and the generated C++ run on the desktop against edgekit's Python.

The model is the committed tiny int8 1D-CNN (tests/fixtures/firmware_model: the seed's layer types, full
int8, static batch 1) with a contract fitted on synthetic data. The harness helpers live in
tests/helpers/firmware.py, shared with tests/test_firmware_qemu.py, which runs the same harness on a
Cortex-M4F under QEMU.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
from pathlib import Path

import jinja2
import numpy as np
import pytest
from helpers.firmware import (
    MODE_MODEL,
    MODE_PREDICT,
    MODE_QUANTIZE,
    MODE_QUEUE,
    STRICT,
    STUBS,
    compile_each,
    compile_host_harness,
    imu_stream,
    model_to_board_axes,
    real_wisdm_user,
    run_harness,
    simple_payload,
    tie_and_edge_values,
    windows_payload,
)
from helpers.fixtures import FirmwareModel, firmware_model

from edgekit.boards import load_board
from edgekit.contract import Contract
from edgekit.errors import EdgekitError
from edgekit.firmware import (
    SKETCH_MANIFEST,
    board_to_model_axes,
    cmsis_scratch_bytes,
    generate_firmware,
    make_selftest,
    plan_arena,
    reference_int8_windows,
    render_capture_sketch,
    resolver_ops,
    sketch_fit,
)
from edgekit.resources import resource_dir

needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def test_model() -> FirmwareModel:
    return firmware_model()


@pytest.fixture(scope="module")
def selftest(test_model):
    windows = reference_int8_windows(test_model.stream, test_model.contract, test_model.segments)
    return make_selftest(test_model.tflite, windows[:5])


@pytest.fixture(scope="module")
def sketch(test_model, selftest, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("sketch")
    return generate_firmware(test_model.tflite, test_model.contract, "nano33", out, selftest=selftest)


@pytest.fixture(scope="module")
def host_harness(sketch, tmp_path_factory) -> list[str]:
    if shutil.which("g++") is None:
        pytest.skip("g++ not installed")
    return compile_host_harness(sketch, tmp_path_factory.mktemp("host") / "harness")


# --------------------------------------------------------------------------- generation


def test_sketch_folder_has_every_file(sketch: Path):
    names = {p.name for p in sketch.iterdir()}
    assert names == {
        "edgekit_har.ino",
        "edgekit_app.cpp",
        "edgekit_app.h",
        "har_pipeline.h",
        "edgekit_config.h",
        "model_data.h",
        "model_data.cpp",
        "selftest_data.h",
        "selftest_data.cpp",
        "sketch.yaml",
        "platformio.ini",
        "README.md",
        SKETCH_MANIFEST,
        "edgekit_model.h",
        "edgekit_model.cpp",
        "src",
    }
    runtime = sorted(p.relative_to(sketch).as_posix() for p in (sketch / "src").rglob("*") if p.is_file())
    assert "src/tflm/tensorflow/lite/micro/micro_interpreter.cpp" in runtime
    assert "src/tflm/third_party/cmsis_nn/Source/ConvolutionFunctions/arm_convolve_s8.c" in runtime
    assert not [name for name in runtime if name.endswith(".cc")]  # .cpp: every arduino-cli compiles those
    assert not list(sketch.parent.glob(".edgekit_har.*"))  # no staging leftovers
    shipped = resource_dir("firmware_templates") / "sketch" / "har_pipeline.h"
    assert (sketch / "har_pipeline.h").read_bytes() == shipped.read_bytes()


def test_generated_numbers_come_from_contract_model_and_board(sketch: Path, test_model: FirmwareModel):
    config = (sketch / "edgekit_config.h").read_text()
    quant = test_model.contract.quant
    assert "constexpr size_t kWindow = 80;" in config and "constexpr size_t kHop = 40;" in config
    assert "constexpr uint32_t kSamplePeriodMs = 50;" in config
    assert "9.80665f,  // units_to_ms2" in config
    assert "{1, true},  // model x <- -y" in config  # nano33 default -y,x,z
    for label in test_model.contract.labels:
        assert f'"{label}",' in config
    assert f"{np.format_float_positional(np.float32(quant.input_scale), unique=True)}f,  // input scale" in config
    assert f"{quant.input_zero_point},  // input zero point" in config
    arena = plan_arena(test_model.tflite, quant.arena_bytes)
    assert f"constexpr size_t kArenaBytes = {arena.total};" in config
    assert arena.total % 1024 == 0 and arena.total >= quant.arena_bytes * 1.1 + arena.scratch
    assert "#define EDGEKIT_SELFTEST 1" in config and "kSelftestCount = 5;" in config
    model_h = (sketch / "model_data.h").read_text()
    digest = __import__("hashlib").sha256(test_model.tflite).hexdigest()
    assert f'kSha256[] = "{digest}"' in model_h and f"kBytes = {len(test_model.tflite)};" in model_h
    assert "alignas(16) const unsigned char g_model_data[]" in (sketch / "model_data.cpp").read_text()
    app = (sketch / "edgekit_app.cpp").read_text()
    model_cpp = (sketch / "edgekit_model.cpp").read_text()
    assert "tflite::MicroMutableOpResolver<kNumOps> g_resolver;" in model_cpp
    for op in resolver_ops(quant.ops):
        assert f"g_resolver.{op['method']}(tflite::Register_" in model_cpp
    assert model_cpp.count("g_resolver.Add") == len(set(quant.ops))
    assert "Register_CONV_2D_INT8()" in model_cpp  # int8-only CMSIS-NN kernels: no int4/int16 code linked
    assert "#include <Arduino_LSM9DS1.h>" in app and "IMU.readAcceleration" in app
    assert "for a Nano 33 BLE Sense Rev2 (BMI270) build with --board nano33-rev2" in app
    yaml = (sketch / "sketch.yaml").read_text()
    assert "fqbn: arduino:mbed_nano:nano33ble" in yaml and "platform: arduino:mbed_nano (4.4.1)" in yaml
    assert "- Arduino_LSM9DS1 (1.1.1)" in yaml and "TensorFLowLite" not in yaml  # TFLM ships in src/tflm
    assert "board = nano33ble" in (sketch / "platformio.ini").read_text()
    manifest = json.loads((sketch / SKETCH_MANIFEST).read_text())
    assert manifest["model"]["sha256"] == digest and manifest["fit"]["fits"] is True
    assert manifest["files"]["edgekit_config.h"] == __import__("hashlib").sha256(config.encode()).hexdigest()


def _function(source: str, name: str) -> str:
    """The body of C++ function ``name`` in ``source`` (up to the first closing brace at column 0)."""
    start = source.index(f"void {name}(")
    return source[start : source.index("\n}\n", start)]


def test_serial_lines_print_protocols_fields_in_its_order(test_model, tmp_path: Path, monkeypatch):
    """The firmware's Serial.print chains are rendered from edgekit.protocol, so both ends share one order."""
    from edgekit import protocol

    pred = protocol.FIELDS[protocol.PRED]
    monkeypatch.setitem(protocol.FIELDS, protocol.PRED, tuple(reversed(pred)))
    monkeypatch.setattr(protocol, "ERROR_REPEAT_S", 7)
    sketch = generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path / "reversed")
    body = _function((sketch / "edgekit_app.cpp").read_text(), "print_pred")
    order = [
        body.index(expr) for expr in ("g_queue.missed()", "long>(inference_ms)", "p.confidence, 3", "kLabels[", "g_seq")
    ]
    assert order == sorted(order), body
    assert "constexpr uint32_t kErrorRepeatMs = 7000;" in (sketch / "edgekit_config.h").read_text()
    assert "repeated every 7 s" in (sketch / "README.md").read_text()
    capture = render_capture_sketch(load_board("nano33"), tmp_path / "capture")
    assert "constexpr uint32_t kErrorRepeatMs = 7000;" in (capture / "edgekit_capture.ino").read_text()
    monkeypatch.setitem(protocol.FIELDS, protocol.PRED, (*pred, "battery"))  # a field the firmware cannot print
    with pytest.raises(jinja2.UndefinedError, match="battery"):
        generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path / "extra")


def test_sketch_and_capture_sketch_share_the_board_context(sketch: Path, tmp_path: Path):
    """One context builder: the same axis map and exact float32 factor in both sketches' PipelineConfig."""
    capture = (render_capture_sketch(load_board("nano33"), tmp_path) / "edgekit_capture.ino").read_text()
    config = (sketch / "edgekit_config.h").read_text()
    for line in ("    9.80665f,  // units_to_ms2", "{1, true},", "{0, false},", "{2, false},"):
        assert line in capture and line in config


def test_sketch_comments_say_nothing_model_specific(sketch: Path):
    """The sketch serves any model: no figure of the seed model (its 0.3 s inference) in its text."""
    for name in ("edgekit_app.cpp", "edgekit_config.h", "README.md"):
        text = (sketch / name).read_text()
        assert "0.3 s" not in text and "seed" not in text and "64 MHz" not in text, name
    assert "32 x 50 ms = 1.6 s" in (sketch / "edgekit_config.h").read_text()


def test_generation_is_deterministic_and_replaces_its_own_sketch(test_model, selftest, tmp_path: Path):
    first = generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path / "a", selftest=selftest)
    second = generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path / "b", selftest=selftest)
    files = sorted(p.relative_to(first).as_posix() for p in first.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(second).as_posix() for p in second.rglob("*") if p.is_file())
    assert "src/tflm/tensorflow/lite/micro/micro_interpreter.cpp" in files
    for name in files:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    (first / "stray.txt").write_text("old")
    again = generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path / "a", selftest=selftest)
    assert again == first and not (first / "stray.txt").exists()
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == ["edgekit_har"]


def test_axis_map_override_and_other_boards(test_model, tmp_path: Path):
    sketch = generate_firmware(
        test_model.tflite, test_model.contract, "nano33-rev2", tmp_path, axis_map="x,-z,y", sketch_name="rev2"
    )
    assert (sketch / "rev2.ino").is_file()
    config = (sketch / "edgekit_config.h").read_text()
    assert "{0, false},  // model x <- x" in config and "{2, true},  // model y <- -z" in config
    assert "#define EDGEKIT_SELFTEST 0" in config and not (sketch / "selftest_data.cpp").exists()
    assert "#include <Arduino_BMI270_BMM150.h>" in (sketch / "edgekit_app.cpp").read_text()
    assert json.loads((sketch / SKETCH_MANIFEST).read_text())["axis_map_source"] == "--axis-map"
    rp = generate_firmware(test_model.tflite, test_model.contract, load_board("nano-rp2040"), tmp_path / "rp")
    assert "digitalWrite(LED_BUILTIN" in (rp / "edgekit_app.cpp").read_text()


def _contract(test_model: FirmwareModel, **changes) -> Contract:
    data = test_model.contract.to_dict()
    quant = changes.pop("quant", {})
    data.update(changes)
    if data["quant"] is not None:
        data["quant"].update(quant)
    return Contract.from_dict(data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"quant": None}, "contract has no quantization section"),
        ({"units": "z-score"}, "contract units 'z-score'"),
        ({"labels": ["Walking,fast", "b", "c", "d", "e", "f"]}, r"labels \['Walking,fast'\]"),
        ({"labels": ["a", "b"]}, r"model output shape \[1, 6\] is not \[1, 2\]"),
        ({"window": 40}, r"model input shape \[1, 240\] is not \[1, 120\]"),
        ({"rate_hz": 30.0}, "whole-millisecond period"),
        ({"std": [1.0, 0.0, 1.0]}, "must be positive"),
        ({"quant": {"input_zero_point": 5}}, "model input quantization"),
        ({"quant": {"tflite_sha256": "0" * 64}}, "differs from the contract's"),
        ({"quant": {"ops": ["CONV_2D"]}}, "contract ops"),
    ],
)
def test_inconsistent_contracts_are_refused_before_writing(test_model, tmp_path: Path, changes, message):
    if changes.get("quant", 0) is None:
        contract = _contract(test_model)
        contract.quant = None
    else:
        contract = _contract(test_model, **changes)
    with pytest.raises(EdgekitError, match=message):
        generate_firmware(test_model.tflite, contract, "nano33", tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_unknown_ops_and_boards_without_room_are_refused(test_model, tmp_path: Path):
    with pytest.raises(EdgekitError, match="model uses op STABLEHLO_ADD, which edgekit cannot register"):
        resolver_ops(["CONV_2D", "STABLEHLO_ADD"])
    with pytest.raises(EdgekitError, match=r"--board uno: the model does not fit: .*RAM .* > 2,048 B"):
        generate_firmware(test_model.tflite, test_model.contract, "uno", tmp_path)
    with pytest.raises(EdgekitError, match="sketch name"):
        generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path, sketch_name="bad name")
    foreign = tmp_path / "edgekit_har"
    foreign.mkdir()
    (foreign / "mine.ino").write_text("// user code")
    with pytest.raises(EdgekitError, match="was not generated by edgekit"):
        generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path)
    assert (foreign / "mine.ino").read_text() == "// user code"


def test_fit_and_arena_numbers(test_model, selftest):
    report = sketch_fit(test_model.tflite, test_model.contract, "nano33", selftest)
    assert report.fits and report.flash_items["model"] == len(test_model.tflite)
    assert report.flash_items["edgekit"] >= selftest.inputs.size + selftest.expected.size
    # conv1 filter [8, 1, 10, 3] -> 2*3*10*2 B, conv2 [8, 1, 5, 8] -> 2*8*5*2 B: the larger counts
    assert cmsis_scratch_bytes(test_model.tflite) == 160
    measured_here = plan_arena(test_model.tflite)
    assert measured_here.measured == test_model.contract.quant.arena_bytes
    assert measured_here.measured_source == "measured by edgekit.firmware"


# --------------------------------------------------------------------------- compiled on the desktop


@needs_gxx
def test_generated_headers_are_strict_cxx14(sketch: Path):
    for name in ("har_pipeline.h", "edgekit_config.h", "model_data.h", "selftest_data.h", "edgekit_app.h"):
        cmd = [
            "g++",
            "-std=c++14",
            *STRICT,
            "-Wpedantic",
            "-fsyntax-only",
            "-x",
            "c++",
            f"-I{sketch}",
            str(sketch / name),
        ]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (name, result.stderr)
    for name in ("model_data.cpp", "selftest_data.cpp"):
        cmd = ["g++", "-std=c++14", *STRICT, "-Wpedantic", "-fsyntax-only", f"-I{sketch}", str(sketch / name)]
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, (name, result.stderr)


def _arm_cpu(board: str) -> list[str]:
    if board == "nano-rp2040":
        return ["-mcpu=cortex-m0plus"]
    return ["-mcpu=cortex-m4", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"]


# Each case compiles the TFLM headers a few times (several seconds): one board on the host compiler is the fast
# tier's, every board with both compilers the full suite's.
_CORE_ONLY_CASES = [
    pytest.param(board, compiler, id=f"{board}-{compiler}", marks=() if fast else pytest.mark.slow)
    for board in ("nano33", "nano33-rev2", "nano-rp2040", "nicla-sense")
    for compiler in ("g++", "arm-none-eabi-g++")
    for fast in [(board, compiler) == ("nano33", "g++")]
]


@needs_gxx
@pytest.mark.parametrize(("board", "compiler"), _CORE_ONLY_CASES)
def test_sketch_code_compiles_with_only_the_core_on_the_include_path(
    test_model, selftest, tmp_path: Path, board: str, compiler: str
):
    """Every file edgekit writes into the sketch root, as arduino-cli builds it: gnu++14, the include path
    holding only the core/variant/IMU library (declaration stubs here) - no -I for the sketch or its src/tflm,
    which the files reach by relative includes - and the board's code-generation flags."""
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} not installed")
    arch = [] if compiler == "g++" else [*_arm_cpu(board), "-mthumb", "-Os"]
    sketch = generate_firmware(test_model.tflite, test_model.contract, board, tmp_path, selftest=selftest)
    sources = ["edgekit_app.cpp", "edgekit_model.cpp", "model_data.cpp", "selftest_data.cpp", "edgekit_har.ino"]
    flags = [*arch, *STRICT, "-Wshadow", "-fsyntax-only", "-x", "c++", "-include", "Arduino.h", f"-I{STUBS}"]
    compile_each([[compiler, "-std=gnu++14", *flags, str(sketch / source)] for source in sources])


def test_model_data_compiles_back_to_the_tflite_bytes(host_harness, test_model, tmp_path: Path):
    out = run_harness(host_harness, simple_payload(MODE_MODEL), tmp_path)
    assert out[:-4] == test_model.tflite
    assert struct.unpack("<I", out[-4:])[0] == 0  # 16-byte aligned


def test_host_windows_equal_python_windows(host_harness, test_model, tmp_path: Path):
    """The firmware's pipeline, streamed sample by sample, gives exactly the int8 windows parity uses."""
    board, ms2 = imu_stream(test_model, ("-y", "x", "z"))
    out = run_harness(host_harness, windows_payload(board, test_model.segments), tmp_path)
    got = np.frombuffer(out, dtype=np.int8).reshape(-1, test_model.contract.n_features)
    want = reference_int8_windows(ms2, test_model.contract, test_model.segments)
    assert len(want) >= 40
    np.testing.assert_array_equal(got, want)
    # and the TFLM interpreter therefore labels them identically
    from edgekit.runtimes import TFLMRunner

    runner = TFLMRunner(test_model.tflite)
    np.testing.assert_array_equal(runner.run(got).argmax(axis=1), runner.run(want).argmax(axis=1))


@pytest.mark.skipif(not os.environ.get("EDGEKIT_WISDM_RAW"), reason="EDGEKIT_WISDM_RAW not set")
def test_host_windows_equal_python_windows_on_real_wisdm(host_harness, test_model, tmp_path: Path):
    xyz, segments = real_wisdm_user(Path(os.environ["EDGEKIT_WISDM_RAW"]))
    board = model_to_board_axes(xyz, ("-y", "x", "z"), "g")
    ms2 = board_to_model_axes(board, ("-y", "x", "z"), "g")
    out = run_harness(host_harness, windows_payload(board, segments), tmp_path)
    got = np.frombuffer(out, dtype=np.int8).reshape(-1, test_model.contract.n_features)
    want = reference_int8_windows(ms2, test_model.contract, segments)
    assert len(want) > 100
    np.testing.assert_array_equal(got, want)


def test_host_prediction_equals_tflm_argmax_and_dequantised_score(host_harness, test_model, tmp_path: Path):
    from edgekit.runtimes import TFLMRunner, dequantize

    windows = reference_int8_windows(test_model.stream, test_model.contract, test_model.segments)
    scores = TFLMRunner(test_model.tflite).run(windows)
    scores = np.concatenate([scores, np.full((1, scores.shape[1]), 7, np.int8)])  # an all-tie row
    out = run_harness(host_harness, simple_payload(MODE_PREDICT, scores), tmp_path)
    got = np.frombuffer(out, dtype=[("index", "<i4"), ("confidence", "<f4")])
    quant = test_model.contract.quant
    np.testing.assert_array_equal(got["index"], scores.argmax(axis=1))
    best = scores[np.arange(len(scores)), scores.argmax(axis=1)]
    np.testing.assert_array_equal(
        got["confidence"], np.clip(dequantize(best, quant.output_scale, quant.output_zero_point), 0, 1)
    )


def test_host_quantize_matches_runtimes_rule_on_ties_and_extremes(host_harness, test_model, tmp_path: Path):
    from edgekit.runtimes import quantize_input

    quant = test_model.contract.quant
    values = tie_and_edge_values(quant.input_scale)
    with np.errstate(over="ignore", invalid="ignore"):  # +-3.4e38 / scale overflows to inf on both sides
        ties = np.float32(values) / np.float32(quant.input_scale)
        want = quantize_input(values, quant.input_scale, quant.input_zero_point)
        assert np.sum(np.abs(ties - np.trunc(ties)) == 0.5) > 100  # real ties are in the sample
    out = run_harness(host_harness, simple_payload(MODE_QUANTIZE, values), tmp_path)
    np.testing.assert_array_equal(np.frombuffer(out, np.int8), want)
    special = np.array([np.nan, np.inf, -np.inf], dtype=np.float32)
    out = run_harness(host_harness, simple_payload(MODE_QUANTIZE, special), tmp_path)
    assert np.frombuffer(out, np.int8).tolist() == [-128, 127, -128]  # NaN -> the low end, never UB


def test_host_sample_queue_counts_drops(host_harness, tmp_path: Path):
    words = np.frombuffer(run_harness(host_harness, simple_payload(MODE_QUEUE), tmp_path), "<u4").tolist()
    accepted, missed, left, n, *popped = words
    assert (accepted, missed, left, n) == (8, 4 + 5, 0, 10)
    assert popped == [0, 1, 2, 3, 4, 5, 6, 7, 100, 101]


def test_the_sketch_restarts_its_window_at_the_runs_own_gap_limit(test_model, tmp_path: Path):
    """A run trained with --max-gap 2.5 never saw a window straddle a gap over 2.5 s: neither may the board."""
    default = generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path / "default")
    assert "constexpr uint32_t kMaxGapMs = 1000;" in (default / "edgekit_config.h").read_text()
    wider = generate_firmware(test_model.tflite, test_model.contract, "nano33", tmp_path / "wider", max_gap_s=2.5)
    assert "constexpr uint32_t kMaxGapMs = 2500;" in (wider / "edgekit_config.h").read_text()
