"""Typed records for what crosses layers: the manifest's sections, the parity report, the profile, the build summary.

Every record is a dataclass with exactly one ``to_dict`` and one ``from_dict``. ``to_dict`` gives the dict that is
written as JSON today, key for key (the files are written with sorted keys, so only the keys and values matter),
which keeps the artifacts byte-identical; ``from_dict`` checks the types it is given and raises
:class:`EdgekitError` naming the file and the fix, so a damaged or hand-edited file is one clear line, not a
``KeyError`` deep inside the report. Optional sections are ``None`` fields, never missing keys to guess at.

Two field flavours, set with :func:`optional`: a plain field is always written (``None`` as ``null``); an
``optional`` field is left out of the dict when ``None``, as the code that wrote the files always did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from ..contract import Contract
from .base import MANIFEST_FILE, PARITY_FILE, Record, malformed, optional
from .build import ArenaMeasured, BoardRungSummary, BuildSummary, Calibration, Latency, MeasuredLatency
from .parity import BoardRung, BoardSection, Gate, LayerError, LayerErrors, PairMetrics, ParityReport, RungMetrics
from .profile import Estimate, Int8Footprint, Measured, ProfileBoard, ProfileResult, ProfileRun

# --------------------------------------------------------------------------- manifest: data and training


@dataclass
class DataSource(Record):
    """Manifest ``data``: where the windows came from and what was in it (written by ``train``)."""

    kind: str
    sha256: str
    path: str | None = None
    spec: str | None = None
    records: int | None = None
    seed: int | None = optional()
    windows: int | None = optional()
    classes: list[str] | None = optional()
    units: str | None = optional()
    prenormalized: bool | None = optional()
    skipped: dict[str, Any] | None = optional()
    windows_per_class: dict[str, int] | None = optional()
    windows_per_user: dict[str, int] | None = optional()
    FIX: ClassVar[str] = "re-run 'edgekit train' to write a new manifest"


@dataclass
class TrainingSection(Record):
    """Manifest ``training``: how the fit went."""

    epochs_run: int
    best_epoch: int | None
    wall_time_s: float
    train_windows: int
    val_windows: int
    test_windows: int
    reused_from: str | None = optional()
    FIX: ClassVar[str] = "re-run 'edgekit train'"


@dataclass
class QuantizeSection(Record):
    """Manifest ``quantize``: how the int8 export was calibrated (the numbers themselves are ``contract.quant``)."""

    file: str
    seed: int
    representative: int
    representative_requested: int
    representative_per_class: dict[str, int]
    source: str
    ops_in_order: list[str]
    arena: dict[str, Any]
    FIX: ClassVar[str] = "re-run 'edgekit quantize RUN'"


# --------------------------------------------------------------------------- the whole manifest


@dataclass
class Manifest(Record):
    """``manifest.json`` with its sections typed; what no stage reads by key stays in ``other`` as written."""

    kind: str
    data: DataSource | None = optional()
    contract: Contract | None = optional()
    training: TrainingSection | None = optional()
    quantize: QuantizeSection | None = optional()
    build: BuildSummary | None = optional()
    profile: ProfileResult | None = optional()
    other: dict[str, Any] = field(default_factory=dict)
    FIX: ClassVar[str] = "pass a folder written by 'edgekit train' or 'edgekit build'"

    def to_dict(self) -> dict[str, Any]:
        out = dict(self.other)
        out.update({k: v for k, v in super().to_dict().items() if k != "other"})
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None) -> Manifest:  # type: ignore[override]
        where = where or MANIFEST_FILE
        if not isinstance(data, dict):
            raise malformed(where, f"expected an object, found {type(data).__name__}", cls.FIX)
        known = {f.name for f in fields(cls)} - {"other"}
        # a section a stage writes as null (a reused model's build) is the same as no section
        typed = {k: v for k, v in data.items() if k in known and v is not None}
        record = super().from_dict(typed, where)
        record.other = {k: v for k, v in data.items() if k not in known or data[k] is None and k not in typed}
        return record

    @property
    def model_name(self) -> str | None:
        model = self.other.get("model")
        return model.get("name") if isinstance(model, dict) else None


# --------------------------------------------------------------------------- what verify expects of the board


@dataclass(frozen=True)
class DesktopTime:
    """The desktop's idea of the on-device inference time, and where the number came from."""

    ms: float
    source: str


@dataclass(frozen=True)
class Expectations:
    """What the run folder says the board should show; every piece is optional (partial runs)."""

    model_sha256: str | None = None
    rate_hz: float | None = None
    desktop: DesktopTime | None = None

    @property
    def desktop_ms(self) -> tuple[float, str] | None:
        return None if self.desktop is None else (self.desktop.ms, self.desktop.source)


def is_finite_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


__all__ = [
    "MANIFEST_FILE",
    "PARITY_FILE",
    "ArenaMeasured",
    "BoardRung",
    "BoardRungSummary",
    "BoardSection",
    "BuildSummary",
    "Calibration",
    "DataSource",
    "DesktopTime",
    "Estimate",
    "Expectations",
    "Gate",
    "Int8Footprint",
    "LayerError",
    "LayerErrors",
    "Latency",
    "Manifest",
    "Measured",
    "MeasuredLatency",
    "PairMetrics",
    "ParityReport",
    "ProfileBoard",
    "ProfileResult",
    "ProfileRun",
    "QuantizeSection",
    "Record",
    "RungMetrics",
    "TrainingSection",
    "is_finite_number",
    "malformed",
    "optional",
]
