"""The committed fixtures in tests/fixtures (made by tests/fixtures/make_fixtures.py): a tiny int8 model with
its contract, and a small quantized run folder. Reading them costs no TensorFlow training."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgekit.contract import Contract

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
FIRMWARE_MODEL = FIXTURES / "firmware_model"
COMPACT_RUN = FIXTURES / "compact_run"  # read-only: copy it (copy_compact_run) before anything writes to it
# How make_fixtures.py made the firmware model's stream (kept in step with it).
STREAM_RECORDING = {"seed": 0, "users": 2, "seconds_per_activity": 20}


@dataclass
class FirmwareModel:
    tflite: bytes
    contract: Contract
    stream: np.ndarray  # (n, 3) float32 m/s^2, model axes: a synthetic recording to stream
    segments: list[int]  # contiguous recordings inside `stream`


def firmware_model() -> FirmwareModel:
    """The tiny int8 model (two Conv1D of 8 filters), its contract and the synthetic recording to stream."""
    from edgekit.data.synthetic import synthetic_recording

    segments = json.loads((FIRMWARE_MODEL / "segments.json").read_text())
    rec = synthetic_recording(**STREAM_RECORDING)
    return FirmwareModel(
        tflite=(FIRMWARE_MODEL / "model.tflite").read_bytes(),
        contract=Contract.from_dict(json.loads((FIRMWARE_MODEL / "contract.json").read_text())),
        stream=rec.xyz[: sum(segments)].astype(np.float32),
        segments=segments,
    )


def copy_compact_run(dst: Path, quantized: bool = True) -> Path:
    """A private, writable copy of the committed compact run at ``dst``: trained and quantized, or (``quantized``
    False) as 'edgekit train' alone leaves it, without the int8 model and its records in the manifest."""
    from edgekit.artifacts import MANIFEST, MODEL_TFLITE

    shutil.copytree(COMPACT_RUN, dst)
    if not quantized:
        (dst / MODEL_TFLITE).unlink()
        manifest = json.loads((dst / MANIFEST).read_text())
        manifest["contract"]["quant"] = None
        del manifest["quantize"]
        (dst / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return dst
