"""The board's own TFLM runtime: pinned sources, the generated tree, and the two board rungs of the ladder.

The rungs compile the very files the sketch ships (``src/tflm`` + ``edgekit_model.cpp``) for the host and,
with the board's flags, for an emulated Cortex-M4 / Cortex-M0+ under QEMU, and compare every int8 output
with the desktop TFLM package byte for byte. The gate must fail when the board's runtime computes
something else: a deliberately perturbed FULLY_CONNECTED kernel is caught and named.
"""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from edgekit.errors import EdgekitError, GateFailed
from edgekit.parity import apply_gates, check_gates
from edgekit.runtime.harness import BoardModel, BoardRuntime, model_interface, model_sources, op_methods
from edgekit.runtime.rungs import BoardRungPlan, run_board_rungs, sample_indices
from edgekit.runtime.sources import COMPONENTS, MIRROR_ENV, SOURCE_ENV, locate_sources
from edgekit.runtime.toolchain import TARGETS
from edgekit.runtime.tree import RuntimeTree
from edgekit.runtimes import TFLMRunner, inspect_tflite, read_ops, tflm_op_outputs

HEAP = re.compile(
    r"^(malloc|free|calloc|realloc|_malloc_r|_free_r|_calloc_r|_realloc_r|_sbrk|sbrk|"
    r"_Zn[wa][jm].*|_Zd[la]Pv.*)$"
)


def need(target: str) -> None:
    missing = TARGETS[target].missing()
    if missing:
        pytest.skip(f"{TARGETS[target].title} needs {', '.join(missing)} (apt: gcc-arm-none-eabi qemu-system-arm)")


@pytest.fixture(scope="module")
def vendor() -> Path:
    return Path(os.environ[SOURCE_ENV])


@pytest.fixture(scope="module")
def fixture_model(tmp_path_factory):
    from test_firmware import build_test_model

    return build_test_model(tmp_path_factory.getbasetemp() / "edgekit-firmware-model")


@pytest.fixture(scope="module")
def board_model(fixture_model) -> BoardModel:
    tflite = fixture_model.tflite
    return model_sources(tflite, model_interface(tflite, inspect_tflite(tflite)), locate_sources(), op_methods())


@pytest.fixture(scope="module")
def windows(fixture_model) -> np.ndarray:
    """Real firmware windows of the synthetic stream plus seeded random int8 windows (saturation, ties)."""
    from edgekit.firmware import reference_int8_windows

    real = reference_int8_windows(fixture_model.stream, fixture_model.contract, fixture_model.segments)
    noise = np.random.default_rng(0).integers(-128, 128, size=(40, real.shape[1]), dtype=np.int8)
    return np.concatenate([real[:60], noise])


# --------------------------------------------------------------------------- sources


def test_pinned_sources_verify_and_a_changed_file_is_refused(vendor: Path, tmp_path: Path):
    assert locate_sources(vendor).describe()["tflite-micro"] == "tensorflow/tflite-micro@90b983c2b"
    copy = tmp_path / "vendor"
    copy.mkdir()
    for component in COMPONENTS:
        if component.name == "ruy":
            shutil.copytree(vendor / "ruy", copy / "ruy")
        else:
            (copy / component.name).symlink_to(vendor / component.name, target_is_directory=True)
    locate_sources(copy)  # an identical copy is accepted
    header = next((copy / "ruy").rglob("*.h"))
    header.write_text(header.read_text() + "\n// edited\n")
    with pytest.raises(EdgekitError, match=r"ruy differs from the pinned google/ruy@d3712831"):
        locate_sources(copy)
    with pytest.raises(EdgekitError, match="not a folder"):
        locate_sources(tmp_path / "missing")


def _archive(folder: Path, top: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(folder, arcname=top)
    return buffer.getvalue()


def test_download_once_into_the_cache_verified(vendor: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    archives = {
        f"/{c.repo.split('/')[1]}-{c.commit}.tar.gz": _archive(vendor / c.name, f"top-{c.commit}") for c in COMPONENTS
    }
    archives["/ruy-d37128311b445e758136b8602d1bbd2a755e115d.tar.gz"] = _archive(vendor / "gemmlowp", "top")
    hits: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            hits.append(self.path)
            body = archives.get(self.path)
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.delenv(SOURCE_ENV, raising=False)
        monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "cache"))
        monkeypatch.setenv(MIRROR_ENV, f"http://127.0.0.1:{server.server_address[1]}")
        with pytest.raises(EdgekitError, match="ruy differs from the pinned"):  # the wrong archive is refused
            locate_sources()
        assert not (tmp_path / "cache" / "runtime" / "ruy-d37128311b445e758136b8602d1bbd2a755e115d").exists()
        ruy = COMPONENTS[-1]
        archives[f"/ruy-{ruy.commit}.tar.gz"] = _archive(vendor / "ruy", "top")
        sources = locate_sources()
        assert sources.root("ruy").is_dir()
        before = len(hits)
        locate_sources()  # now from the cache: nothing downloaded again
        assert len(hits) == before
    finally:
        server.shutdown()


def test_without_sources_the_cli_names_the_fix(tmp_path: Path):
    env = dict(os.environ, EDGEKIT_CACHE=str(tmp_path), **{MIRROR_ENV: "http://127.0.0.1:9"})
    env.pop(SOURCE_ENV)
    result = subprocess.run(["edgekit", "runtime", "show"], capture_output=True, text=True, env=env, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "edgekit runtime fetch" in result.stderr


# --------------------------------------------------------------------------- the tree


def test_tree_builds_as_an_arduino_sketch_folder_would(board_model: BoardModel, fixture_model, vendor: Path):
    tree = board_model.tree
    names = set(tree.files)
    assert not [n for n in names if n.endswith(".cc")]
    include = re.compile(rb'^\s*#\s*include\s*"([^"]+)"', re.M)
    for name, data in tree.files.items():
        assert b"if constexpr" not in data, name  # gnu++14
        if name.startswith("tensorflow/"):
            assert not re.search(rb"defined\s*\(\s*(CMSIS_NN|TF_LITE_STATIC_MEMORY)\s*\)", data), name
        for target in include.findall(data):
            resolved = os.path.normpath(os.path.join(os.path.dirname(name), target.decode()))
            if resolved in names:
                continue
            # left as written only when no pinned source has it (system headers, inactive #if branches)
            upstream = [
                vendor / "tflite-micro" / target.decode(),
                vendor / "flatbuffers" / "include" / target.decode(),
                vendor / "gemmlowp" / target.decode(),
                vendor / "CMSIS-NN" / "Include" / target.decode(),
            ]
            assert not any(p.is_file() for p in upstream), (name, target)
    assert b"struct WrappingArithmetic" in tree.files["tensorflow/lite/kernels/internal/common.h"]
    assert {k.registration for k in tree.kernels} >= {"Register_CONV_2D_INT8", "Register_FULLY_CONNECTED_INT8"}
    again = model_sources(fixture_model.tflite, board_model.interface, locate_sources(), op_methods())
    assert again.tree.sha256 == tree.sha256 and again.files == board_model.files  # deterministic


# --------------------------------------------------------------------------- the rungs


@pytest.mark.parametrize("target", ["host", "cortex-m4", "cortex-m0plus"])
def test_board_runtime_equals_desktop_tflm_byte_for_byte(board_model, fixture_model, windows, target: str):
    need(target)
    runtime = BoardRuntime(board_model, TARGETS[target])
    run = runtime.run(windows)
    np.testing.assert_array_equal(run.outputs, TFLMRunner(fixture_model.tflite).run(windows))
    assert 0 < run.arena_used_bytes < 64 * 1024
    if target == "host":
        assert run.instructions is None
        return
    ops = read_ops(fixture_model.tflite)
    assert len(run.op_instructions) == len(ops)
    assert run.instructions is not None and (run.instructions > 10_000).all()
    # the per-op counts add up to the whole Invoke() (the rest is the interpreter's own loop)
    per_window = sum(run.op_instructions) / len(windows)
    assert 0.9 * run.instructions.mean() < per_window <= run.instructions.mean()
    print(f"\n{target}: {run.instructions.mean():,.0f} instructions per inference, arena {run.arena_used_bytes} B")


def test_intermediate_tensors_equal_desktop_tflm(board_model, fixture_model, windows):
    need("cortex-m4")
    board = BoardRuntime(board_model, TARGETS["cortex-m4"]).tensors(windows[:3])
    desktop = tflm_op_outputs(fixture_model.tflite, windows[:3])
    for ours, theirs in zip(board, desktop, strict=True):
        assert len(ours) == len(theirs) == len(read_ops(fixture_model.tflite))
        for a, b in zip(ours, theirs, strict=True):
            np.testing.assert_array_equal(a, b.astype(np.int8))


def test_emulated_harness_links_no_heap(board_model):
    need("cortex-m4")
    elf = BoardRuntime(board_model, TARGETS["cortex-m4"]).program
    symbols = subprocess.run(["arm-none-eabi-nm", str(elf)], capture_output=True, text=True, check=True).stdout
    names = [line.split()[-1] for line in symbols.splitlines() if line.strip()]
    assert [n for n in names if HEAP.match(n)] == []


def _perturbed(model: BoardModel) -> BoardModel:
    """The same runtime with one kernel changed: FULLY_CONNECTED adds one to its output offset."""
    name = "tensorflow/lite/micro/kernels/cmsis_nn/fully_connected.cpp"
    source = model.tree.files[name].decode()
    assert source.count("fc_params.output_offset = data.reference_op_data.output_zero_point;") >= 1
    files = dict(model.tree.files)
    files[name] = source.replace(
        "fc_params.output_offset = data.reference_op_data.output_zero_point;",
        "fc_params.output_offset = data.reference_op_data.output_zero_point + 3;",
    ).encode()
    return BoardModel(RuntimeTree(files, model.tree.kernels, model.tree.sources), model.files, model.interface)


def test_gate_fails_and_names_the_op_when_the_board_runtime_diverges(board_model, fixture_model, windows):
    need("cortex-m4")
    tflite = fixture_model.tflite
    desktop = TFLMRunner(tflite).run(windows)
    plan = BoardRungPlan(emulated="cortex-m4", windows=32, golden=(0, 1))
    section = run_board_rungs(
        _perturbed(board_model), None, windows, desktop, read_ops(tflite), plan, lambda x: tflm_op_outputs(tflite, x)
    )
    emulated = section["rungs"]["cortex-m4"]
    assert emulated["status"] == "ran" and emulated["windows"] == len(sample_indices(len(windows), 32, (0, 1)))
    assert emulated["windows_differ"] > 0 and emulated["max_step"] >= 1
    assert {d["op"] for d in emulated["first_divergence"]} == {"FULLY_CONNECTED"}
    report = _gated(section)
    assert not report["passed"] and not report["gates"]["board_cortex-m4"]["passed"]
    with pytest.raises(
        GateFailed,
        match=r"emulated Cortex-M4 differs from desktop TFLM in \d+ of \d+ windows "
        r"\(first at FULLY_CONNECTED\)",
    ):
        check_gates(report)


def _gated(board_section: dict, require: bool = False) -> dict:
    """A minimal report around ``board_section`` with passing desktop rungs, gated."""
    pair = {"accuracy_drop_pp": 0.0, "int8_windows_differ": 0, "int8_max_step_diff": 0}
    report = {
        "n_test": 1,
        "board": board_section,
        "pairs": {"float->litert": pair, "float->tflm": pair, "litert->tflm": dict(pair, first_divergence=[])},
    }
    return apply_gates(report, 1.0, False, 1, require)


def test_a_rung_that_cannot_run_says_so_and_fails_only_when_required(windows):
    plan = BoardRungPlan()
    section = run_board_rungs(None, "no runtime sources: offline", windows, windows[:, :6], [], plan, None)
    assert {r["status"] for r in section["rungs"].values()} == {"not run"}
    assert all(r["reason"] == "no runtime sources: offline" for r in section["rungs"].values())
    assert _gated(section)["passed"]
    required = _gated(section, require=True)
    assert not required["passed"]
    with pytest.raises(GateFailed, match="did not run \\(no runtime sources: offline\\), and --require-board-runtime"):
        check_gates(required)


# --------------------------------------------------------------------------- through the CLI, compact model


@pytest.fixture(scope="module")
def compact_run(tmp_path_factory) -> Path:
    from edgekit.quantize import quantize_run
    from edgekit.train import TrainConfig, train_run

    out = tmp_path_factory.mktemp("compact") / "run"
    train_run("synthetic", out, TrainConfig(model="compact", epochs=3, min_epochs=1, patience=2), seed=0)
    quantize_run(out)
    return out


def test_parity_runs_both_board_rungs_on_the_compact_model(compact_run: Path):
    need("cortex-m4")
    result = subprocess.run(
        ["edgekit", "parity", str(compact_run), "--max-drop", "100", "--board-windows", "64"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"board runtime, host: 0 of \d+ windows differ from desktop TFLM", result.stdout)
    assert re.search(r"emulated Cortex-M4: 0 of 64 windows differ .* M instructions per inference", result.stdout)
    report = json.loads((compact_run / "parity.json").read_text())
    rungs = report["board"]["rungs"]
    assert rungs["host"]["windows"] == report["n_test"] and rungs["host"]["windows_differ"] == 0
    assert rungs["cortex-m4"]["instructions"]["mean"] > 100_000
    assert report["gates"]["board_cortex-m4"] == {
        "value": 0,
        "threshold": 0,
        "ran": True,
        "reason": None,
        "required": False,
        "passed": True,
    }
    assert report["board"]["runtime"]["sources"]["CMSIS-NN"].startswith("ARM-software/CMSIS-NN@4ab83cc")
    md = (compact_run / "parity.md").read_text()
    assert "## The board's own runtime" in md and "| emulated" not in md.split("## The board")[0]


def test_profile_shows_the_measured_count(compact_run: Path):
    need("cortex-m4")
    from edgekit.boards import load_board
    from edgekit.profile import format_profile, profile_run

    if not (compact_run / "parity.json").is_file():
        pytest.skip("needs the parity run above")
    result = profile_run(compact_run, load_board("nano33"))
    measured = result["measured"]
    report = json.loads((compact_run / "parity.json").read_text())
    emulated = report["board"]["rungs"]["cortex-m4"]
    assert measured["available"] and measured["instructions"] == emulated["instructions"]["mean"]
    assert measured["seconds"][0] == pytest.approx(measured["instructions"] * 1.1 / 64e6, rel=1e-3)
    text = format_profile(result)
    assert "measured for nano33:" in text and "cost-model estimate on nano33" in text
    # another core's count was not measured: said so, not borrowed
    other = profile_run(compact_run, load_board("nano-rp2040"))["measured"]
    assert not other["available"]


def test_the_sketch_ships_the_tree_the_rung_compiled(board_model, fixture_model, tmp_path: Path):
    from edgekit.firmware import generate_firmware

    sketch = generate_firmware(fixture_model.tflite, fixture_model.contract, "nicla-sense", tmp_path)
    shipped = {
        p.relative_to(sketch / "src" / "tflm").as_posix(): p.read_bytes()
        for p in (sketch / "src" / "tflm").rglob("*")
        if p.is_file()
    }
    assert shipped == board_model.tree.files
    for name, data in board_model.files.items():
        assert (sketch / name).read_bytes() == data
    manifest = json.loads((sketch / "edgekit_sketch.json").read_text())
    assert manifest["runtime"]["tree_sha256"] == board_model.tree.sha256
    assert (
        hashlib.sha256((sketch / "edgekit_model.cpp").read_bytes()).hexdigest()
        == manifest["files"]["edgekit_model.cpp"]
    )
    assert replace(board_model.interface).ops == tuple(sorted(set(read_ops(fixture_model.tflite))))


def test_hot_kernels_follow_the_board(board_model, fixture_model, tmp_path: Path):
    """nano33 asks for -O2 in CMSIS-NN (a pragma, since a sketch cannot set flags); flash-tight Nicla does not."""
    from edgekit.firmware import generate_firmware

    conv = "src/tflm/third_party/cmsis_nn/Source/ConvolutionFunctions/arm_convolve_s8.c"
    fast = generate_firmware(fixture_model.tflite, fixture_model.contract, "nano33", tmp_path / "a")
    small = generate_firmware(fixture_model.tflite, fixture_model.contract, "nicla-sense", tmp_path / "b")
    assert b'#pragma GCC optimize("O2")' in (fast / conv).read_bytes()
    assert b"#pragma GCC optimize" not in (small / conv).read_bytes()
    assert b"#pragma GCC optimize" not in (fast / "src/tflm/tensorflow/lite/micro/micro_interpreter.cpp").read_bytes()
    o2 = model_sources(fixture_model.tflite, board_model.interface, locate_sources(), op_methods(), "O2")
    shipped = {
        p.relative_to(fast / "src" / "tflm").as_posix(): p.read_bytes()
        for p in (fast / "src" / "tflm").rglob("*")
        if p.is_file()
    }
    assert shipped == o2.tree.files


def test_o2_kernels_stay_bit_exact_and_run_fewer_instructions(board_model, fixture_model, windows):
    need("cortex-m4")
    o2 = model_sources(fixture_model.tflite, board_model.interface, locate_sources(), op_methods(), "O2")
    fast = BoardRuntime(o2, TARGETS["cortex-m4"]).run(windows)
    small = BoardRuntime(board_model, TARGETS["cortex-m4"]).run(windows)
    np.testing.assert_array_equal(fast.outputs, small.outputs)
    assert fast.instructions.mean() < small.instructions.mean()
    print(f"\nCMSIS-NN -Os {small.instructions.mean():,.0f} vs -O2 {fast.instructions.mean():,.0f} instructions")
