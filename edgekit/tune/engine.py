"""``edgekit tune``: search the compact family and the recipe under a board's budget, on Ray Tune.

Layout of TUNE (the --out folder): ``tune.json`` (the arguments; a resume must repeat them),
``experiment/`` (Ray Tune's experiment state: trials, searcher and scheduler checkpoints, which is
what makes the same command resume after Ctrl-C), ``rejected.jsonl`` (candidates priced and refused
before training), ``trials.json``, ``front.json``, ``best.toml`` (the front's most accurate model
description: ``edgekit build --model TUNE/best.toml``) and ``report.html``.

What varies between two runs with the same --seed: every trial trains from the same seed and TPE is
seeded, but with more than one trial at a time the order in which results reach the searcher and
ASHA depends on timing, so later suggestions and pruning decisions can differ. With one CPU (one
trial at a time) the sequence is repeatable up to TF's deterministic kernels.
"""

from __future__ import annotations

import json
import logging
import os
import re
import signal
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import artifacts
from ..errors import EdgekitError

EXPERIMENT = "experiment"
ARGS_FILE = "tune.json"
REJECTED = "rejected.jsonl"
BEST = "best.toml"


@dataclass(frozen=True)
class TuneOptions:
    """Everything that defines a tune; a resume must repeat it exactly."""

    board: str
    data: str | None
    out: str
    max_latency_ms: float | None = None
    trials: int = 32
    epochs: int = 30
    batch_size: int = 400
    seed: int = 0
    test_users: str | None = None
    address: str | None = field(default=None, compare=False)  # where it runs does not change what it finds

    def identity(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if k != "address"}


def check_options(opts: TuneOptions) -> Any:
    """Every bad input is one EdgekitError here, before Ray starts or anything is written."""
    from ..boards import load_board

    board = load_board(opts.board)
    if opts.trials < 1:
        raise EdgekitError(f"--trials {opts.trials}: must be at least 1")
    if opts.epochs < 1:
        raise EdgekitError(f"--epochs {opts.epochs}: must be at least 1")
    if opts.max_latency_ms is not None and not opts.max_latency_ms > 0:
        raise EdgekitError(f"--max-latency-ms {opts.max_latency_ms}: must be a positive number of milliseconds")
    if opts.address is not None and not re.fullmatch(r"(ray://)?[\w.\-]+:\d{1,5}|auto", opts.address):
        raise EdgekitError(
            f"--address {opts.address}: expected HOST:PORT of a Ray head (e.g. 127.0.0.1:6379) or 'auto'"
        )
    if opts.data not in (None, "synthetic") and not Path(opts.data).is_file():
        raise EdgekitError(f"--data {opts.data}: no such file; pass a WISDM .txt/.npz or 'synthetic'")
    out = Path(opts.out)
    if out.exists() and not out.is_dir():
        raise EdgekitError(f"--out {out}: exists and is not a folder; choose another --out")
    previous = out / ARGS_FILE
    if previous.is_file():
        old = json.loads(previous.read_text())
        if old != opts.identity():
            changed = sorted(k for k in old if old.get(k) != opts.identity().get(k))
            raise EdgekitError(
                f"--out {out}: holds a tune with different {', '.join(changed) or 'arguments'}; "
                "repeat its arguments to resume it, or choose a new --out"
            )
    elif out.is_dir() and any(out.iterdir()):
        raise EdgekitError(f"--out {out}: is a non-empty folder that is not a tune; choose a new --out")
    return board


def _start_ray(address: str | None) -> None:
    if not address or address.removeprefix("ray://").split(":")[0] in ("127.0.0.1", "localhost"):
        # Ray maps 127.0.0.1 to the machine's routable address unless its "local only" switch (meant for
        # Windows/macOS) is set before it is imported; with it, GCS, raylet and workers bind to loopback,
        # and a driver joining a head on 127.0.0.1 looks for its local raylet there too (else it waits forever).
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    token = os.environ.get("RAY_AUTH_TOKEN") or (Path.home() / ".ray" / "auth_token").is_file()
    if address and token and "RAY_AUTH_MODE" not in os.environ:
        # 'ray start --head' turns on token authentication when a token exists, but a driver joining it does
        # not (Ray 2.60) and is refused; present the same token the head uses (read when ray is imported).
        os.environ["RAY_AUTH_MODE"] = "token"
    import ray

    common: dict[str, Any] = {"include_dashboard": False, "logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        ray.init(address=address, **common)
    else:  # one trial per core, nothing listening beyond the loopback interface
        ray.init(num_cpus=os.cpu_count() or 1, _node_ip_address="127.0.0.1", **common)


def tune_run(opts: TuneOptions) -> dict[str, Any]:
    """Run (or resume) a tune to completion; returns the summary the CLI prints."""
    board = check_options(opts)
    out = Path(opts.out).resolve()
    from ..train import TrainConfig, load_prepared
    from .trial import without_test_users

    config = TrainConfig(epochs=opts.epochs, batch_size=opts.batch_size, test_users=opts.test_users)
    prepared, source, split = load_prepared(opts.data, config, opts.seed)
    out.mkdir(parents=True, exist_ok=True)
    artifacts.write_json_atomic(out / ARGS_FILE, opts.identity())
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    _start_ray(opts.address)
    import ray

    try:
        cluster = {"gcs_address": ray.get_runtime_context().gcs_address, "cpus": ray.cluster_resources().get("CPU", 0)}
        grid, resumed = _fit(opts, board, prepared, without_test_users(prepared), out)
    finally:
        ray.shutdown()
    return dict(_write_outputs(opts, out, grid, split, resumed), ray=cluster)


def _fit(opts: TuneOptions, board: Any, prepared: Any, trial_data: Any, out: Path) -> tuple[Any, bool]:
    import optuna
    from optuna.samplers import TPESampler
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search.optuna import OptunaSearch

    from .budget import Pricer
    from .front import ProgressLines
    from .search import METRIC, BudgetSearch
    from .space import COMPACT_POINT, define_space
    from .trial import run_trial

    trainable = tune.with_resources(
        tune.with_parameters(
            run_trial, prepared=trial_data, epochs=opts.epochs, seed=opts.seed, batch_size=opts.batch_size
        ),
        {"cpu": 1},
    )
    path = out / EXPERIMENT
    if tune.Tuner.can_restore(str(path)):
        tuner = tune.Tuner.restore(str(path), trainable, resume_unfinished=True, resume_errored=True)
        return _fit_watching_sigint(tuner), True
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # its "study created" line is not edgekit's progress
    inner = OptunaSearch(
        space=define_space,
        metric=METRIC,
        mode="max",
        sampler=TPESampler(seed=opts.seed),
        points_to_evaluate=[COMPACT_POINT],
    )
    search = BudgetSearch(inner, Pricer(board, prepared.contract, opts.max_latency_ms), out / REJECTED)
    scheduler = ASHAScheduler(max_t=opts.epochs, grace_period=max(1, opts.epochs // 4), reduction_factor=3)
    tuner = tune.Tuner(
        trainable,
        tune_config=tune.TuneConfig(
            metric=METRIC, mode="max", search_alg=search, scheduler=scheduler, num_samples=opts.trials
        ),
        run_config=tune.RunConfig(
            name=EXPERIMENT, storage_path=str(out), verbose=0, callbacks=[ProgressLines(opts.trials)]
        ),
    )
    return _fit_watching_sigint(tuner), False


def _fit_watching_sigint(tuner: Any) -> Any:
    """``tuner.fit()``; raises KeyboardInterrupt afterwards if Ctrl-C stopped it (Ray saved the state first).

    Ray Tune catches SIGINT itself, ends the run, saves the experiment and returns normally; its handler
    puts the previous handler back when (and only when) the signal came, which is how it is told apart.
    """
    if threading.current_thread() is not threading.main_thread():
        return tuner.fit()
    before = signal.getsignal(signal.SIGINT)
    try:
        grid = tuner.fit()
        interrupted = signal.getsignal(signal.SIGINT) is before
    finally:
        signal.signal(signal.SIGINT, before)
    if interrupted:
        raise KeyboardInterrupt
    return grid


def _write_outputs(opts: TuneOptions, out: Path, grid: Any, split: Any, resumed: bool) -> dict[str, Any]:
    from .front import best, pareto_front, record
    from .report import render

    finished = _finished_trials(grid)
    records = []
    for result in grid:
        metrics = result.metrics or {}
        if result.config and "val_accuracy" in metrics and metrics.get("trial_id") in finished:
            records.append(record(metrics["trial_id"], result.config, metrics))
    records.sort(key=lambda r: r.trial_id)
    rejected_path = out / REJECTED
    rejected = rejected_path.read_text().splitlines() if rejected_path.is_file() else []
    front = pareto_front(records)
    chosen = best(records)
    complete = len(records) >= opts.trials or len(finished) == len(list(grid))  # or TPE ran out of fitting ones
    if chosen is not None:
        header = (
            f"# edgekit tune --board {opts.board}: the Pareto front's most accurate candidate ({chosen.label}).\n"
            f"# Validation accuracy {chosen.val_accuracy:.4f} (users {', '.join(map(str, split.val))}), latency "
            f"{chosen.latency_ms:.1f} ms ({chosen.latency_source}), flash {chosen.flash_bytes:,} B.\n"
            f"# Build it: edgekit build --board {opts.board} --model {Path(opts.out) / BEST} --recipe {chosen.recipe}\n"
        )
        artifacts.write_text_atomic(out / BEST, header + chosen.model_toml)
    artifacts.write_json_atomic(out / "trials.json", [r.to_dict() for r in records])
    artifacts.write_json_atomic(out / "front.json", [r.to_dict() for r in front])
    budget = f"{opts.max_latency_ms:g} ms" if opts.max_latency_ms is not None else "no latency limit"
    facts = {
        "board": opts.board,
        "trained": len(records),
        "kept": sum(r.kept for r in records),
        "pruned": sum(not r.kept for r in records),
        "rejected": len(rejected),
        "budget": budget,
        "val_users": ", ".join(str(u) for u in split.val),
        "complete": complete,
        "trials": opts.trials,
        "best_path": str(Path(opts.out) / BEST),
        "best_recipe": chosen.recipe if chosen else "seed",
    }
    artifacts.write_text_atomic(out / "report.html", render(records, facts))
    return dict(facts, resumed=resumed, front=[r.to_dict() for r in front], best=chosen.to_dict() if chosen else None)


def _finished_trials(grid: Any) -> set[str]:
    """Ids of trials Ray marked TERMINATED (trained to the end or pruned by ASHA); an interrupted tune
    leaves the others PENDING/RUNNING, and they are neither reported nor counted until it resumes."""
    trials = getattr(getattr(grid, "_experiment_analysis", None), "trials", None) or []
    return {t.trial_id for t in trials if t.status == "TERMINATED"}
