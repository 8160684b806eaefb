"""The parity report: ``parity.json``, rungs, pairs, gates, per-layer errors and the board's own runtime."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

from .base import PARITY_FILE, Record, optional
from .build import BoardRungSummary


@dataclass
class RungMetrics(Record):
    accuracy: float
    macro_f1: float
    f1: dict[str, float]
    confusion: list[list[int]]
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"


@dataclass
class PairMetrics(Record):
    accuracy_drop_pp: float
    top1_agreement: float
    top1_disagreements: int
    f1_change: dict[str, float]
    macro_f1_change: float
    prob_abs_diff_mean: float
    prob_abs_diff_max: float
    int8_windows_differ: int | None = optional()
    int8_max_step_diff: int | None = optional()
    int8_first_differing_windows: list[int] | None = optional()
    first_divergence: list[dict[str, Any]] | None = optional()
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"


@dataclass
class BoardRung(Record):
    """One board-runtime rung of ``parity.json`` (run, or not run with the reason)."""

    title: str
    status: str
    reason: str | None = optional()
    target: str | None = optional()
    flags: str | None = optional()
    windows: int | None = optional()
    windows_differ: int | None = optional()
    max_step: int | None = optional()
    first_differing_windows: list[int] | None = optional()
    top1_changes: int | None = optional()
    arena_used_bytes: int | None = optional()
    instructions: dict[str, int] | None = optional()
    op_instructions: list[dict[str, Any]] | None = optional()
    first_divergence: list[dict[str, Any]] | None = optional()
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"

    @property
    def ran(self) -> bool:
        return self.status == "ran"

    def summary(self) -> BoardRungSummary:
        keys = [f.name for f in fields(BoardRungSummary)]
        return BoardRungSummary(**{k: getattr(self, k) for k in keys})


@dataclass
class BoardSection(Record):
    runtime: dict[str, Any] = field(default_factory=dict)
    rungs: dict[str, BoardRung] = field(default_factory=dict)
    skipped: str | None = optional()
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"


@dataclass
class Gate(Record):
    """One gate verdict; which keys a gate has depends on its kind (``rung`` for accuracy, ``ran`` for boards)."""

    value: Any
    threshold: float
    passed: bool
    rung: str | None = optional()
    required: bool | None = optional()
    ran: bool | None = optional()
    reason: str | None = optional()  # board gates (those with ``ran``) write it even when null
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        if self.ran is not None:
            out["reason"] = self.reason
        return out


@dataclass
class LayerError(Record):
    """One tensor's int8-vs-float error from the QuantizationDebugger, in graph order."""

    op: str
    layer: str
    tensor: str
    tensor_index: int
    rmse: float
    scale: float
    rmse_over_scale: float | None
    mean_error: float
    max_abs_error: float
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"


@dataclass
class LayerErrors(Record):
    windows: int
    metric: str
    all: list[LayerError]
    worst: list[LayerError]
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"


@dataclass
class ParityReport(Record):
    """``parity.json``: the ladder's rungs, the pairs between them, the gates and the board's own runtime."""

    kind: str
    classes: list[str]
    n_test: int
    rungs: dict[str, RungMetrics]
    pairs: dict[str, PairMetrics]
    layers: LayerErrors
    board: BoardSection = field(default_factory=BoardSection)
    input_quantization: dict[str, Any] = field(default_factory=dict)
    runtimes: dict[str, dict[str, Any]] = field(default_factory=dict)
    timing: dict[str, float] = field(default_factory=dict)
    gates: dict[str, Gate] | None = optional()
    passed: bool | None = optional()
    tflite_sha256: str | None = optional()
    test_users: list[int] | None = optional()
    FILE: ClassVar[str] = PARITY_FILE
    FIX: ClassVar[str] = "re-run 'edgekit parity RUN'"

    @property
    def runtime_pair(self) -> PairMetrics:
        return self.pairs["litert->tflm"]

    def board_gates(self) -> dict[str, Gate]:
        return {k[len("board_") :]: g for k, g in sorted((self.gates or {}).items()) if k.startswith("board_")}
