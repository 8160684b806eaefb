"""The firmware fails safe: no heap, a bounded stack, in-bounds indices, and a failed start-up that says why.

* No heap: test_firmware_qemu.py already links the pipeline harness for a Cortex-M4F and finds no
  malloc/new in it. Here the rest of the generated code, edgekit_app.cpp, the .ino and the data files,
  is compiled for the same core against the API declarations in tests/firmware_stubs, and no object
  may even reference an allocator.
* Stack: every har_pipeline.h entry point and every function of edgekit_app.cpp is compiled with
  ``-fstack-usage`` for the Cortex-M4F; each frame must be static (no alloca/VLA) and within a bound,
  the figures are printed, and the sampling thread's frame must leave most of its fixed stack free.
* Bounds: tests/failsafe_harness/pipeline_edges.cc drives har_pipeline.h through odd window shapes,
  NaN/inf/extreme samples, a corrupt axis map, short buffers and a full queue under ASan + UBSan.
* Fail safe: the generated edgekit_app.cpp runs on the desktop (tests/failsafe_harness/main.cc gives the
  stub declarations bodies) with one start-up fault injected at a time; the board must keep printing
  EK,ERROR with the reason and never EK,PRED, while the fault-free run predicts.
Each part skips with the reason when its compiler is absent.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers.firmware import STRICT, STUBS

from edgekit import protocol
from edgekit.device.link import LineError, parse_line
from edgekit.firmware import (
    MODEL_SOURCE,
    SAMPLER_STACK_BYTES,
    generate_firmware,
    make_selftest,
    reference_int8_windows,
    stack,
)
from edgekit.resources import load_toml, resource_dir

HARNESS = Path(__file__).parent / "failsafe_harness"
ARM = ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"]
# the Arduino mbed core's flags that matter here (it builds with -Os, like most Arduino cores)
ARM_CXX = [
    "-std=gnu++14",
    "-fno-exceptions",
    "-fno-rtti",
    "-fno-threadsafe-statics",
    "-Os",
    "-ffunction-sections",
    "-fdata-sections",
]
SANITIZE = ["-fsanitize=address,undefined", "-fno-sanitize-recover=all"]
HEAP = re.compile(
    r"^(malloc|free|calloc|realloc|_malloc_r|_free_r|_calloc_r|_realloc_r|_sbrk|sbrk|"
    r"_Zn[wa][jm].*|_Zd[la]Pv.*|__cxa_allocate_exception)$"
)
# Bounds (bytes) for one frame: the pipeline does arithmetic on a few floats; the app's functions hold a
# sample or a few counters. Generous against compiler changes, far below any sensible stack.
PIPELINE_FRAME_MAX = 64
APP_FRAME_MAX = 256
RUN_MS = 7000  # simulated: start-up, then errors repeat every 2 s
CONTROL_MS = 30_000  # 2 s sensor check, 4 s to the first window, then a prediction every 2 s

needs_arm = pytest.mark.skipif(
    any(shutil.which(t) is None for t in ("arm-none-eabi-g++", "arm-none-eabi-nm")),
    reason="needs arm-none-eabi-g++ and arm-none-eabi-nm (apt: gcc-arm-none-eabi libstdc++-arm-none-eabi-newlib)",
)
needs_gxx = pytest.mark.skipif(shutil.which("g++") is None, reason="needs g++")


def run(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, (" ".join(cmd), result.stdout[-2000:], result.stderr[-4000:])
    return result


@pytest.fixture(scope="module")
def sketch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sketch for the committed tiny int8 model, with three self-test windows (nano33: LSM9DS1)."""
    from helpers.fixtures import firmware_model

    model = firmware_model()
    windows = reference_int8_windows(model.stream, model.contract, model.segments)[:3]
    generated = generate_firmware(
        model.tflite,
        model.contract,
        "nano33",
        tmp_path_factory.mktemp("failsafe"),
        selftest=make_selftest(model.tflite, windows),
    )
    return stub_runtime_copy(generated, tmp_path_factory.mktemp("failsafe-stubbed"))


def stub_runtime_copy(sketch: Path, out: Path) -> Path:
    """The sketch with its src/tflm swapped for declaration stubs, so the harness can inject TFLM faults.

    Everything edgekit generated (the app, edgekit_model.cpp and their relative includes) stays as it is;
    the runtime is what test_board_runtime.py runs for real.
    """
    copy = out / sketch.name
    shutil.copytree(sketch, copy, ignore=shutil.ignore_patterns("src"))
    (copy / "src").mkdir()
    (copy / "src" / "tflm").symlink_to(STUBS / "tflm", target_is_directory=True)
    return copy


def app_sources(sketch: Path) -> list[tuple[Path, list[str]]]:
    """The generated translation units and the extra flags each needs (the .ino is C++ with Arduino.h)."""
    return [
        (sketch / "edgekit_app.cpp", []),
        (sketch / "edgekit_model.cpp", ["-include", "resolver_defs.h"]),
        (sketch / f"{sketch.name}.ino", ["-x", "c++", "-include", "Arduino.h"]),
        (sketch / MODEL_SOURCE, []),
        (sketch / "selftest_data.cpp", []),
    ]


def parse_su(path: Path) -> list[tuple[str, int, str]]:
    """GCC's .su lines 'file:line:col:function<TAB>bytes<TAB>qualifier' -> (function, bytes, qualifier)."""
    rows = []
    for line in path.read_text().splitlines():
        where, size, qualifier = line.rsplit("\t", 2)
        function = where.split(":", 3)[-1]
        rows.append(("(static initializers)" if function.endswith(".cpp)") else function, int(size), qualifier))
    return rows


# --------------------------------------------------------------------------- no heap, bounded stack


@pytest.fixture(scope="module")
def arm_objects(sketch: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("failsafe-arm")
    for source, extra in app_sources(sketch):
        run(
            [
                "arm-none-eabi-g++",
                *ARM,
                *ARM_CXX,
                *STRICT,
                "-fstack-usage",
                "-fcallgraph-info=su",
                f"-I{HARNESS}",
                f"-I{STUBS}",
                *extra,
                "-c",
                str(source),
                "-o",
                str(out / f"{source.name}.o"),
            ],
            cwd=out,
        )
    return out


@needs_arm
def test_generated_app_references_no_allocator(arm_objects: Path):
    objects = sorted(arm_objects.glob("*.o"))
    assert {o.name for o in objects} == {
        "edgekit_app.cpp.o",
        "edgekit_har.ino.o",
        "model_data.cpp.o",
        "selftest_data.cpp.o",
        "edgekit_model.cpp.o",
    }
    for obj in objects:
        symbols = run(["arm-none-eabi-nm", "-u", str(obj)])
        names = [line.split()[-1] for line in symbols.stdout.splitlines() if line.strip()]
        heap = sorted(n for n in names if HEAP.match(n))
        assert heap == [], f"{obj.name} references heap functions: {heap}"
    undefined = run(["arm-none-eabi-nm", "-u", str(arm_objects / "edgekit_model.cpp.o")]).stdout
    assert "AllocateTensors" in undefined  # the check looks at real references (the stubs are declarations)


@needs_arm
def test_app_stack_frames_are_static_and_small(arm_objects: Path):
    rows = parse_su(arm_objects / "edgekit_app.cpp.su")
    print("\nedgekit_app.cpp on Cortex-M4F (-Os), stack per function (static functions are inlined):")
    for function, size, qualifier in sorted(rows, key=lambda r: -r[1]):
        print(f"  {size:5d} B  {qualifier:8s} {function}")
    assert rows and all(q == "static" for _, _, q in rows), [r for r in rows if r[2] != "static"]
    assert max(size for _, size, _ in rows) <= APP_FRAME_MAX
    sampler = [size for function, size, _ in rows if "sampler_main" in function]
    assert sampler and sampler[0] <= SAMPLER_STACK_BYTES // 8  # the rest is the IMU library's and I2C's


@needs_arm
def test_sampler_stack_holds_the_measured_chain_with_margin(arm_objects: Path):
    """The sampling thread's fixed stack (issue 12, item 29): the deepest chain GCC measures from sampler_main,
    the deepest measured IMU driver chain (one stack size serves every board) and the allowances, plus the
    margin, must fit in it."""
    graph = stack.CallGraph([(arm_objects / "edgekit_app.cpp.ci").read_text()])
    app, chain, unknown = graph.deepest_chain(stack.sampler_root(graph))
    driver = max(stack.DRIVER_STACK_BYTES.values())
    need = stack.sampler_need(app, driver)
    print(f"\nsampler chain {app} B ({' -> '.join(chain)}) + driver {driver} B + allowances = {need} B")
    print(f"with {stack.STACK_MARGIN_PCT}% margin {stack.with_margin(need)} B of {SAMPLER_STACK_BYTES} B")
    unmeasured = [name for name in unknown if not any(k in name for k in (*stack.KNOWN_EXTERNALS, "readAcceleration"))]
    assert unmeasured == [], "the sampler calls code whose stack nobody measured"
    assert app <= stack.SAMPLER_APP_BYTES, "sampler_main's chain grew: update SAMPLER_APP_BYTES (and the stack)"
    assert stack.with_margin(need) <= SAMPLER_STACK_BYTES == 2048


@needs_arm
def test_pipeline_stack_usage_is_bounded(sketch: Path, tmp_path: Path):
    run(
        [
            "arm-none-eabi-g++",
            *ARM,
            *ARM_CXX,
            *STRICT,
            "-fstack-usage",
            f"-I{sketch}",
            "-c",
            str(HARNESS / "pipeline_probe.cc"),
            "-o",
            str(tmp_path / "pipeline_probe.o"),
        ],
        cwd=tmp_path,
    )
    rows = [r for r in parse_su(tmp_path / "pipeline_probe.su") if "probe_" in r[0]]
    print("\nhar_pipeline.h on Cortex-M4F (-Os), stack per entry point:")
    for function, size, qualifier in rows:
        print(f"  {size:5d} B  {qualifier:8s} {function}")
    assert len(rows) == 8
    assert all(q == "static" for _, _, q in rows), rows
    assert max(size for _, size, _ in rows) <= PIPELINE_FRAME_MAX, rows


# --------------------------------------------------------------------------- bounds, under the sanitizers


@needs_gxx
def test_pipeline_edges_stay_in_bounds_under_asan_and_ubsan(sketch: Path, tmp_path: Path):
    binary = tmp_path / "edges"
    run(
        [
            "g++",
            "-std=c++14",
            *STRICT,
            "-Wshadow",
            "-Wconversion",
            "-O1",
            "-g",
            *SANITIZE,
            f"-I{sketch}",
            str(HARNESS / "pipeline_edges.cc"),
            "-o",
            str(binary),
        ]
    )
    result = run([str(binary)])
    assert re.fullmatch(r"ok \d+\n", result.stdout), result.stdout
    assert int(result.stdout.split()[1]) > 1000  # every check ran (the window grids alone make ~1500)


# --------------------------------------------------------------------------- a failed start-up


def test_resolver_definitions_cover_every_registrable_op():
    methods = set(load_toml((resource_dir("firmware_templates") / "ops.toml").read_text())["ops"].values())
    defined = set(re.findall(r"EDGEKIT_FAILSAFE_ADD\((\w+)\)", (HARNESS / "resolver_defs.h").read_text()))
    assert methods <= defined, sorted(methods - defined)


@pytest.fixture(scope="module")
def app_binary(sketch: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    if shutil.which("g++") is None:
        pytest.skip("needs g++")
    out = tmp_path_factory.mktemp("failsafe-host")
    flags = ["-std=gnu++14", *STRICT, "-O1", "-g", *SANITIZE, "-pthread", f"-I{HARNESS}", f"-I{STUBS}", f"-I{sketch}"]
    objects = []
    for source, extra in [*app_sources(sketch), (HARNESS / "main.cc", []), (STUBS / "host" / "serial.cc", [])]:
        obj = out / f"{source.name}.o"
        run(["g++", *flags, *extra, "-c", str(source), "-o", str(obj)])
        objects.append(str(obj))
    binary = out / "failsafe_harness"
    run(["g++", *SANITIZE, "-pthread", *objects, "-o", str(binary)])
    return binary


def run_board(binary: Path, fault: str, run_ms: int = RUN_MS) -> list[str]:
    """The lines the board prints in ``run_ms`` simulated ms; each must be a valid protocol line."""
    result = run([str(binary), fault, str(run_ms)])
    lines = result.stdout.replace("\r\n", "\n").splitlines()
    for line in lines:
        try:
            parse_line(line)
        except LineError as exc:
            pytest.fail(f"not a protocol line ({exc}): {line!r}")
    return lines


def tags(lines: list[str], tag: str) -> list[str]:
    return [line for line in lines if line.startswith(f"{protocol.PREFIX},{tag},")]


def test_fault_free_start_up_reports_ready_and_predicts(app_binary: Path, sketch: Path):
    """The control: without a fault the same harness sees the board start and classify."""
    lines = run_board(app_binary, "ok", CONTROL_MS)
    assert tags(lines, protocol.ERROR) == []
    assert len(tags(lines, protocol.READY)) == 1 and len(tags(lines, protocol.SELFTEST)) == 1
    assert tags(lines, protocol.SENSOR) == ["EK,SENSOR,9.81,20.00,1"]
    predictions = [parse_line(line) for line in tags(lines, protocol.PRED)]
    assert len(predictions) == (CONTROL_MS - 6000) // 2000 + 1
    assert [p["seq"] for p in predictions] == list(range(len(predictions)))
    assert {p["missed"] for p in predictions} == {0}
    first_label = re.search(r'kLabels\[kNumClasses\] = \{\s*"([^"]+)"', (sketch / "edgekit_config.h").read_text())
    assert first_label and {p["label"] for p in predictions} == {first_label.group(1)}


FAULTS = [
    ("imu", "IMU LSM9DS1 not found: for a Nano 33 BLE Sense Rev2 (BMI270) build with --board nano33-rev2"),
    ("schema", "model schema version differs from the runtime's"),
    ("op", "could not register the model's ops"),
    ("alloc", "AllocateTensors failed: tensor arena too small"),
    ("input-type", "model input is not int8 [1 x window*3]"),
    ("output-shape", "model output is not int8 [1 x classes]"),
    ("quant", "model quantization differs from the one this firmware was generated for"),
    ("thread", "could not start the sampling thread"),
    ("invoke", "Invoke failed"),
]


@pytest.mark.parametrize(("fault", "reason"), FAULTS, ids=[f for f, _ in FAULTS])
def test_failed_start_up_keeps_reporting_why_and_never_predicts(app_binary: Path, fault: str, reason: str):
    started = fault == "invoke"  # the only fault that strikes after start-up, at the first window (t = 6 s)
    run_ms = RUN_MS + (6000 if started else 0)
    lines = run_board(app_binary, fault, run_ms)
    errors = tags(lines, protocol.ERROR)
    assert errors, lines[-10:]
    assert all(line == errors[0] for line in errors) and reason in errors[0], errors[0]
    assert len(errors) >= RUN_MS // 2000, "the reason must repeat for a host that connects late"
    assert tags(lines, protocol.PRED) == []
    assert len(tags(lines, protocol.READY)) == (1 if started else 0)
    if started:
        assert lines.index(tags(lines, protocol.READY)[0]) < lines.index(errors[0])


# --------------------------------------------------------------------------- missed samples (issue 12, item 29)


def test_a_gap_over_max_gap_restarts_the_window_as_the_desktop_does(app_binary: Path):
    """The IMU fails for 0.6 s, later for 1.5 s: the board must window the samples it got exactly as the
    desktop windows a recording (edgekit.data.windows): across the short gap, never across the long one."""
    import numpy as np

    from edgekit.contract import HOP, MAX_GAP_S, WINDOW
    from edgekit.data.types import Recording
    from edgekit.data.windows import segment_starts, window_starts
    from edgekit.firmware.context import SENSOR_CHECK_SAMPLES

    result = run([str(app_binary), "gap", "40000"])
    log = [line.split() for line in result.stderr.splitlines() if line[:2] in ("S ", "I ")]
    samples = np.array([int(t) for kind, t in log if kind == "S"], dtype=np.int64)
    invokes = [int(t) for kind, t in log if kind == "I"]
    fed = samples[SENSOR_CHECK_SAMPLES:]  # the first ones went to the boot sensor check, not to windows
    steps = np.diff(fed)
    assert ((steps > 500) & (steps <= MAX_GAP_S * 1000)).sum() == 1 and (steps > MAX_GAP_S * 1000).sum() == 1
    n = len(fed)
    rec = Recording(
        user=np.zeros(n, np.int64),
        activity=np.zeros(n, np.int64),
        labels=["a"],
        t_ns=fed * 1_000_000,
        xyz=np.zeros((n, 3), np.float32),
    )
    seg_start = segment_starts(rec)
    starts = window_starts(seg_start, np.diff(np.append(seg_start, n)), WINDOW, HOP)
    window_ends = fed[starts + WINDOW - 1]
    assert len(invokes) == len(window_ends), (invokes, window_ends.tolist())
    for invoked, end in zip(invokes, window_ends, strict=True):
        assert end <= invoked < end + 10  # loop() runs the model as soon as it drains the window's last sample
    lines = result.stdout.replace("\r\n", "\n").splitlines()
    assert [parse_line(line)["missed"] for line in tags(lines, protocol.PRED)][-1] == 12 + 30
