"""A deterministic stand-in for WISDM v1.1: six activities in m/s^2 with gravity, 20 Hz.

It exists so the whole pipeline (and every test) runs without a download. Each activity has the
physical signature a phone in a trouser pocket shows: gravity along +y when upright and along +z when
sitting, a step rhythm of about 1.5-2.8 Hz whose amplitude and tilt differ between walking, stairs and
jogging. Each user gets their own cadence, tilt and noise so held-out users are a real test.
"""

from __future__ import annotations

import numpy as np

from ..contract import LABELS, RATE_HZ, STANDARD_GRAVITY
from .types import Recording

CLASSES = list(LABELS)

# activity -> (step Hz, amplitude m/s^2, gravity direction (x, y, z), noise m/s^2)
_PROFILE = {
    "Downstairs": (1.7, 4.5, (0.25, 0.95, -0.20), 0.6),
    "Jogging": (2.7, 9.0, (0.10, 0.99, 0.05), 0.9),
    "Sitting": (0.0, 0.0, (0.05, 0.20, 0.98), 0.08),
    "Standing": (0.0, 0.0, (0.05, 0.99, 0.10), 0.12),
    "Upstairs": (1.4, 3.0, (-0.25, 0.90, 0.35), 0.5),
    "Walking": (1.9, 3.5, (0.05, 0.99, 0.10), 0.5),
}


def synthetic_recording(seed: int = 0, users: int = 12, seconds_per_activity: float = 60.0) -> Recording:
    """Users 1..``users``, each doing every activity once, separated by 10 s gaps in time."""
    rng = np.random.default_rng(seed)
    n = int(seconds_per_activity * RATE_HZ)
    parts_xyz, parts_user, parts_act, parts_t = [], [], [], []
    for user in range(1, users + 1):
        cadence = rng.uniform(0.9, 1.1)
        tilt = rng.normal(0.0, 0.08, size=3)
        t0 = 0
        for label, name in enumerate(CLASSES):
            parts_xyz.append(_activity(rng, name, n, cadence, tilt))
            parts_user.append(np.full(n, user, dtype=np.int64))
            parts_act.append(np.full(n, label, dtype=np.int64))
            parts_t.append(t0 + np.arange(n, dtype=np.int64) * 50_000_000)
            t0 += (n + 200) * 50_000_000  # 10 s pause between activities
    return Recording(
        user=np.concatenate(parts_user),
        activity=np.concatenate(parts_act),
        labels=list(CLASSES),
        t_ns=np.concatenate(parts_t),
        xyz=np.concatenate(parts_xyz).astype(np.float32),
    )


def _activity(rng: np.random.Generator, name: str, n: int, cadence: float, tilt: np.ndarray) -> np.ndarray:
    step_hz, amplitude, gravity_dir, noise = _PROFILE[name]
    t = np.arange(n) / RATE_HZ
    direction = np.asarray(gravity_dir) + tilt
    direction = direction / np.linalg.norm(direction)
    xyz = np.tile(direction * STANDARD_GRAVITY, (n, 1))
    if step_hz:
        phase = 2 * np.pi * step_hz * cadence * t + rng.uniform(0, 2 * np.pi)
        bounce = amplitude * (np.sin(phase) + 0.35 * np.sin(2 * phase + 0.5))
        sway = 0.4 * amplitude * np.sin(0.5 * phase + 0.3)
        xyz[:, 1] += bounce
        xyz[:, 0] += sway
        xyz[:, 2] += 0.3 * bounce * np.sign(gravity_dir[2] + 1e-9)
    return xyz + rng.normal(0.0, noise, size=(n, 3))
