"""The build summary: manifest ``build``, what ``edgekit build`` made and prints."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from .base import Record, optional


@dataclass
class ArenaMeasured(Record):
    bytes: int
    source: str


@dataclass
class BoardRungSummary(Record):
    """One board-runtime rung as the build summary keeps it (every key present, ``None`` when not known)."""

    title: str | None = None
    status: str | None = None
    reason: str | None = None
    windows: int | None = None
    windows_differ: int | None = None
    max_step: int | None = None
    arena_used_bytes: int | None = None
    instructions: dict[str, int] | None = None

    @property
    def ran(self) -> bool:
        return self.status == "ran"


@dataclass
class Latency(Record):
    """The cost-model time range the build summary keeps (``build.estimate``)."""

    ms: list[float]
    duty_cycle: list[float]
    instructions: int
    kernels: str
    seconds: list[float] | None = optional()  # absent in manifests written before it was kept

    def range_seconds(self) -> list[float]:
        return list(self.seconds) if self.seconds else [ms / 1000 for ms in self.ms]


@dataclass
class MeasuredLatency(Record):
    """Instructions measured on the emulated core and the time range they imply (``build.measured``)."""

    instructions: int
    ms: list[float]
    duty_cycle: list[float]
    source: str
    seconds: list[float] | None = optional()

    def range_seconds(self) -> list[float]:
        return list(self.seconds) if self.seconds else [ms / 1000 for ms in self.ms]


@dataclass
class Calibration(Record):
    """The ``--norm-from`` recording whose per-axis statistics the board standardises with."""

    path: str | None
    sha256: str
    records: int | None
    mean: list[float]
    std: list[float]


@dataclass
class BuildSummary(Record):
    """Manifest ``build``: what ``edgekit build`` made and how it checked out; also what it prints."""

    board: str
    fqbn: str
    float_accuracy: float
    litert_accuracy: float
    tflm_accuracy: float
    accuracy_drop_pp: float
    agreement_float_tflm: float
    int8_windows_differ: int
    int8_max_step_diff: int
    model_bytes: int
    arena_bytes: int
    arena_measured: ArenaMeasured
    fit: dict[str, Any]
    fit_summary: str
    sketch: str
    board_runtime: dict[str, BoardRungSummary] = field(default_factory=dict)
    selftest_windows: int = 0
    calibration: Calibration | None = None
    estimate: Latency | None = None
    measured: MeasuredLatency | None = None
    board_file: str | None = optional()  # only for a board file that is not a shipped one
    FIX: ClassVar[str] = "re-run 'edgekit build'"
