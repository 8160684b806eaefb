"""Split by user, fit normalisation on training users only, and produce model inputs.

The seed script standardised with statistics of the whole data set, test users included; that leaks
the test users' distribution into training and into the firmware's constants. Here mean, std and the
clipping range are fitted on the training users alone and travel in the contract, so the desktop and
the board apply exactly the same numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ..contract import RATE_HZ, Contract
from ..errors import EdgekitError
from .types import Windows

SEED_TEST_USERS = tuple(range(29, 37))
MAX_USER_SPAN = 100_000


@dataclass
class Split:
    """User ids of each partition (disjoint)."""

    train: list[int]
    val: list[int]
    test: list[int]

    def to_dict(self) -> dict[str, list[int]]:
        return {"train": self.train, "val": self.val, "test": self.test}


@dataclass
class Prepared:
    """Normalised, flattened model inputs for every partition, plus the contract that made them."""

    contract: Contract
    split: Split
    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    subject_test: np.ndarray

    @property
    def classes(self) -> list[str]:
        return self.contract.labels


def parse_users(text: str | None) -> list[int] | None:
    """'29-36' or '1,5,7-9' -> sorted ids; None stays None (use the default)."""
    if text is None or str(text).strip() == "":
        return None
    users: set[int] = set()
    shown = repr(str(text))
    try:
        for part in str(text).split(","):
            lo, _, hi = part.strip().partition("-")
            span = range(int(lo), int(hi or lo) + 1)
            if span.stop - span.start > MAX_USER_SPAN:  # '1-100000000000' would fill memory before failing
                raise EdgekitError(
                    f"--test-users {shown}: range '{part.strip()}' spans more than "
                    f"{MAX_USER_SPAN:,} ids; list the held-out users' ids"
                )
            users.update(span)
    except ValueError:
        raise EdgekitError(f"--test-users {shown}: expected ids like '29-36' or '1,5,7-9'") from None
    return sorted(users)


def split_users(
    subjects: np.ndarray,
    test_users: list[int] | None = None,
    val_fraction: float = 0.15,
    seed: int = 0,
) -> Split:
    """Seed split (test = users 29-36) when the data has WISDM v1.1's ids, else the last 22 % of users.

    Validation is a seeded, user-disjoint subset of the training users: a random window split would
    put the same person's overlapping windows on both sides and make early stopping watch a score that
    says nothing about new users.
    """
    users = sorted(int(u) for u in np.unique(subjects))
    if test_users is None:
        if set(users) <= set(range(1, 37)) and set(users) & set(SEED_TEST_USERS):
            test_users = list(SEED_TEST_USERS)
        else:
            test_users = users[-max(1, round(len(users) * 8 / 36)) :]
    test = sorted(set(test_users) & set(users))
    rest = [u for u in users if u not in test]
    if not test:
        raise EdgekitError(f"--test-users: none of {test_users} is in the data (users {users[0]}..{users[-1]})")
    if len(rest) < 2:
        raise EdgekitError("--test-users leaves fewer than 2 training users; hold out fewer users")
    n_val = min(len(rest) - 1, max(1, round(len(rest) * val_fraction))) if val_fraction > 0 else 0
    val = sorted(np.random.default_rng(seed).choice(rest, size=n_val, replace=False).tolist())
    train = [u for u in rest if u not in val]
    return Split(train=train, val=val, test=test)


def axis_stats(samples: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis mean and std of (n, 3) samples; a constant axis gets std 1 so nothing divides by zero."""
    samples = np.asarray(samples, dtype=np.float64)
    mean, std = samples.mean(axis=0), samples.std(axis=0)
    return mean, np.where(std > 1e-6, std, 1.0)


def fit_contract(train: Windows, window: int, hop: int, rate_hz: float) -> Contract:
    """Normalisation and clipping from the training users' windows only."""
    samples = train.X.reshape(-1, train.X.shape[-1]).astype(np.float64)
    if train.prenormalized:
        mean, std = np.zeros(3), np.ones(3)
    else:
        mean, std = axis_stats(samples)
    return Contract(
        window=window,
        hop=hop,
        rate_hz=rate_hz,
        labels=list(train.classes),
        units=train.units,
        mean=[float(np.float32(v)) for v in mean],
        std=[float(np.float32(v)) for v in std],
        clip_low=[float(np.float32(v)) for v in samples.min(axis=0)],
        clip_high=[float(np.float32(v)) for v in samples.max(axis=0)],
        prenormalized=train.prenormalized,
    )


def model_inputs(X: np.ndarray, contract: Contract) -> np.ndarray:
    """(n, window, 3) samples in contract units -> (n, window*3) float32 model inputs.

    Float32 throughout and in this order (clip, subtract, divide) because the firmware does the same
    float32 operations and must produce the same int8 values.
    """
    lo = np.asarray(contract.clip_low, dtype=np.float32)
    hi = np.asarray(contract.clip_high, dtype=np.float32)
    mean = np.asarray(contract.mean, dtype=np.float32)
    std = np.asarray(contract.std, dtype=np.float32)
    x = np.clip(np.asarray(X, dtype=np.float32), lo, hi)
    x = (x - mean) / std
    return np.ascontiguousarray(x.reshape(x.shape[0], -1), dtype=np.float32)


def check_classes(windows: Windows, split: Split) -> None:
    """Refuse a split where a class never occurs for training or test users."""
    for part, users in (("training", split.train + split.val), ("test", split.test)):
        present = set(np.unique(windows.y[np.isin(windows.subject, users)]).tolist())
        missing = [c for i, c in enumerate(windows.classes) if i not in present]
        if missing:
            raise EdgekitError(
                f"class {', '.join(missing)} has no windows from the {part} users {_span(users)}; "
                "choose other --test-users or drop the class from the data"
            )


def _span(users: list[int]) -> str:
    return f"{min(users)}..{max(users)}" if users else "(none)"  # train + val ids are not sorted as one list


def prepare(
    windows: Windows, split: Split, window: int, hop: int, rate_hz: float, contract: Contract | None = None
) -> Prepared:
    """Fit (or reuse) the contract on training users and build every partition's inputs."""
    check_classes(windows, split)
    parts = {name: windows.select(np.isin(windows.subject, users)) for name, users in split.to_dict().items()}
    if contract is None:
        contract = fit_contract(parts["train"], window, hop, rate_hz)
    return Prepared(
        contract=contract,
        split=split,
        x_train=model_inputs(parts["train"].X, contract),
        y_train=parts["train"].y,
        x_val=model_inputs(parts["val"].X, contract),
        y_val=parts["val"].y,
        x_test=model_inputs(parts["test"].X, contract),
        y_test=parts["test"].y,
        subject_test=parts["test"].subject,
    )


def prepare_run(run_dir: Path) -> Prepared:
    """Rebuild a run's partitions exactly as training saw them, from its manifest."""
    from ..artifacts import load_manifest
    from . import load_windows

    manifest = load_manifest(run_dir)
    return prepare_from_manifest(manifest, load_windows)


def prepare_from_manifest(manifest: dict[str, Any], loader: Any) -> Prepared:
    data, config = manifest["data"], manifest["config"]
    spec = data.get("spec")
    windows, source = loader(
        spec, config["window"], config["hop"], config["max_gap_s"], manifest["seed"], config.get("rate_hz", RATE_HZ)
    )
    if source["sha256"] != data["sha256"]:
        raise EdgekitError(
            f"--data {spec}: the data changed since training (sha256 {source['sha256'][:12]} != "
            f"{data['sha256'][:12]}); retrain with 'edgekit train'"
        )
    split = Split(**manifest["split"])
    contract = Contract.from_dict(manifest["contract"])
    return prepare(windows, split, config["window"], config["hop"], config["rate_hz"], contract)
