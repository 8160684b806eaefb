"""One run folder, opened once: its manifest (typed), its model hash, its prepared windows and its board.

Every stage after training reads the same things from a run folder: the manifest, the held-out windows
rebuilt exactly as training saw them, and the board the run was built for. Opening the folder as a
:class:`Run` reads the manifest once, checks ``model_int8.tflite`` against the hash the manifest recorded
once, and rebuilds the windows at most once however many stages ask (``build`` used to read the data
three times: quantize, parity and the self-test each did). ``build`` hands the one ``Run`` and the one
loaded :class:`~edgekit.boards.Board` to every stage, so a board given as a file is the board used
everywhere, never looked up again by name.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from . import artifacts
from .artifacts import MANIFEST, MODEL_TFLITE, PARITY_JSON
from .boards import Board, boards_dir, load_board
from .contract import Contract
from .errors import EdgekitError
from .records import (
    BuildSummary,
    DesktopTime,
    Expectations,
    Manifest,
    ParityReport,
    ProfileResult,
    is_finite_number,
)
from .wording import ms_range

DEFAULT_BOARD = "nano33"  # the board of a run that was never built
PARITY_TFLM_KEY = "tflm_ms_per_inference"


class Run:
    """A run folder with its manifest loaded and checked; the windows and the board loaded on first use."""

    def __init__(self, path: Path, board: Board | None = None) -> None:
        self.path = Path(path)
        self._board = board
        self._prepared: Any = None
        self._model_sha256: str | None = None
        self.raw: dict[str, Any] = {}
        self.manifest: Manifest
        self.reload()

    @classmethod
    def of(cls, run: Run | Path | str, board: Board | None = None) -> Run:
        """``run`` itself when it is already open (sharing its caches), else the folder opened."""
        if isinstance(run, Run):
            if board is not None:
                run._board = board
            return run
        return cls(Path(run), board)

    def reload(self) -> Manifest:
        """Re-read the manifest after a stage rewrote it; the windows and the board stay cached."""
        self.raw = artifacts.load_manifest(self.path)
        self.manifest = Manifest.from_dict(self.raw, str(self.path / MANIFEST))
        return self.manifest

    @property
    def contract(self) -> Contract:
        """The run's contract (every folder ``train`` wrote has one)."""
        if self.manifest.contract is None:
            raise EdgekitError(f"{self.path / MANIFEST}: has no contract; re-run 'edgekit train --out {self.path}'")
        return self.manifest.contract

    # ----------------------------------------------------------------- data

    def prepared(self) -> Any:
        """The run's train/val/test partitions as training saw them (an :class:`edgekit.data.prepare.Prepared`)."""
        if self._prepared is None:
            from .data import load_windows
            from .data.prepare import prepare_from_manifest

            self._prepared = prepare_from_manifest(self.raw, load_windows)
        return self._prepared

    # ----------------------------------------------------------------- board

    @property
    def board(self) -> Board:
        """The board given when the run was opened, else the one it was built for (its file when it was a
        custom one), else the default."""
        if self._board is None:
            build = self.manifest.build
            self._board = load_board(_board_spec(build.board, build.board_file) if build else DEFAULT_BOARD)
        return self._board

    def built_board(self) -> Board | None:
        """The board the run was built for, or None (not built, or its board file is gone)."""
        build = self.manifest.build
        if build is None:
            return None
        try:
            return load_board(_board_spec(build.board, build.board_file))
        except EdgekitError:
            return None

    # ----------------------------------------------------------------- model

    def model_sha256(self) -> str | None:
        """sha256 of model_int8.tflite, checked once against the manifest (None before quantize)."""
        if self._model_sha256 is None:
            quant = self.contract.quant
            recorded = quant.tflite_sha256 if quant is not None and quant.tflite_sha256 else None
            tflite = self.path / MODEL_TFLITE
            model = artifacts.sha256_file(tflite) if tflite.is_file() else recorded
            if recorded and model != recorded:  # another run's model copied in: comparing with it would mislead
                raise EdgekitError(
                    f"{tflite}: does not match the manifest (sha256 differs: the file was replaced); rebuild the "
                    f"run with 'edgekit build --out {self.path}' or restore its own {MODEL_TFLITE}"
                )
            self._model_sha256 = model
        return self._model_sha256

    def parity(self) -> ParityReport | None:
        """parity.json as a record, or None when parity has not run."""
        path = self.path / PARITY_JSON
        if not path.is_file():
            return None
        return ParityReport.from_dict(artifacts.read_json(path, "parity report"), str(path))

    # ----------------------------------------------------------------- what the board should show

    def expectations(self) -> Expectations:
        """What ``edgekit verify`` checks the board against: model hash, sample rate, inference time."""
        return Expectations(self.model_sha256(), self.contract.rate_hz, self.desktop_time())

    def desktop_time(self) -> DesktopTime | None:
        return desktop_time(self.path, self.manifest.build, self.manifest.profile)


def desktop_time(run: Path, build: BuildSummary | None, profile: ProfileResult | None) -> DesktopTime | None:
    """The desktop's idea of on-device inference time, best first.

    The instructions the board's runtime executed on the emulated core (``build.measured``, a range from
    the core's CPI), else the cost model of ``edgekit profile`` (``profile.estimate``), else desktop TFLM.
    """
    measured = build.measured if build is not None else None
    if measured is not None and len(measured.ms) == 2:
        lo, hi = measured.ms
        return DesktopTime(
            (lo + hi) / 2,
            f"{ms_range(measured.range_seconds())} ms from {measured.instructions / 1e6:.2f} M instructions "
            f"measured on the emulated board, {MANIFEST} build.measured",
        )
    estimate = profile.estimate if profile is not None else None
    if estimate is not None and estimate.available and estimate.seconds and len(estimate.seconds) == 2:
        lo, hi = (1000 * s for s in estimate.seconds)
        return DesktopTime(
            (lo + hi) / 2, f"{ms_range(estimate.seconds)} ms, cost-model estimate, {MANIFEST} profile.estimate"
        )
    return _desktop_tflm(Path(run))


def _desktop_tflm(run: Path) -> DesktopTime | None:
    path = run / PARITY_JSON
    try:
        timing = artifacts.read_json(path, "parity report").get("timing") if path.is_file() else None
    except (EdgekitError, AttributeError):
        timing = None
    if isinstance(timing, dict) and is_finite_number(timing.get(PARITY_TFLM_KEY)):
        return DesktopTime(
            float(timing[PARITY_TFLM_KEY]), f"desktop TFLM on this PC, {PARITY_JSON} timing.{PARITY_TFLM_KEY}"
        )
    return None


def board_file(board: Board) -> str | None:
    """The path to record for ``board``: None for a shipped board (its name finds it), else its file."""
    shipped = boards_dir() / f"{board.name}.toml"
    try:
        if shipped.is_file() and shipped.resolve() == Path(board.path).resolve():
            return None
    except OSError:
        pass
    return str(Path(board.path).absolute())


def _board_spec(name: str, path: str | None) -> str:
    """How to load a recorded board again: its file when it was a custom one and still exists, else its name."""
    if path is not None:
        if not Path(path).is_file():
            raise EdgekitError(
                f"{path}: the board file this run was built with is gone; restore it or pass --board FILE"
            )
        return path
    return name


def data_spec(data: str | Path | None) -> str | None:
    """The ``--data`` to store in the manifest: a file as an absolute path, so a later stage run from another
    folder finds it again; anything else (``synthetic``) as given."""
    from .data import SYNTHETIC

    if data is None or str(data) == SYNTHETIC:
        return None if data is None else str(data)
    path = Path(data)
    return str(path.absolute()) if path.exists() else str(data)
