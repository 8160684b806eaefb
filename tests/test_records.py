"""The typed records: a file of the wrong shape is one error naming the file, the key and the fix."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from edgekit.artifacts import MANIFEST, MANIFEST_KIND
from edgekit.errors import EdgekitError
from edgekit.records import BuildSummary, Gate, Manifest, ParityReport
from edgekit.run import Run

CONTRACT = {
    "window": 80,
    "hop": 40,
    "rate_hz": 20.0,
    "labels": ["a", "b"],
    "units": "m/s^2",
    "mean": [0.0, 0.0, 0.0],
    "std": [1.0, 1.0, 1.0],
    "clip_low": [-1.0, -1.0, -1.0],
    "clip_high": [1.0, 1.0, 1.0],
    "prenormalized": False,
    "axes": ["x", "y", "z"],
    "quant": None,
}
MANIFEST_DICT = {
    "kind": MANIFEST_KIND,
    "seed": 0,
    "data": {"kind": "synthetic", "path": None, "sha256": "0" * 64, "seed": 0, "records": 10, "spec": "synthetic"},
    "contract": CONTRACT,
    "split": {"train": [1], "val": [2], "test": [3]},
    "build": None,
}


def test_a_manifest_round_trips_key_for_key_and_keeps_what_no_stage_reads():
    manifest = Manifest.from_dict(MANIFEST_DICT)
    assert manifest.to_dict() == MANIFEST_DICT
    assert manifest.build is None and manifest.data is not None and manifest.data.spec == "synthetic"


@pytest.mark.parametrize(
    ("section", "value", "message"),
    [
        ("build", {"board": "nano33"}, "manifest.json: build: 'fqbn' is missing; re-run 'edgekit build'"),
        (
            "data",
            {"kind": "raw", "sha256": 5},
            "manifest.json: data.sha256: expected str, found 5; re-run 'edgekit train'",
        ),
        ("data", [1, 2], "manifest.json: data: expected an object, found list"),
    ],
)
def test_a_malformed_section_names_the_file_the_key_and_the_fix(tmp_path: Path, section, value, message):
    (tmp_path / MANIFEST).write_text(json.dumps(dict(MANIFEST_DICT, **{section: value})))
    with pytest.raises(EdgekitError) as caught:
        Run(tmp_path)
    assert str(caught.value).startswith(str(tmp_path / MANIFEST) + ": ")
    assert message in str(caught.value)


def test_a_parity_report_of_the_wrong_shape_says_how_to_fix_it():
    with pytest.raises(EdgekitError, match=r"parity.json: rungs.float: expected an object, found int; re-run 'edgekit"):
        ParityReport.from_dict({"kind": "edgekit-parity", "classes": [], "n_test": 0, "rungs": {"float": 3}})


def test_board_gates_write_their_reason_even_when_null():
    assert Gate.from_dict({"value": 0, "threshold": 0, "passed": True}).to_dict() == {
        "value": 0,
        "threshold": 0,
        "passed": True,
    }
    board = {"value": 0, "threshold": 0, "ran": True, "reason": None, "required": False, "passed": True}
    assert Gate.from_dict(board).to_dict() == board


def test_optional_build_sections_are_none_not_missing_keys():
    summary = {
        "board": "nano33",
        "fqbn": "f",
        "float_accuracy": 1.0,
        "litert_accuracy": 1.0,
        "tflm_accuracy": 1.0,
        "accuracy_drop_pp": 0.0,
        "agreement_float_tflm": 1.0,
        "int8_windows_differ": 0,
        "int8_max_step_diff": 0,
        "model_bytes": 1,
        "arena_bytes": 1,
        "arena_measured": {"bytes": 1, "source": "s"},
        "fit": {},
        "fit_summary": "fits",
        "sketch": "s",
    }
    record = BuildSummary.from_dict(summary)
    assert record.calibration is None and record.estimate is None and record.measured is None
    written = record.to_dict()
    assert written["calibration"] is None and "board_file" not in written
