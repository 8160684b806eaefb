"""The profile: manifest ``profile`` and what ``edgekit profile --json`` prints."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from .base import Record, optional
from .build import Latency, MeasuredLatency


@dataclass
class Estimate(Record):
    """The cost model's time on a board; ``available`` False carries only the reason."""

    available: bool
    reason: str | None = optional()
    core: str | None = optional()
    core_title: str | None = optional()
    kernels: str | None = optional()
    kernels_default: bool | None = optional()
    instructions: int | None = optional()
    instructions_per_layer: dict[str, int] | None = optional()
    clock_hz: int | None = optional()
    cpi: list[float] | None = optional()
    seconds: list[float] | None = optional()
    seconds_mid: float | None = optional()
    hop_s: float | None = optional()
    duty_cycle: list[float] | None = optional()
    keeps_up: bool | None = optional()
    assumptions: list[str] | None = optional()

    def latency(self) -> Latency | None:
        """The part the build summary keeps."""
        if not self.available or self.seconds is None or self.duty_cycle is None:
            return None
        return Latency(
            ms=[round(1000 * s, 1) for s in self.seconds],
            seconds=list(self.seconds),
            duty_cycle=self.duty_cycle,
            instructions=int(self.instructions or 0),
            kernels=str(self.kernels),
        )


@dataclass
class Measured(Record):
    """Instructions measured on the board's emulated core (``profile.measured``); or why there are none."""

    available: bool
    reason: str | None = optional()
    source: str | None = optional()
    instructions: int | None = optional()
    instructions_range: list[int] | None = optional()
    per_op: list[dict[str, Any]] | None = optional()
    clock_hz: int | None = optional()
    cpi: list[float] | None = optional()
    seconds: list[float] | None = optional()
    duty_cycle: list[float] | None = optional()
    hop_s: float | None = optional()
    arena_used_bytes: int | None = optional()

    def latency(self) -> MeasuredLatency | None:
        if not self.available or self.seconds is None or self.duty_cycle is None:
            return None
        return MeasuredLatency(
            instructions=int(self.instructions or 0),
            ms=[round(1000 * s, 1) for s in self.seconds],
            seconds=list(self.seconds),
            duty_cycle=self.duty_cycle,
            source=str(self.source),
        )


@dataclass
class Int8Footprint(Record):
    tflite_bytes: int
    weights_bytes: int
    overhead_bytes: int
    arena_bytes: int
    arena_source: str


@dataclass
class ProfileBoard(Record):
    name: str
    title: str
    core: str
    clock_hz: int
    fit: dict[str, Any] | None = optional()


@dataclass
class ProfileRun(Record):
    dir: str
    model: str
    quantized: bool


@dataclass
class ProfileResult(Record):
    """What ``edgekit profile`` computes (and ``build`` keeps as manifest ``profile``)."""

    kind: str
    model: str
    layers: list[dict[str, Any]]
    totals: dict[str, int]
    int8: Int8Footprint | None = optional()
    board: ProfileBoard | None = optional()
    estimate: Estimate | None = optional()
    measured: Measured | None = optional()
    run: ProfileRun | None = optional()
    FIX: ClassVar[str] = "re-run 'edgekit profile RUN' (or 'edgekit build')"
