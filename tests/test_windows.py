"""Windowing: boundaries (user, activity, time gap), labels, npz re-windowing and validation."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgekit.data import load_windows
from edgekit.data import npz as npz_mod
from edgekit.data.npz import read_npz, read_units
from edgekit.data.raw import read_raw, write_raw
from edgekit.data.synthetic import CLASSES, synthetic_recording
from edgekit.data.types import Recording
from edgekit.data.windows import check_rate, median_step_ns, window_recording
from edgekit.errors import EdgekitError


def _rec(users, acts, t_ms) -> Recording:
    n = len(users)
    xyz = np.stack([np.arange(n), np.arange(n) * 2, np.arange(n) * 3], axis=1).astype(np.float32)
    return Recording(np.asarray(users), np.asarray(acts), ["A", "B"], np.asarray(t_ms, dtype=np.int64) * 1_000_000, xyz)


def test_windows_never_straddle_user_activity_or_gap():
    t = np.arange(400) * 50
    t[300:] += 5000  # a 5 s gap at sample 300
    users = [1] * 200 + [2] * 200
    acts = [0] * 100 + [1] * 100 + [0] * 200
    w = window_recording(_rec(users, acts, t), window=80, hop=40)
    # segments: 0-100 (1 window), 100-200 (1), 200-300 (1), 300-400 (1)
    assert len(w) == 4
    starts = w.X[:, 0, 0].astype(int).tolist()
    assert starts == [0, 100, 200, 300]
    assert w.y.tolist() == [0, 1, 0, 0]
    assert w.subject.tolist() == [1, 1, 2, 2]
    for i, s in enumerate(starts):  # every sample of a window is consecutive
        assert np.array_equal(w.X[i, :, 0], np.arange(s, s + 80))


def test_window_hop_and_count():
    t = np.arange(200) * 50
    w = window_recording(_rec([1] * 200, [0] * 200, t), window=80, hop=40)
    assert w.X[:, 0, 0].astype(int).tolist() == [0, 40, 80, 120]


def test_time_going_backwards_breaks_a_window():
    t = np.concatenate([np.arange(100) * 50, np.arange(100) * 50])
    w = window_recording(_rec([1] * 200, [0] * 200, t), window=80, hop=40)
    assert w.X[:, 0, 0].astype(int).tolist() == [0, 100]


def test_small_gap_is_kept():
    t = np.arange(200) * 50
    t[100:] += 900  # 0.95 s step: under the 1 s limit
    w = window_recording(_rec([1] * 200, [0] * 200, t), window=80, hop=40)
    assert len(w) == 4


def test_synthetic_is_deterministic_and_has_six_classes():
    a, b = (
        synthetic_recording(seed=3, users=2, seconds_per_activity=10),
        synthetic_recording(seed=3, users=2, seconds_per_activity=10),
    )
    assert np.array_equal(a.xyz, b.xyz)
    assert a.labels == CLASSES
    rest = np.linalg.norm(a.xyz[a.activity == CLASSES.index("Sitting")], axis=1).mean()
    assert 9.0 < rest < 10.6  # gravity in m/s^2


def _npz(tmp_path, **over):
    X = np.random.default_rng(0).normal(size=(6, 128, 3)).astype(np.float32)
    arrays = {
        "X": X,
        "y": np.array([0, 1, 2, 0, 1, 2], np.int8),
        "subject": np.array([1, 1, 2, 2, 3, 3], np.int16),
        "classes": np.array(["a", "b", "c"]),
    }
    arrays.update(over)
    arrays = {k: v for k, v in arrays.items() if v is not None}
    path = tmp_path / "w.npz"
    np.savez(path, **arrays)
    return path, X


def test_npz_rewindows_128_into_offsets_0_and_40(tmp_path):
    path, X = _npz(tmp_path)
    w = read_npz(path, window=80, hop=40)
    assert w.X.shape == (12, 80, 3)
    assert np.array_equal(w.X[0], X[0, 0:80]) and np.array_equal(w.X[1], X[0, 40:120])
    assert w.y.tolist() == [0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]
    assert w.prenormalized and w.units == "z-score"


@pytest.mark.parametrize(
    "over, message",
    [
        ({"y": None}, "missing array(s) y"),
        ({"X": np.zeros((6, 128, 2), np.float32)}, "expected (N, T, 3)"),
        ({"X": np.zeros((6, 128, 3), np.int32)}, "dtype int32"),
        ({"y": np.array([0, 1, 2, 0, 1, 7])}, "labels range 0..7"),
        ({"subject": np.array([1, 2])}, "subject has shape (2,)"),
        ({"X": np.zeros((6, 40, 3), np.float32)}, "shorter than --window 80"),
    ],
)
def test_npz_bad_input_one_clear_error(tmp_path, over, message):
    path, _ = _npz(tmp_path, **over)
    with pytest.raises(EdgekitError, match=None) as err:
        read_npz(path)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_load_windows_rejects_folder_missing_and_empty(tmp_path):
    with pytest.raises(EdgekitError, match="is a folder"):
        load_windows(tmp_path)
    with pytest.raises(EdgekitError, match="file not found"):
        load_windows(tmp_path / "nope.txt")
    (tmp_path / "empty.txt").write_text("")
    with pytest.raises(EdgekitError, match="file is empty"):
        load_windows(tmp_path / "empty.txt")


def test_real_windows_rewindowed(wisdm_windows):
    w, source = load_windows(wisdm_windows)
    assert len(w) == 2 * 7292 and w.X.shape[1:] == (80, 3)
    assert source["sha256"].startswith("72190e47")
    assert sorted(np.unique(w.subject).tolist()) == list(range(1, 37))
    assert w.classes == ["Downstairs", "Jogging", "Sitting", "Standing", "Upstairs", "Walking"]


# --- hostile .npz (issue 12, item 11): sizes checked before anything is loaded ------------------------


def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def _zip(path, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _npy(arr: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.save(buf, arr)
    return buf.getvalue()


def _small_members() -> dict[str, bytes]:
    return {
        "y.npy": _npy(np.zeros(6, np.int8)),
        "subject.npy": _npy(np.ones(6, np.int16)),
        "classes.npy": _npy(np.array(["a"])),
    }


def test_npz_declaring_a_huge_array_is_refused_before_allocating(tmp_path):
    path = tmp_path / "forged.npz"  # 10 M x 128 x 3 float64 (30 GB) declared, 350 KB present
    _zip(path, {"X.npy": _npy_header((10_000_000, 128, 3)) + bytes(350_000), **_small_members()})
    with pytest.raises(EdgekitError) as err:
        read_npz(path)
    assert "array X declares 30,720,000,128 bytes but its zip entry holds 350,128" in str(err.value)
    assert "\n" not in str(err.value)


def test_npz_decompression_bomb_is_refused(tmp_path):
    path = tmp_path / "bomb.npz"
    np.savez_compressed(
        path,
        X=np.zeros((40_000, 128, 3), np.float32),
        y=np.zeros(40_000, np.int8),
        subject=np.arange(40_000) % 5,
        classes=np.array(["a"]),
    )
    assert path.stat().st_size < 200_000  # 61 MB of zeros
    with pytest.raises(EdgekitError, match=r"bomb\.npz: array X inflates \d[\d,]*x .* decompression bomb"):
        read_npz(path)


def test_npz_over_the_size_limit_is_refused(tmp_path, monkeypatch):
    monkeypatch.setattr(npz_mod, "MAX_ARRAY_BYTES", 9_000)
    path, _ = _npz(tmp_path)  # X alone is 9,216 bytes + its header
    with pytest.raises(EdgekitError, match=r"w\.npz: its arrays declare [\d,]+ bytes, over the 9,000-byte limit"):
        read_npz(path)


def test_npz_extra_members_are_never_loaded(tmp_path):
    """A forged member nobody reads (here 'junk', 1 TB declared) must not be inflated or allocated."""
    path = tmp_path / "extra.npz"
    X = np.random.default_rng(0).normal(size=(6, 128, 3)).astype(np.float32)
    _zip(path, {"X.npy": _npy(X), **_small_members(), "junk.npy": _npy_header((10**12,)) + bytes(100)})
    assert read_npz(path).X.shape == (12, 80, 3)


def test_npy_named_npz_with_a_huge_header_is_not_loaded(tmp_path):
    path = tmp_path / "single.npz"
    path.write_bytes(_npy_header((10**12, 128, 3)) + bytes(1000))
    with pytest.raises(EdgekitError, match=r"holds one array, not a \.npz archive"):
        read_npz(path)


def test_units_member_bomb_reads_as_unknown(tmp_path):
    path = tmp_path / "units.npz"
    _zip(path, {"units.npy": _npy_header((10**13,), "<U8") + bytes(64)})
    assert read_units(path) is None


# --- the sampling rate is measured, not assumed (issue 12, item 27) ------------------------------------


def _stream(tmp_path, step_ns: int, jitter_ns: int = 0, name: str = "rate.txt"):
    """Two users x two activities of 400 samples each, with a pause inside every run."""
    rng = np.random.default_rng(0)
    n = 400
    t = np.arange(n, dtype=np.int64) * step_ns + rng.integers(-jitter_ns, jitter_ns + 1, n)
    t[200:] += 30 * step_ns  # a pause: diffs this long must not move the measured rate
    runs = [(u, a) for u in (1, 2) for a in (0, 1)]
    rec = Recording(
        user=np.repeat([u for u, _ in runs], n).astype(np.int64),
        activity=np.repeat([a for _, a in runs], n).astype(np.int64),
        labels=["A", "B"],
        t_ns=np.concatenate([t + k * 10**12 for k in range(len(runs))]),
        xyz=rng.normal(0, 3, (n * len(runs), 3)).astype(np.float32),
    )
    path = tmp_path / name
    write_raw(path, rec)
    return path, rec


def test_rate_measured_per_run_despite_jitter_and_pauses(tmp_path):
    _, rec = _stream(tmp_path, 50_000_000, jitter_ns=4_000_000)
    assert median_step_ns(rec) == pytest.approx(50_000_000, rel=0.02)
    assert check_rate(rec, 20.0, "x") == pytest.approx(20.0, rel=0.02)
    windows, _ = load_windows(_stream(tmp_path, 50_000_000, jitter_ns=4_000_000)[0])
    assert len(windows) > 0


@pytest.mark.parametrize(
    "step_ns, message",
    [
        (1, "the timestamps say 1e+09 Hz (median step 1 ns), but the model expects 20 Hz; resample the recording"),
        (
            50,
            "the timestamps say 2e+07 Hz (median step 50 ns), but the model expects 20 Hz; the timestamps look "
            "like milliseconds: write them in nanoseconds (x 1e+06)",
        ),
        (40_000_000, "the timestamps say 25 Hz (median step 40,000,000 ns), but the model expects 20 Hz; resample"),
        (0, "the timestamps never advance within a user/activity run, so the sampling rate cannot be measured"),
    ],
)
def test_stream_at_another_rate_is_refused_naming_file_rate_and_fix(tmp_path, step_ns, message):
    path, _ = _stream(tmp_path, step_ns)
    with pytest.raises(EdgekitError) as err:
        load_windows(path)
    assert str(err.value).startswith(f"--data {path}: ") and message in str(err.value)
    assert "\n" not in str(err.value)


def test_train_refuses_a_1ns_stream_with_exit_2_and_writes_nothing(tmp_path):
    from click.testing import CliRunner

    from edgekit.cli import main, train_cmd  # noqa: F401 - importing registers the command

    path, _ = _stream(tmp_path, 1)
    out = tmp_path / "run"
    result = CliRunner().invoke(main, ["train", "--data", str(path), "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "the timestamps say 1e+09 Hz" in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_synthetic_data_is_20_hz():
    rec = synthetic_recording(seed=0, users=2, seconds_per_activity=10)
    assert median_step_ns(rec) == 50_000_000
    assert len(load_windows("synthetic")[0]) > 0


def test_real_watch_file_is_measured_at_20_hz():
    env = os.environ.get("EDGEKIT_WISDM_RAW")
    if not env:
        pytest.skip("set EDGEKIT_WISDM_RAW to the real raw stream (wisdm2019-watch_raw.txt.gz)")
    rec = read_raw(Path(env))
    assert median_step_ns(rec) == 50_000_000 and check_rate(rec, 20.0, env) == 20.0
