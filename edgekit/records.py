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
import types
import typing
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, TypeVar, Union

from .contract import Contract
from .errors import EdgekitError

R = TypeVar("R", bound="Record")

MANIFEST_FILE = "manifest.json"
PARITY_FILE = "parity.json"


def optional(default: Any = None) -> Any:
    """A field whose key is left out of the dict when its value is ``None``."""
    return field(default=default, metadata={"omit_none": True})


def malformed(where: str, problem: str, fix: str) -> EdgekitError:
    return EdgekitError(f"{where}: {problem}; {fix}")


class Record:
    """Base of every record: generic, type-checked ``to_dict`` / ``from_dict`` over the dataclass fields."""

    FILE: ClassVar[str] = MANIFEST_FILE
    FIX: ClassVar[str] = "re-create the run with 'edgekit build' (or the command that wrote it)"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if value is None and f.metadata.get("omit_none"):
                continue
            out[f.name] = _plain(value)
        return out

    @classmethod
    def from_dict(cls: type[R], data: Any, where: str | None = None) -> R:
        where = where or cls.FILE
        if not isinstance(data, dict):
            raise malformed(where, f"expected an object, found {type(data).__name__}", cls.FIX)
        hints = typing.get_type_hints(cls)
        kwargs: dict[str, Any] = {}
        for f in fields(cls):  # type: ignore[arg-type]
            if f.name not in data:
                if f.default is MISSING and f.default_factory is MISSING:
                    raise malformed(where, f"'{f.name}' is missing", cls.FIX)
                continue
            kwargs[f.name] = _convert(hints[f.name], data[f.name], _at(where, f.name), cls.FIX)
        return cls(**kwargs)


def _at(where: str, key: str) -> str:
    """'run/manifest.json' + 'build' -> 'run/manifest.json: build'; then '.arena_bytes'."""
    return f"{where}.{key}" if ": " in where else f"{where}: {key}"


def _plain(value: Any) -> Any:
    if isinstance(value, Record):
        return value.to_dict()
    if isinstance(value, Contract):
        return value.to_dict()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _convert(hint: Any, value: Any, where: str, fix: str) -> Any:
    """``value`` checked against type ``hint`` (records built from their dicts); EdgekitError naming ``where``."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        options = typing.get_args(hint)
        if value is None and type(None) in options:
            return None
        rest = [o for o in options if o is not type(None)]
        if len(rest) == 1:  # X | None: X's own error says what is wrong
            return _convert(rest[0], value, where, fix)
        for option in rest:
            try:
                return _convert(option, value, where, fix)
            except EdgekitError:
                continue
        raise malformed(where, f"unexpected value {_short(value)}", fix)
    if hint is Any:
        return value
    if isinstance(hint, type) and issubclass(hint, Record):
        return hint.from_dict(value, where)
    if hint is Contract:
        if not isinstance(value, dict):
            raise malformed(where, f"expected an object, found {_short(value)}", fix)
        return Contract.from_dict(value)
    if origin is dict:
        if not isinstance(value, dict):
            raise malformed(where, f"expected an object, found {_short(value)}", fix)
        _, item = typing.get_args(hint) or (str, Any)
        return {k: _convert(item, v, _at(where, k), fix) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise malformed(where, f"expected a list, found {_short(value)}", fix)
        (item,) = typing.get_args(hint) or (Any,)
        return [_convert(item, v, where, fix) for v in value]
    return _leaf(hint, value, where, fix)


def _leaf(hint: Any, value: Any, where: str, fix: str) -> Any:
    ok = {
        bool: isinstance(value, bool),
        int: isinstance(value, int) and not isinstance(value, bool),
        float: isinstance(value, (int, float)) and not isinstance(value, bool),
        str: isinstance(value, str),
    }.get(hint, True)
    if not ok:
        raise malformed(where, f"expected {getattr(hint, '__name__', hint)}, found {_short(value)}", fix)
    return value


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


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


# --------------------------------------------------------------------------- the build summary


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


# --------------------------------------------------------------------------- the profile


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


# --------------------------------------------------------------------------- the parity report


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
