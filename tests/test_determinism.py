"""Same data, config and seed -> the same bytes: .tflite, model.keras, parity.json (but timing), sketch folder.

Two builds of one small synthetic data set: one through the Python API in this process (after whatever
the other tests did to TensorFlow's state), one through ``python -m edgekit build`` in a fresh process
(another hash seed, another allocation order), into two different folders. Everything a user or CI
would diff must come out byte-identical; the only differences allowed are the ones listed in
:data:`VOLATILE`, each a record of the run itself rather than an output of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edgekit.data.raw import write_raw
from edgekit.data.synthetic import synthetic_recording

pytestmark = pytest.mark.slow  # two builds: training, the TFLM runtime library, QEMU
SEED = 3
# 32 emulated windows: the board rung is in the artifacts either way, and QEMU on the seed model costs seconds each
SETTINGS = {"epochs": 2, "min_epochs": 1, "batch_size": 64, "representative": 50, "board_windows": 32}
# The gates are opened wide: this test is about bytes, not about how good a 2-epoch model is.
# manifest.json entries that describe the run rather than its result: when and how long, and where it went
VOLATILE = {("created",), ("training", "wall_time_s"), ("build", "sketch"), ("profile", "run", "dir")}


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("det-data") / "small.txt"
    write_raw(path, synthetic_recording(seed=1, users=9, seconds_per_activity=20))
    return path


@pytest.fixture(scope="module")
def in_process(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from edgekit.build import build_run
    from edgekit.train import TrainConfig

    out = tmp_path_factory.mktemp("det-a") / "run"
    config = TrainConfig(
        epochs=SETTINGS["epochs"], min_epochs=SETTINGS["min_epochs"], batch_size=SETTINGS["batch_size"]
    )
    build_run(
        "nano33",
        data,
        out,
        config,
        seed=SEED,
        selftest=3,
        representative=SETTINGS["representative"],
        board_windows=SETTINGS["board_windows"],
        max_drop_pp=100.0,
        require_bit_exact=False,
        max_int8_step=255,
    )
    return out


@pytest.fixture(scope="module")
def fresh_process(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("det-b") / "elsewhere"
    command = [
        sys.executable,
        "-m",
        "edgekit",
        "--quiet",
        "build",
        "--board",
        "nano33",
        "--data",
        str(data),
        "--seed",
        str(SEED),
        "--selftest",
        "3",
        "--max-drop",
        "100",
        "--max-int8-step",
        "255",
        "--out",
        str(out),
        *(f"--{key.replace('_', '-')}={value}" for key, value in SETTINGS.items()),
    ]
    env = dict(os.environ, PYTHONHASHSEED="12345", TF_CPP_MIN_LOG_LEVEL="2")
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _without(tree: dict[str, Any], paths: set[tuple[str, ...]]) -> dict[str, Any]:
    tree = json.loads(json.dumps(tree))
    for path in paths:
        node = tree
        for key in path[:-1]:
            node = node.get(key, {})
        node.pop(path[-1], None)
    return tree


def test_same_inputs_give_byte_identical_artifacts(in_process: Path, fresh_process: Path):
    a, b = _files(in_process), _files(fresh_process)
    assert sorted(a) == sorted(b)
    sketch = [name for name in a if name.startswith("firmware/")]
    assert len(sketch) >= 12 and "firmware/edgekit_har/selftest_data.cpp" in sketch
    identical = [*sketch, "model_int8.tflite", "model.keras", "metrics.json", "history.json", "parity.md"]
    differ = [name for name in identical if a[name] != b[name]]
    assert not differ, f"differ between two builds of the same inputs: {differ}"


def test_parity_json_differs_only_in_timing(in_process: Path, fresh_process: Path):
    a = json.loads((in_process / "parity.json").read_text())
    b = json.loads((fresh_process / "parity.json").read_text())
    assert "timing" in a and "rungs" in a
    a.pop("timing")
    b.pop("timing")
    assert a == b


def test_manifest_differs_only_in_run_records(in_process: Path, fresh_process: Path):
    a = json.loads((in_process / "manifest.json").read_text())
    b = json.loads((fresh_process / "manifest.json").read_text())
    assert a["build"]["sketch"].startswith(str(in_process)) and b["build"]["sketch"].startswith(str(fresh_process))
    assert a.get("profile", {}).get("run", {}).get("dir", str(in_process)) == str(in_process)  # not the stage's
    assert _without(a, VOLATILE) == _without(b, VOLATILE)
