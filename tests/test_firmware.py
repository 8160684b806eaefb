"""Firmware generation, and the generated C++ run on the desktop against edgekit's Python.

The model is a small Keras 1D-CNN with the seed's layer types, converted here to a full-int8 .tflite
(static batch 1) and described by a contract built by hand from synthetic data. The helpers at the top
are shared with tests/test_firmware_qemu.py, which runs the same harness on a Cortex-M4F under QEMU.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import warnings
from dataclasses import dataclass
from pathlib import Path

import jinja2
import numpy as np
import pytest

from edgekit.boards import load_board
from edgekit.contract import Contract
from edgekit.errors import EdgekitError
from edgekit.firmware import (
    MODEL_SOURCE,
    SKETCH_MANIFEST,
    board_to_model_axes,
    cmsis_scratch_bytes,
    generate_firmware,
    harness_dir,
    make_selftest,
    model_to_board_axes,
    plan_arena,
    reference_int8_windows,
    render_capture_sketch,
    resolver_ops,
    sketch_fit,
)
from edgekit.quantize import quantization_record

HARNESS_MAGIC = 0x31484B45
MODE_WINDOWS, MODE_PREDICT, MODE_QUANTIZE, MODE_QUEUE, MODE_MODEL = 1, 2, 3, 4, 5
STRICT = ["-Wall", "-Wextra", "-Werror"]
HOST_FLAGS = ["-std=c++14", *STRICT, "-Wshadow", "-Wpedantic", "-Wconversion", "-Wsign-conversion", "-O2"]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
STUBS = Path(__file__).with_name("firmware_stubs")
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")


# --------------------------------------------------------------------------- shared helpers


@dataclass
class FirmwareModel:
    tflite: bytes
    contract: Contract
    stream: np.ndarray  # (n, 3) float32 m/s^2, model axes: a synthetic recording to stream
    segments: list[int]  # contiguous recordings inside `stream`


def build_test_model(cache: Path) -> FirmwareModel:
    """A small int8 model + hand-made contract, converted once per test session (cached on disk)."""
    cache.mkdir(parents=True, exist_ok=True)
    files = [cache / name for name in ("model.tflite", "contract.json", "stream.npy", "segments.json")]
    if not all(f.exists() for f in files):
        _convert_test_model(cache)
    return FirmwareModel(
        tflite=files[0].read_bytes(),
        contract=Contract.from_dict(json.loads(files[1].read_text())),
        stream=np.load(files[2]),
        segments=json.loads(files[3].read_text()),
    )


def _convert_test_model(cache: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    from edgekit.data.prepare import fit_contract, model_inputs
    from edgekit.data.synthetic import synthetic_recording
    from edgekit.data.windows import segment_starts, window_recording
    from edgekit.runtimes import capture_c_output, inspect_tflite, measure_arena

    rec = synthetic_recording(seed=0, users=2, seconds_per_activity=20)
    windows = window_recording(rec)
    contract = fit_contract(windows, 80, 40, 20.0)
    x = model_inputs(windows.X, contract)
    keras.utils.set_random_seed(0)
    inputs = keras.Input((contract.n_features,), batch_size=1)
    h = keras.layers.Reshape((contract.window, 3))(inputs)
    h = keras.layers.Conv1D(8, 10, activation="relu")(h)
    h = keras.layers.MaxPooling1D(3)(h)
    h = keras.layers.Conv1D(8, 5, activation="relu")(h)
    h = keras.layers.GlobalAveragePooling1D()(h)
    outputs = keras.layers.Dense(len(contract.labels), activation="softmax")(h)
    model = keras.Model(inputs, outputs)
    model.compile("adam", "sparse_categorical_crossentropy")
    model.fit(x, windows.y, epochs=3, batch_size=32, verbose=0)
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([x[i : i + 1]] for i in range(0, len(x), 2))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with capture_c_output(), warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Statistics for quantized inputs were expected": int8 I/O is wanted
        tflite = converter.convert()
    info = inspect_tflite(tflite)
    contract.quant = quantization_record(tflite, info, measure_arena(tflite))
    starts = segment_starts(rec)
    lengths = np.diff(np.append(starts, len(rec)))[:6].tolist()  # six recordings, one per activity
    (cache / "model.tflite").write_bytes(tflite)
    (cache / "contract.json").write_text(json.dumps(contract.to_dict()))
    np.save(cache / "stream.npy", rec.xyz[: sum(lengths)].astype(np.float32))
    (cache / "segments.json").write_text(json.dumps(lengths))


def windows_payload(board_xyz: np.ndarray, segments: list[int]) -> bytes:
    """harness_in.bin for mode 1: the recording as IMU readings (board axes, g), segment by segment."""
    out = [struct.pack("<III", HARNESS_MAGIC, MODE_WINDOWS, len(segments))]
    offset = 0
    for n in segments:
        out.append(struct.pack("<I", n) + np.ascontiguousarray(board_xyz[offset : offset + n], "<f4").tobytes())
        offset += n
    return b"".join(out)


def simple_payload(mode: int, values: np.ndarray | None = None, rows: int | None = None) -> bytes:
    head = struct.pack("<II", HARNESS_MAGIC, mode)
    if values is None:
        return head
    return head + struct.pack("<I", rows if rows is not None else len(values)) + values.tobytes()


def run_harness(command: list[str], payload: bytes, workdir: Path, timeout: float = 60) -> bytes:
    """Run a harness (host binary or QEMU) in ``workdir`` on ``payload``; return harness_out.bin."""
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "harness_in.bin").write_bytes(payload)
    out = workdir / "harness_out.bin"
    out.unlink(missing_ok=True)
    result = subprocess.run(command, cwd=workdir, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, (result.returncode, result.stdout[-2000:], result.stderr[-2000:])
    return out.read_bytes()


def imu_stream(test_model: FirmwareModel, axis_map: tuple[str, str, str]) -> tuple[np.ndarray, np.ndarray]:
    """What the IMU would report for the recording (board axes, g), and the m/s^2 the firmware makes of it."""
    board = model_to_board_axes(test_model.stream, axis_map, "g")
    return board, board_to_model_axes(board, axis_map, "g")


def compile_host_harness(sketch: Path, out: Path) -> list[str]:
    """g++, strict warnings, ASan + UBSan: any out-of-bounds access in the pipeline fails the test."""
    h = harness_dir()
    sources = [h / "harness_main.cpp", h / "io_posix.cpp", sketch / MODEL_SOURCE]
    cmd = ["g++", *HOST_FLAGS, *SANITIZE, f"-I{sketch}", f"-I{h}", *map(str, sources), "-o", str(out)]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    return [str(out)]


def tie_and_edge_values(scale: float) -> np.ndarray:
    """Normalised inputs that land exactly on .5 after division by the input scale, plus extremes."""
    s = np.float32(scale)
    found = []
    for k in range(-140, 140):
        x = np.float32((k + 0.5) * float(s))
        for cand in (x, np.nextafter(x, np.float32(np.inf)), np.nextafter(x, np.float32(-np.inf))):
            found.append(cand)
    rng = np.random.default_rng(0)
    found.extend(rng.normal(0, 2, 2000).astype(np.float32))
    found.extend(np.float32(v) for v in (0.0, -0.0, 1e-30, -1e-30, 1e30, -1e30, 3.4e38, -3.4e38))
    return np.asarray(found, dtype=np.float32)


def real_wisdm_user(path: Path, max_samples: int = 30_000) -> tuple[np.ndarray, list[int]]:
    """The first user's contiguous runs from the raw WISDM 2019 stream (m/s^2), split like the desktop does."""
    rows, activities, stamps = [], [], []
    first_user = None
    with gzip.open(path, "rt") if path.suffix == ".gz" else open(path) as handle:
        for line in handle:
            parts = line.strip().rstrip(";").split(",")
            if len(parts) != 6:
                continue
            if first_user is None:
                first_user = parts[0]
            if parts[0] != first_user or len(rows) >= max_samples:
                break
            try:
                rows.append([float(v) for v in parts[3:6]])
                stamps.append(int(parts[2]))
            except ValueError:
                continue
            activities.append(parts[1])
    t = np.asarray(stamps, dtype=np.int64)
    breaks = (
        np.flatnonzero(
            (np.diff(t) > 1_000_000_000)
            | (np.diff(t) < 0)
            | (np.asarray(activities[1:]) != np.asarray(activities[:-1]))
        )
        + 1
    )
    bounds = np.concatenate(([0], breaks, [len(rows)]))
    return np.asarray(rows, dtype=np.float32), np.diff(bounds).tolist()


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def test_model(tmp_path_factory) -> FirmwareModel:
    return build_test_model(tmp_path_factory.getbasetemp() / "edgekit-firmware-model")


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
    assert (sketch / "har_pipeline.h").read_bytes() == (harness_dir().parent / "sketch" / "har_pipeline.h").read_bytes()


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


@needs_gxx
@pytest.mark.parametrize("board", ["nano33", "nano33-rev2", "nano-rp2040", "nicla-sense"])
def test_sketch_code_compiles_with_only_the_core_on_the_include_path(test_model, selftest, tmp_path: Path, board: str):
    """Every file edgekit writes into the sketch root, as arduino-cli builds it: gnu++14, the include path
    holding only the core/variant/IMU library (declaration stubs here) - no -I for the sketch or its src/tflm,
    which the files reach by relative includes - and the board's code-generation flags."""
    sketch = generate_firmware(test_model.tflite, test_model.contract, board, tmp_path, selftest=selftest)
    compilers = [("g++", [])]
    if shutil.which("arm-none-eabi-g++"):
        cpu = (
            ["-mcpu=cortex-m0plus"]
            if board == "nano-rp2040"
            else ["-mcpu=cortex-m4", "-mfloat-abi=softfp", "-mfpu=fpv4-sp-d16"]
        )
        compilers.append(("arm-none-eabi-g++", [*cpu, "-mthumb", "-Os"]))
    sources = ["edgekit_app.cpp", "edgekit_model.cpp", "model_data.cpp", "selftest_data.cpp", "edgekit_har.ino"]
    for compiler, arch in compilers:
        for source in sources:
            cmd = [
                compiler,
                "-std=gnu++14",
                *arch,
                *STRICT,
                "-Wshadow",
                "-fsyntax-only",
                "-x",
                "c++",
                "-include",
                "Arduino.h",
                f"-I{STUBS}",
                str(sketch / source),
            ]
            result = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
            assert result.returncode == 0, (compiler, source, result.stderr)


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
