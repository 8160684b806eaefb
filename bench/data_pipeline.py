"""Benchmark: raw WISDM v1.1 text -> (n, 80, 3) windows, edgekit vs a seed-style pandas loop.

Builds a 1.1 M-record file in the v1.1 line format in a temporary folder (36 users, the six WISDM
activities in bouts of 25-250 s, 20 Hz, with the real file's defects sprinkled in: trailing ``;,``,
blank lines, CRLF line ends, two records on one line, empty / non-numeric / NaN values), then times

  (a) edgekit: ``read_raw`` + ``window_recording`` (window 80, hop 40, max gap 1 s), and
  (b) a straightforward seed-style reader written below: a regex clean-up of ``;``, ``pd.read_csv``
      with column names, ``to_numeric`` + ``dropna``, then a Python loop over windows with
      pandas ``Series.mode`` for the label,

on the same file, prints records/s for each and the ratio, and checks both produce the same
windows (count, X values bit for bit, labels, users). Exit status 1 when they differ.

Comparability: the classic seed loop steps through the whole table and labels a window by its
majority activity, so its windows can straddle two users, two activities or a pause. Here it is
restricted to edgekit's rule -- a window lies inside one contiguous run of the same user and
activity with no timestamp step over 1 s or backwards -- by looping per run (``groupby`` on a run
id) instead of over the whole table. The ``;`` clean-up splits on every ``;`` (not just the last
one), so it also recovers the two-records-on-one-line defect, as edgekit does. Non-UTF-8 bytes and
out-of-range values are left out of the defects because the seed-style reader has no rule for them
(tests/test_raw.py covers them).

Run: ``python bench/data_pipeline.py [--records N] [--seed S]`` (about 1-2 minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import io
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from edgekit.data.raw import read_raw, write_raw
from edgekit.data.types import Recording, Windows
from edgekit.data.windows import window_recording

WINDOW, HOP, MAX_GAP_S = 80, 40, 1.0
ACTIVITIES = ["Downstairs", "Jogging", "Sitting", "Standing", "Upstairs", "Walking"]
SHARE = np.array([100_427, 342_177, 59_939, 48_395, 122_869, 424_400], dtype=float)  # v1.1 proportions
COLUMNS = ["user", "activity", "timestamp", "x", "y", "z"]


# --- the synthetic file ----------------------------------------------------------------------------


def synthetic_stream(n: int, seed: int) -> Recording:
    """Bouts of one activity per user; pauses between bouts are sometimes under 1 s (runs merge)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(500, 5000, size=n // 500 + 1)
    lengths = lengths[: np.searchsorted(np.cumsum(lengths), n) + 1]
    lengths[-1] -= lengths.sum() - n
    bouts = lengths.size
    activity = rng.choice(len(ACTIVITIES), size=bouts, p=SHARE / SHARE.sum())
    user = np.sort(rng.integers(1, 37, size=bouts))
    pause_ns = np.where(rng.random(bouts) < 0.3, rng.integers(1, 20, bouts) * 50_000_000, 5_000_000_000)
    step = np.full(n, 50_000_000, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    step[starts] = pause_ns
    t_ns = 49_105_962_326_000 + np.cumsum(step)
    k = np.repeat(activity, lengths)
    phase = np.arange(n) * 0.05 * (1.0 + k)
    xyz = np.stack([np.sin(phase), np.cos(phase), np.sin(0.5 * phase)], axis=1) * (2 + k[:, None])
    xyz += rng.normal(0, 1, (n, 3)) + [0, 9.81, 0]
    return Recording(
        user=np.repeat(user, lengths).astype(np.int64),
        activity=k.astype(np.int64),
        labels=ACTIVITIES,
        t_ns=t_ns.astype(np.int64),
        xyz=xyz.astype(np.float32),
    )


def sprinkle_defects(path: Path, seed: int) -> dict[str, int]:
    """Damage the clean file the way the real v1.1 file is damaged; return what was done."""
    rng = np.random.default_rng(seed + 1)
    lines = path.read_bytes().split(b"\n")[:-1]
    picks = rng.choice(len(lines) - 1, size=2200, replace=False)
    kinds = {
        "trailing ';,'": picks[:1000],
        "CRLF": picks[1000:1500],
        "blank line after": picks[1500:1700],
        "two records on one line": picks[1700:1800],
        "empty value": picks[1800:1950],
        "non-numeric value": picks[1950:2100],
        "NaN value": picks[2100:2200],
    }
    for i in kinds["trailing ';,'"]:
        lines[i] += b","
    for i in kinds["CRLF"]:
        lines[i] += b"\r"
    for i in kinds["blank line after"]:
        lines[i] += b"\n"
    for i, kind in [(i, k) for k in ("empty value", "non-numeric value", "NaN value") for i in kinds[k]]:
        fields = lines[i].split(b",")
        fields[3 + i % 3] = {"empty value": b"", "non-numeric value": b"abc", "NaN value": b"NaN"}[kind]
        if i % 3 == 2:
            fields[5] += b";"
        lines[i] = b",".join(fields)
    merged = 0
    for i in kinds["two records on one line"]:
        if lines[i] is not None and lines[i].endswith(b";") and lines[i + 1]:
            lines[i] += lines[i + 1]
            lines[i + 1] = None  # type: ignore[call-overload]
            merged += 1
    path.write_bytes(b"\n".join(line for line in lines if line is not None) + b"\n")
    done = {k: int(v.size) for k, v in kinds.items()}
    done["two records on one line"] = merged
    return done


# --- (a) edgekit --------------------------------------------------------------------------------------


def edgekit_pipeline(path: Path) -> tuple[Windows, int, float, float]:
    start = time.perf_counter()
    rec = read_raw(path)
    read = time.perf_counter()
    windows = window_recording(rec, WINDOW, HOP, MAX_GAP_S)
    return windows, len(rec), read - start, time.perf_counter() - read


# --- (b) seed-style ------------------------------------------------------------------------------------


def seed_pipeline(path: Path) -> tuple[Windows, int, float, float]:
    """What a notebook does: clean the ';' with a regex, read_csv with names, dropna, loop over windows."""
    t0 = time.perf_counter()
    text = path.read_text()
    text = re.sub(r";,*", "\n", text)  # ';' ends a record; ';,' leftovers and ';'-joined records split
    df = pd.read_csv(io.StringIO(text), header=None, names=COLUMNS, on_bad_lines="skip")
    for col in ("x", "y", "z"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    df = df.dropna().reset_index(drop=True)
    read = time.perf_counter()
    # same no-straddle rule as edgekit: a new run at a change of user/activity or a time step > 1 s / < 0
    dt = df["timestamp"].diff()
    new_run = (
        (df["user"] != df["user"].shift())
        | (df["activity"] != df["activity"].shift())
        | (dt > MAX_GAP_S * 1e9)
        | (dt < 0)
    )
    df["run"] = new_run.cumsum()
    xs, ys, subjects = [], [], []
    for _, run in df.groupby("run", sort=False):
        values = run[["x", "y", "z"]].to_numpy()
        for start in range(0, len(run) - WINDOW + 1, HOP):
            xs.append(values[start : start + WINDOW])
            ys.append(run["activity"].iloc[start : start + WINDOW].mode().iloc[0])
            subjects.append(run["user"].iloc[start])
    classes = sorted(df["activity"].unique())
    index = {name: i for i, name in enumerate(classes)}
    windows = Windows(
        X=np.asarray(xs, dtype=np.float32).reshape(-1, WINDOW, 3),
        y=np.array([index[label] for label in ys], dtype=np.int64),
        subject=np.asarray(subjects, dtype=np.int64),
        classes=classes,
        units="m/s^2",
    )
    return windows, len(df), read - t0, time.perf_counter() - read


# --- comparison ----------------------------------------------------------------------------------------


def differences(a: Windows, b: Windows) -> list[str]:
    problems = []
    if len(a) != len(b):
        return [f"window count {len(a)} != {len(b)}"]
    if a.classes != b.classes:
        problems.append(f"classes {a.classes} != {b.classes}")
    if not np.array_equal(a.X, b.X):
        problems.append(f"X differs in {int((a.X != b.X).any(axis=(1, 2)).sum())} windows")
    if not np.array_equal(a.y, b.y):
        problems.append(f"labels differ in {int((a.y != b.y).sum())} windows")
    if not np.array_equal(a.subject, b.subject):
        problems.append("users differ")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--records", type=int, default=1_100_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="edgekit-bench-") as tmp:
        path = Path(tmp) / "WISDM_like_raw.txt"
        start = time.perf_counter()
        write_raw(path, synthetic_stream(args.records, args.seed))
        defects = sprinkle_defects(path, args.seed)
        size_mb = path.stat().st_size / 1e6
        print(f"file: {args.records:,} records, {size_mb:.1f} MB, built in {time.perf_counter() - start:.1f} s")
        print("defects: " + ", ".join(f"{n} {k}" for k, n in defects.items()))
        ours, n_ours, *t_ours = edgekit_pipeline(path)
        seed, n_seed, *t_seed = seed_pipeline(path)
    print()
    print(f"{'pipeline':<26}{'records':>11}{'windows':>9}{'read s':>8}{'window s':>10}{'total s':>9}{'records/s':>12}")
    for name, n, w, (read, cut) in (
        ("edgekit", n_ours, len(ours), t_ours),
        ("seed-style", n_seed, len(seed), t_seed),
    ):
        print(f"{name:<26}{n:>11,}{w:>9,}{read:>8.2f}{cut:>10.2f}{read + cut:>9.2f}{n / (read + cut):>12,.0f}")
    print(
        f"edgekit is {sum(t_seed) / sum(t_ours):.1f}x faster end to end (read {t_seed[0] / t_ours[0]:.1f}x, "
        f"windowing {t_seed[1] / t_ours[1]:.0f}x)"
    )
    problems = differences(ours, seed) + ([f"records {n_ours} != {n_seed}"] if n_ours != n_seed else [])
    if problems:
        print("MISMATCH: " + "; ".join(problems))
        return 1
    print("same windows: yes (count, X bit for bit, labels, users)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
