"""The contract: every number the firmware needs to reproduce the desktop's model input and output.

It is decided once, by the stage that knows it (data decides windowing, units and normalisation;
quantize decides scales, zero points, ops and arena), stored in the run's manifest under
``"contract"``, and read by every later stage, firmware templates included. Nothing is typed twice.

Model input convention (shared by Python and the generated C++):
    sample (x, y, z) in ``units`` -> clip per axis to [clip_low, clip_high]
    -> (value - mean) / std per axis -> flatten in time order (t0x, t0y, t0z, t1x, ...).
For pre-normalised data (per-subject z-scores) ``units`` is "z-score", mean 0 and std 1; the
firmware then needs per-axis statistics in m/s^2 from a calibration recording (``--norm-from``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from .errors import EdgekitError
from .protocol import LABEL

AXES = ("x", "y", "z")
STANDARD_GRAVITY = 9.80665

# WISDM's shape of the problem, the defaults every stage starts from (a run's contract may differ; it
# then wins). One place, so a signature never repeats a number that could drift from the others.
WINDOW = 80  # samples per window: 4 s at RATE_HZ
HOP = 40  # samples between window starts: a prediction every 2 s
RATE_HZ = 20.0  # WISDM's sampling rate
LABELS = ("Downstairs", "Jogging", "Sitting", "Standing", "Upstairs", "Walking")  # WISDM v1.1, sorted
N_CLASSES = len(LABELS)
MAX_GAP_S = 1.0  # a longer gap between two samples ends a window: none straddles it, on desktop or board


@dataclass
class Quantization:
    """What the int8 export fixed: written by ``edgekit quantize``."""

    input_scale: float
    input_zero_point: int
    output_scale: float
    output_zero_point: int
    input_shape: list[int]
    output_shape: list[int]
    ops: list[str]
    arena_bytes: int | None = None
    tflite_bytes: int = 0
    tflite_sha256: str = ""


@dataclass
class Contract:
    """Windowing, units, normalisation and labels, as decided by the data stage."""

    window: int
    hop: int
    rate_hz: float
    labels: list[str]
    units: str  # "m/s^2" or "z-score"
    mean: list[float]
    std: list[float]
    clip_low: list[float]
    clip_high: list[float]
    prenormalized: bool = False
    axes: list[str] = field(default_factory=lambda: list(AXES))
    quant: Quantization | None = None

    @property
    def n_features(self) -> int:
        return self.window * len(self.axes)

    @property
    def sample_period_ms(self) -> int:
        return round(1000.0 / self.rate_hz)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Contract:
        try:
            quant = data.get("quant")
            fields = {k: v for k, v in data.items() if k != "quant"}
            contract = cls(**fields)
            contract.quant = Quantization(**quant) if quant else None
        except TypeError as exc:
            raise EdgekitError(f"manifest contract is malformed ({exc}); re-run 'edgekit train'") from None
        return contract


def check_labels(labels: list[str], where: str) -> None:
    """Refuse class labels the firmware cannot print in its EK,PRED lines (``where`` names the source)."""
    bad = [label for label in labels if not LABEL.fullmatch(label)]
    if bad:
        raise EdgekitError(
            f"{where}: labels {bad}: use letters, digits, spaces and _ . / + ( ) - only, at most 64 characters "
            "(they go into the board's PRED lines); rename them in the data"
        )
