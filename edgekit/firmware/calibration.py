"""The board's input statistics: the contract in m/s^2, from a calibration recording when training used z-scores.

Pre-normalised windows (per-subject z-scores) carry no physical statistics; the board standardises raw
m/s^2 samples with the mean and std of a recording of the wearer (``--norm-from``). The recording is read
once, before training (:func:`check_norm_source`), and its statistics reach :func:`firmware_contract`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import Contract
from ..errors import EdgekitError
from ..records.build import Calibration


@dataclass(frozen=True)
class NormRecording:
    """The ``--norm-from`` recording, read once: its per-axis statistics (m/s^2) and where they came from."""

    mean: np.ndarray
    std: np.ndarray
    source: dict[str, Any]


def read_norm_recording(norm_from: Path) -> NormRecording:
    """Read the calibration recording (errors name --norm-from) and its per-axis mean and std."""
    from ..data import load_recording
    from ..data.prepare import axis_stats

    rec, source = load_recording(Path(norm_from), option="--norm-from")
    mean, std = axis_stats(rec.xyz)
    return NormRecording(mean, std, source)


def _check_norm_pairing(prenormalized: bool, units: str, norm_from: Path | None) -> None:
    """Pre-normalised windows need a calibration recording; data in m/s^2 must not have one."""
    if not prenormalized and norm_from is not None:
        raise EdgekitError(
            f"--norm-from {norm_from}: only for models trained on pre-normalised windows (the data is in "
            f"{units} already); drop the option"
        )
    if prenormalized and norm_from is None:
        raise EdgekitError(
            "the model was trained on pre-normalised (z-scored) windows, so the board needs per-axis statistics "
            "in m/s^2: pass --norm-from RECORDING (a raw WISDM-format file of the wearer, e.g. from 'edgekit capture')"
        )


def firmware_contract(
    contract: Contract, norm_from: Path | None, norm: NormRecording | None = None
) -> tuple[Contract, Calibration | None]:
    """The contract in m/s^2 the board applies (``norm``: the recording already read, else read here).

    Pre-normalised training data (per-subject z-scores) carries no physical statistics, so the
    board standardises with the mean and std of a calibration recording of the wearer (``--norm-from``,
    e.g. from ``edgekit capture``); the clip range in z-units maps to m/s^2 through the same numbers.
    """
    _check_norm_pairing(contract.prenormalized, contract.units, norm_from)
    if not contract.prenormalized:
        return contract, None
    assert norm_from is not None  # _check_norm_pairing refused the rest
    norm = norm if norm is not None else read_norm_recording(norm_from)
    mean, std, source = norm.mean, norm.std, norm.source
    f32 = np.float32
    low = [float(f32(m + z * s)) for m, z, s in zip(mean, contract.clip_low, std, strict=True)]
    high = [float(f32(m + z * s)) for m, z, s in zip(mean, contract.clip_high, std, strict=True)]
    derived = replace(
        contract,
        units="m/s^2",
        prenormalized=False,
        mean=[float(f32(v)) for v in mean],
        std=[float(f32(v)) for v in std],
        clip_low=low,
        clip_high=high,
    )
    calibration = Calibration(
        path=source["path"], sha256=source["sha256"], records=source["records"], mean=derived.mean, std=derived.std
    )
    return derived, calibration


def check_norm_source(data: str | Path | None, norm_from: Path | None) -> NormRecording | None:
    """Fail before training when --data and --norm-from do not go together, or --norm-from cannot be read.

    Both are known from the files' headers, and the recording is read here, once, so that a typo in it is
    reported now, naming --norm-from, not after the whole pipeline (naming --data); the statistics are
    handed on to :func:`firmware_contract`.
    """
    from ..data.npz import read_units

    path = Path(str(data)) if data is not None else None
    is_npz = path is not None and path.suffix == ".npz" and path.is_file()
    units = read_units(path) if path is not None and is_npz else "m/s^2"  # None: damaged; the data stage says so
    if units is None:
        return None
    _check_norm_pairing(units != "m/s^2", units, norm_from)
    return read_norm_recording(norm_from) if norm_from is not None else None
