"""edgekit tune (Ray Tune + Optuna + ASHA) and the training recipes, on synthetic data with tiny epochs.

The tune tests start real Ray instances (a local one, and a head started with ``ray start`` on the
loopback address) and train real candidates; they are marked ``slow`` (about a minute each here).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from edgekit.contract import Contract
from edgekit.modelspec import load_spec
from edgekit.recipe import RECIPES, Augmenter, Recipe, _time_warp
from edgekit.tune.front import TrialRecord, pareto_front
from edgekit.tune.space import COMPACT_POINT, spec_from_params

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--data", "synthetic", "--epochs", "2", "--batch-size", "64", "--seed", "0"]


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def _edgekit(*args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "edgekit", *args], capture_output=True, text=True, env=_env(), timeout=timeout
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _stop_head(temp: Path) -> None:
    """Stop only the head this test started: its processes carry its unique --temp-dir on their command line
    (``ray stop`` would stop every Ray instance of this user on the machine, e.g. a tune running beside it)."""
    ours = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if str(temp).encode() in (proc / "cmdline").read_bytes():
                ours.append(int(proc.name))
        except OSError:
            continue
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in ours:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        time.sleep(3)


# --------------------------------------------------------------------------- fast: no Ray, no training


def test_compact_is_a_point_of_the_search_space():
    spec = spec_from_params(COMPACT_POINT, name="compact")
    assert spec.layers == load_spec("compact").layers


def _rec(i: int, acc: float, ms: float, flash: int, kept: bool = True) -> TrialRecord:
    return TrialRecord(f"t{i}", f"c{i}", acc, ms, flash, 0, 0, 2 if kept else 1, 2, "seed", "")


def test_pareto_front_keeps_only_undominated_kept_trials():
    records = [
        _rec(1, 0.80, 30, 100),
        _rec(2, 0.85, 40, 120),
        _rec(3, 0.79, 35, 130),  # dominated by 1
        _rec(4, 0.90, 20, 90, kept=False),  # pruned: never on the front
        _rec(5, 0.80, 30, 90),  # dominates 1
    ]
    assert [r.trial_id for r in pareto_front(records)] == ["t2", "t5"]


def test_the_report_says_whether_each_latency_was_measured_or_estimated():
    """The page and its table called measured latencies an estimate; now each row says which it is."""
    from dataclasses import replace

    from edgekit.tune.report import render

    facts = {
        "board": "nano33",
        "trained": 2,
        "kept": 2,
        "pruned": 0,
        "rejected": 0,
        "budget": "50 ms",
        "val_users": "8, 14",
        "complete": True,
        "trials": 2,
        "best_path": "runs/tune/best.toml",
        "best_recipe": "seed",
    }
    measured = [
        replace(_rec(1, 0.85, 38.7, 100), latency_source="measured"),
        replace(_rec(2, 0.80, 20, 90), latency_source="measured"),
    ]
    page = render(measured, facts)
    assert "Latency is measured" in page and "(est.)" not in page and "estimate" not in page
    mixed = render([measured[0], _rec(2, 0.80, 20, 90)], facts)
    assert "else the cost-model estimate" in mixed and mixed.count("(est.)") == 2  # the row, in both tables


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--board", "nope"], "--board nope"),
        (["--board", "nano33", "--address", "not an address"], "--address"),
        (["--board", "nano33", "--trials", "0"], "--trials"),
        (["--board", "nano33", "--max-latency-ms", "0"], "--max-latency-ms"),
        (["--board", "nano33", "--data", "/no/such.npz"], "--data"),
    ],
)
def test_bad_tune_input_is_one_line_and_exit_2(tmp_path, args, message):
    out = tmp_path / "tune"
    result = _edgekit("tune", *TINY[2:], *args, "--out", str(out), timeout=120)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert not out.exists()


def test_tune_refuses_a_folder_that_is_not_a_tune(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = _edgekit("tune", "--board", "nano33", *TINY, "--out", str(tmp_path), timeout=120)
    assert result.returncode == 2 and "not a tune" in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]


def _contract(prenormalized: bool) -> Contract:
    return Contract(
        window=80, hop=40, rate_hz=20.0, labels=list("abcdef"), units="z-score" if prenormalized else "m/s^2",
        mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], clip_low=[-1e9] * 3, clip_high=[1e9] * 3,
        prenormalized=prenormalized,
    )  # fmt: skip


def test_rotation_about_gravity_keeps_every_sample_magnitude_and_gravity():
    rng = np.random.default_rng(0)
    gravity = np.array([0.5, 9.7, 1.2])
    x = (gravity + rng.normal(0, 2, (16, 80, 3))).reshape(16, -1).astype(np.float32)
    out = Augmenter(Recipe(rotate_deg=90.0), _contract(False))(x, np.random.default_rng(1))
    before, after = x.reshape(16, 80, 3), out.reshape(16, 80, 3)
    np.testing.assert_allclose(np.linalg.norm(after, axis=2), np.linalg.norm(before, axis=2), rtol=1e-5)
    np.testing.assert_allclose(after.mean(axis=1), before.mean(axis=1), atol=1e-3)  # the axis itself stays put
    assert not np.allclose(after, before)


def test_time_warp_at_speed_one_is_the_identity_and_stays_on_the_grid():
    raw = np.random.default_rng(0).normal(size=(4, 80, 3))
    np.testing.assert_allclose(_time_warp(raw, np.ones(4)), raw)
    assert _time_warp(raw, np.full(4, 1.1)).shape == raw.shape


def test_seed_recipe_is_all_off():
    assert RECIPES["seed"] == Recipe() and not Recipe().augments
    assert RECIPES["robust"].augments and RECIPES["robust"].label_smoothing > 0


@pytest.mark.slow
def test_recipes_train_deterministically_and_differently():
    """--recipe seed is today's code path; robust is repeatable for a seed and changes the weights."""
    from edgekit.train import TrainConfig, fit, load_prepared

    config = TrainConfig(model="compact", epochs=2, batch_size=64, min_epochs=2)
    prepared, _, _ = load_prepared("synthetic", config, 0)

    def weights(recipe: str) -> list[np.ndarray]:
        model, _, _ = fit(prepared, TrainConfig(**{**config.__dict__, "recipe": recipe}), 0)
        return model.get_weights()

    seed_a, robust_a, robust_b = weights("seed"), weights("robust"), weights("robust")
    for a, b in zip(robust_a, robust_b, strict=True):
        np.testing.assert_array_equal(a, b)
    assert any(not np.array_equal(a, b) for a, b in zip(seed_a, robust_a, strict=True))


# --------------------------------------------------------------------------- slow: real Ray, real training


@pytest.fixture(scope="module")
def local_tune(tmp_path_factory):
    """A 2-trial tune in local mode with a latency budget that rejects some candidates (seeded TPE)."""
    out = tmp_path_factory.mktemp("tune") / "local"
    start = time.time()
    result = _edgekit("tune", "--board", "nano33", *TINY, "--trials", "2", "--max-latency-ms", "35", "--json",
                      "--out", str(out))  # fmt: skip
    return out, result, time.time() - start


@pytest.mark.slow
def test_two_trial_tune_in_local_mode(local_tune, tmp_path):
    out, result, _ = local_tune
    assert result.returncode == 0, result.stderr[-3000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["trained"] == 2 and summary["complete"]
    assert summary["ray"]["gcs_address"].startswith("127.0.0.1:")
    trials = json.loads((out / "trials.json").read_text())
    assert len(trials) == 2 and all(t["latency_ms"] <= 35 for t in trials)
    assert all(t["latency_source"] == "measured" for t in trials)  # on the emulated Cortex-M4, not estimated
    html = (out / "report.html").read_text()
    assert "Pareto front" in html and "<svg" in html
    best = load_spec(out / "best.toml")
    assert best.name.startswith("tuned")
    # the chosen description is a normal --model for train (and so for build)
    train = _edgekit("train", "--model", str(out / "best.toml"), *TINY, "--epochs", "1", "--json",
                     "--out", str(tmp_path / "run"))  # fmt: skip
    assert train.returncode == 0, train.stderr[-2000:]
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["model"]["spec"] == best.to_dict()


@pytest.mark.slow
def test_over_budget_candidates_are_never_trained(local_tune):
    """Observed, not mocked: every rejected candidate is absent from Ray's trials and their folders."""
    out, result, _ = local_tune
    assert result.returncode == 0, result.stderr[-3000:]
    rejected = [json.loads(line) for line in (out / "rejected.jsonl").read_text().splitlines()]
    assert rejected, "the 35 ms budget should have refused at least one seeded TPE proposal"
    assert all(r["cost"]["reject"] for r in rejected)
    trial_dirs = [p for p in (out / "experiment").iterdir() if p.is_dir()]
    assert len(trial_dirs) == 2  # one folder per trained candidate, none for the rejected ones
    trained = []
    for d in trial_dirs:
        trained.append(json.loads((d / "params.json").read_text()))
        lines = (d / "result.json").read_text().splitlines()
        assert lines and all(json.loads(x)["latency_ms"] <= 35 for x in lines)
    keys = [k for k in rejected[0]["params"]]
    for r in rejected:
        assert all({k: t.get(k) for k in keys} != r["params"] for t in trained)


@pytest.mark.slow
def test_tune_on_a_ray_head_started_on_loopback(tmp_path):
    port = _free_port()
    env = dict(_env(), RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")  # keep the head on 127.0.0.1, not the LAN address
    temp = Path(tempfile.mkdtemp(prefix="rh", dir="/tmp"))  # Ray's socket paths must stay under 108 bytes
    start = subprocess.run(
        ["ray", "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port), "--include-dashboard=false",
         "--num-cpus", "2", "--temp-dir", str(temp), "--disable-usage-stats"],
        capture_output=True, text=True, env=env, timeout=180,
    )  # fmt: skip
    try:
        assert start.returncode == 0, start.stderr[-2000:]
        out = tmp_path / "tune"
        result = _edgekit("tune", "--board", "nano33", *TINY, "--trials", "2", "--address", f"127.0.0.1:{port}",
                          "--json", "--out", str(out))  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        summary = json.loads(result.stdout.strip().splitlines()[-1])
        assert summary["ray"]["gcs_address"] == f"127.0.0.1:{port}"  # joined the head, did not start its own
        assert summary["trained"] == 2
        assert len(json.loads((out / "trials.json").read_text())) == 2
        worker_logs = list((temp / "session_latest" / "logs").glob("worker-*"))
        assert worker_logs, "the trials ran in the head's workers"
    finally:
        _stop_head(temp)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_interrupted_tune_resumes_with_the_same_command(tmp_path):
    out = tmp_path / "tune"
    args = [sys.executable, "-m", "edgekit", "tune", "--board", "nano33", *TINY, "--trials", "3", "--out", str(out)]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=_env())
    seen = []
    try:
        for line in first.stdout:
            seen.append(line)
            if line.startswith("trial 1/3"):
                break
        first.send_signal(signal.SIGINT)
        first.communicate(timeout=300)
    finally:
        if first.poll() is None:
            first.kill()
    assert any(line.startswith("trial 1/3") for line in seen), "".join(seen)
    assert first.returncode != 0  # interrupted: not reported as a finished tune
    done_before = {d.name for d in (out / "experiment").iterdir() if (d / "result.json").is_file()}
    second = _edgekit("tune", "--board", "nano33", *TINY, "--trials", "3", "--json", "--out", str(out))
    assert second.returncode == 0, second.stderr[-3000:]
    summary = json.loads(second.stdout.strip().splitlines()[-1])
    assert summary["resumed"] and summary["complete"] and summary["trained"] == 3
    trial_dirs = {d.name for d in (out / "experiment").iterdir() if d.is_dir()}
    assert done_before <= trial_dirs and len(trial_dirs) == 3
    changed = _edgekit("tune", "--board", "nano33", *TINY, "--trials", "4", "--out", str(out), timeout=120)
    assert changed.returncode == 2 and "different trials" in changed.stderr


@pytest.mark.slow  # cross-compiles the board's runtime and runs it under QEMU
def test_candidates_are_priced_with_the_latency_the_emulated_board_measures():
    """The budget is checked against the board's own runtime on its emulated core, the number ``edgekit
    build`` reports, not the cost model's estimate (16-40 % low on the Cortex-M4 for this family)."""
    from edgekit.boards import load_board
    from edgekit.contract import LABELS
    from edgekit.tune.budget import candidate_cost

    board = load_board("nano33")
    contract = Contract(80, 40, 20.0, list(LABELS), "m/s^2", [0.0] * 3, [1.0] * 3, [-20.0] * 3, [20.0] * 3)
    spec = spec_from_params(dict(COMPACT_POINT), name="compact_point")
    measured = candidate_cost(spec, board, contract, max_latency_ms=None)
    assert measured.latency_source == "measured" and measured.reject == ""
    estimated = candidate_cost(spec, board, contract, max_latency_ms=0.001)  # over budget by its estimate alone
    assert estimated.latency_source == "estimate" and "latency" in estimated.reject
    assert measured.latency_ms > estimated.latency_ms  # the estimate is low; the measurement decides
    tight = candidate_cost(spec, board, contract, max_latency_ms=(measured.latency_ms + estimated.latency_ms) / 2)
    assert tight.latency_source == "measured" and "(measured)" in tight.reject  # passes the estimate, not the board
