"""``edgekit build``: data -> float model -> int8 model -> parity gate -> firmware, in one folder.

The whole run is staged beside ``--out`` and swapped in only when every stage passed, so the last
good folder survives a crash, a failed gate or a model that does not fit. Training is skipped when
``--out`` already holds a model trained on the same data (sha256), config and seed. A run whose
parity gate fails is kept as ``<out>.failed`` for inspection, never in place of a good one.
"""

from __future__ import annotations

import os
import shutil
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from . import artifacts, progress
from . import profile as profiling
from .artifacts import HISTORY, MANIFEST, METRICS, MODEL_KERAS
from .boards import Board, fit_check, load_board, parse_axis_map
from .contract import N_CLASSES, Contract, check_labels
from .data import check_source
from .errors import EdgekitError, GateFailed
from .firmware import generate_firmware
from .firmware.calibration import check_norm_source, firmware_contract
from .profile import Footprint, board_arena, emulated_core, sketch_footprint
from .records import (
    ArenaMeasured,
    BoardRungSummary,
    BuildSummary,
    Calibration,
    ParityReport,
    ProfileResult,
)
from .run import Run, board_file
from .train import TrainConfig, cache_key, train_into
from .wording import ms_range, plural, windows_differ

SKETCH_NAME = "edgekit_har"


def estimate_fit(board: Board, config: TrainConfig, n_classes: int = N_CLASSES) -> None:
    """Refuse before training when the int8 weights alone cannot fit the board."""
    from .model import build_model

    params = build_model(config.model, config.window, 3, n_classes).count_params()
    fit_check(board, model_bytes=int(params), arena_bytes=0).raise_if_not_fit(config.model)


def data_sha256(data: str | Path | None, seed: int) -> str | None:
    """The data fingerprint a cached model must match (None when it cannot be known cheaply)."""
    from .data import SYNTHETIC, load_recording

    if data is None:
        return None
    if str(data) == SYNTHETIC:
        return load_recording(data, seed)[1]["sha256"]
    path = Path(data)
    return artifacts.sha256_file(path) if path.is_file() else None


def reuse_training(out: Path, stage: Path, data: str | Path | None, config: TrainConfig, seed: int) -> bool:
    """Copy the trained model from ``out`` when data, config and seed are unchanged."""
    if not artifacts.is_edgekit_dir(out) or not (out / MODEL_KERAS).is_file():
        return False
    digest = data_sha256(data, seed)
    old = Run(out)
    if digest is None or old.manifest.other.get("cache_key") != cache_key({"sha256": digest}, config, seed):
        return False
    for name in (MODEL_KERAS, METRICS, HISTORY):
        shutil.copy2(out / name, stage / name)
    training = old.manifest.training
    reused = replace(
        old.manifest,
        contract=replace(old.contract, quant=None),  # the stages after training are redone
        training=replace(training, reused_from=str(out)) if training is not None else None,
        quantize=None,
        build=None,
        other={k: v for k, v in old.manifest.other.items() if k != "parity"},
    )
    manifest = reused.to_dict()
    artifacts.write_json_atomic(stage / MANIFEST, manifest)
    progress.note(f"reusing the model trained in {out} (same data, config and seed)")
    return True


def _firmware_labels(data: str | Path | None) -> Any:
    """A check the data stage runs on the windows it read: labels the board can print, before training."""
    return lambda windows: check_labels(list(windows.classes), f"--data {data}")


def golden_indices(n_test: int, count: int) -> np.ndarray:
    """The held-out windows the on-board self-test checks: ``count`` evenly spread ones."""
    if count <= 0 or n_test == 0:
        return np.zeros(0, dtype=int)
    return np.linspace(0, n_test - 1, num=min(count, n_test)).round().astype(int)


def selftest_windows(run: Run, contract: Contract, tflite: bytes, count: int, board_runtime: Any = None) -> Any:
    """K held-out windows (evenly spread) and the outputs the board must reproduce at boot.

    The expected outputs come from the board's own runtime on the emulated core when it ran here
    (``board_runtime``, an :class:`edgekit.runtime.harness.BoardRuntime`), else from the desktop TFLM,
    which the board-runtime rungs check against the same windows whenever they can run.
    """
    from .firmware import make_selftest
    from .runtimes import quantize_input

    prepared = run.prepared()
    pick = golden_indices(len(prepared.y_test), count)
    q = contract.quant
    assert q is not None
    inputs = quantize_input(prepared.x_test[pick], q.input_scale, q.input_zero_point)
    expected = board_runtime.run(inputs).outputs if board_runtime is not None else None
    return make_selftest(tflite, inputs, expected)


def _board_plan(board: Board, run: Run, selftest: int, windows: int, runtime_src: Path | None) -> Any:
    from .runtime.rungs import BoardRungPlan

    assert board.tflm is not None
    n_test = len(run.prepared().y_test) if selftest else 0
    golden = tuple(int(i) for i in golden_indices(n_test, selftest))
    return BoardRungPlan(
        emulated=emulated_core(board),
        windows=windows,
        golden=golden,
        runtime_src=runtime_src,
        hot_kernels=board.tflm.hot_kernels,
    )


def _emulated_runtime(report: ParityReport, plan: Any, tflite: bytes) -> Any:
    """The emulated board's runtime the parity rung ran (from the build cache), or None if it did not run."""
    from .runtime.harness import BoardRuntime, model_interface, model_sources, op_methods
    from .runtime.sources import locate_sources
    from .runtime.toolchain import TARGETS
    from .runtimes import inspect_tflite

    rung = report.board.rungs.get(plan.emulated)
    if rung is None or not rung.ran:
        return None
    model = model_sources(
        tflite,
        model_interface(tflite, inspect_tflite(tflite)),
        locate_sources(plan.runtime_src),
        op_methods(),
        plan.hot_kernels,
    )
    return BoardRuntime(model, TARGETS[plan.emulated])


def resolve_board(board: Board | str | Path) -> Board:
    """The one place ``build`` turns ``--board`` (a shipped board's name or a board file's path) into a Board."""
    return board if isinstance(board, Board) else load_board(board)


def build_run(
    board: Board | str | Path,
    data: str | Path | None,
    out: Path,
    config: TrainConfig | None = None,
    seed: int = 0,
    axis_map: str | None = None,
    norm_from: Path | None = None,
    selftest: int = 0,
    max_drop_pp: float = 1.0,
    require_bit_exact: bool = False,
    max_int8_step: int = 1,
    representative: int = 300,
    force: bool = False,
    runtime_src: Path | None = None,
    board_windows: int = 512,
    require_board_runtime: bool = False,
) -> BuildSummary:
    """Run every stage into a staged folder and return the build summary.

    ``board`` is resolved once (a name or a board file) and that one Board goes to every stage; the run
    folder is opened once as a :class:`Run`, so the data is read once however many stages need windows.
    """
    from .quantize import load_quantized, quantize_run
    from .report import write_report

    config = config or TrainConfig()
    config.validate()
    out = Path(out)
    check_source(data)
    artifacts.check_output_dir(out, force)
    if representative < 1:
        raise EdgekitError(f"--representative {representative}: must be at least 1")
    norm = check_norm_source(data, norm_from)
    board = resolve_board(board)
    if axis_map is not None:
        parse_axis_map(axis_map)
    if selftest < 0:
        raise EdgekitError(f"--selftest {selftest}: must be 0 (off) or a number of windows")
    estimate_fit(board, config)  # unannounced: a refusal here must be the only line a user sees
    with progress.step("checking the board's TFLM runtime sources"):
        from .runtime.sources import locate_sources

        locate_sources(runtime_src)  # the sketch ships them: a missing or wrong copy fails before training
    failed = artifacts.failed_dir(out)
    stale_failed = _folder_identity(failed)  # the failed copy this build makes stale, if it succeeds
    with artifacts.staged_dir(out, force=force) as stage:
        artifacts.mark_stage_owner(stage)
        if not reuse_training(out, stage, data, config, seed):
            train_into(stage, data, config, seed, check_windows=_firmware_labels(data))
        run = Run(stage, board)
        fw_contract, calibration = firmware_contract(run.contract, norm_from, norm)
        quantize_run(run, representative=representative, seed=seed)
        tflite, _, contract = load_quantized(stage)
        fw_contract = replace(fw_contract, quant=contract.quant)
        plan = _board_plan(board, run, selftest, board_windows, runtime_src)
        report = _parity(run, plan, out, failed, max_drop_pp, require_bit_exact, max_int8_step, require_board_runtime)
        tests = _selftest(run, contract, tflite, selftest, report, plan)
        with progress.step("generating firmware"):
            sketch = generate_firmware(
                tflite,
                fw_contract,
                board,
                stage / artifacts.FIRMWARE_DIR,
                SKETCH_NAME,
                axis_map=axis_map,
                selftest=tests,
                runtime_src=runtime_src,
                board_arena=board_arena(_rungs(report), board),
                model=config.model,
                max_gap_s=config.max_gap_s,
            )
        with progress.step("estimating the latency on the board (edgekit profile)"):
            profile = profiling.profile_run(run, board, selftest_windows=len(tests) if tests is not None else 0)
        if isinstance(profile.get("run"), dict):  # the stage's temporary name would be stale once swapped in
            profile["run"]["dir"] = str(out)
        typed = ProfileResult.from_dict(profile)
        summary = _summary(stage, out, board, report, tflite, fw_contract, sketch, tests, calibration, typed)
        artifacts.update_manifest(stage, build=summary.to_dict(), profile=profile)
        write_report(stage)  # announces itself: a step around it printed every line twice
        (stage / ".pid").unlink(missing_ok=True)
    _drop_stale_failed(failed, stale_failed)
    return summary


def _parity(
    run: Run,
    plan: Any,
    out: Path,
    failed: Path,
    max_drop_pp: float,
    require_bit_exact: bool,
    max_int8_step: int,
    require_board_runtime: bool,
) -> ParityReport:
    """The parity ladder on the stage; a failing gate keeps the stage as ``<out>.failed`` and raises."""
    from .parity import check_gates, run_parity
    from .report import write_report

    report = run_parity(
        run,
        max_drop_pp,
        require_bit_exact,
        max_int8_step=max_int8_step,
        enforce=False,
        board=plan,
        require_board_runtime=require_board_runtime,
    )
    if not report["passed"]:
        write_report(run.path)  # the kept copy is read by a person: give it its page
        kept = _keep_failed(run.path, out, failed)
        check_gates(report, str(kept / artifacts.PARITY_JSON))
    return ParityReport.from_dict(report, str(run.path / artifacts.PARITY_JSON))


def _rungs(report: ParityReport) -> dict[str, Any]:
    return {name: rung.to_dict() for name, rung in report.board.rungs.items()}


def _selftest(run: Run, contract: Contract, tflite: bytes, count: int, report: ParityReport, plan: Any) -> Any:
    """The self-test windows the sketch embeds (None without ``--selftest``)."""
    if not count:
        return None
    return selftest_windows(run, contract, tflite, count, _emulated_runtime(report, plan, tflite))


def _folder_identity(path: Path) -> tuple[int, int] | None:
    """(device, inode) of folder ``path``: a folder renamed into its place since is another folder."""
    try:
        st = path.lstat()
    except OSError:
        return None
    return (st.st_dev, st.st_ino) if stat.S_ISDIR(st.st_mode) else None


def _drop_stale_failed(failed: Path, seen: tuple[int, int] | None) -> None:
    """Delete the failed copy that was there when this build started, if it holds only edgekit's files.

    Another build that failed meanwhile put a new copy there and told its user to read it, so a copy that
    is not the one seen at the start stays; so does one holding files edgekit did not write (notes, plots).
    """
    if seen is None or _folder_identity(failed) != seen or not artifacts.is_edgekit_dir(failed):
        return
    if artifacts.user_files(failed):
        progress.note(f"kept {failed} (the last failed run): it holds files edgekit did not write")
        return
    shutil.rmtree(failed, ignore_errors=True)


def _keep_failed(stage: Path, out: Path, failed: Path) -> Path:
    """Copy a gate-failing stage aside so its parity report can be read; the good run stays.

    The copy is staged and renamed like every folder edgekit writes, and it only ever replaces an
    earlier failed run with nothing of the user's in it: a user's folder that happens to have the name,
    or an earlier copy the user added files to, makes it go to a new sibling.
    """
    # named as a stage of ``failed``, so the next run's recover_stale removes it if this copy is killed
    tmp = artifacts.make_sibling_dir(failed.parent, artifacts.stage_prefix(failed))
    artifacts.mark_stage_owner(tmp)  # a concurrent build's recovery leaves a live copy alone
    if failed.exists() and (not artifacts.is_edgekit_dir(failed) or artifacts.user_files(failed)):
        failed = artifacts.make_sibling_dir(failed.parent, failed.name + "-")
        failed.rmdir()
    shutil.copytree(stage, tmp, ignore=shutil.ignore_patterns(".pid"), dirs_exist_ok=True)
    (tmp / ".pid").unlink()
    if failed.exists():
        shutil.rmtree(failed)
    os.replace(tmp, failed)
    return failed


def _summary(
    stage: Path,
    out: Path,
    board: Board,
    report: ParityReport,
    tflite: bytes,
    contract: Contract,
    sketch: Path,
    tests: Any,
    calibration: Calibration | None,
    profile: ProfileResult,
) -> BuildSummary:
    """The build summary, its footprint computed by the function ``edgekit profile`` uses too."""
    selftest = 0 if tests is None else int(len(tests.inputs))
    fit, arena = sketch_footprint(tflite, contract, board, Footprint(selftest, _rungs(report)))
    rungs, pairs = report.rungs, report.pairs
    assert report.gates is not None
    return BuildSummary(
        board=board.name,
        fqbn=board.fqbn,
        float_accuracy=rungs["float"].accuracy,
        litert_accuracy=rungs["litert"].accuracy,
        tflm_accuracy=rungs["tflm"].accuracy,
        accuracy_drop_pp=report.gates["accuracy_drop_pp"].value,
        agreement_float_tflm=pairs["float->tflm"].top1_agreement,
        int8_windows_differ=int(report.runtime_pair.int8_windows_differ or 0),
        int8_max_step_diff=int(report.runtime_pair.int8_max_step_diff or 0),
        model_bytes=len(tflite),
        arena_bytes=arena.total,
        arena_measured=ArenaMeasured(arena.measured, arena.measured_source),
        board_runtime={name: rung.summary() for name, rung in report.board.rungs.items()},
        fit=fit.to_dict(),
        fit_summary=fit.summary(),
        sketch=str(out / sketch.relative_to(stage)),
        selftest_windows=selftest,
        calibration=calibration,
        estimate=profile.estimate.latency() if profile.estimate else None,
        measured=profile.measured.latency() if profile.measured else None,
        board_file=board_file(board),
    )


def _rung_line(rung: BoardRungSummary) -> str:
    if not rung.ran:
        return f"{rung.title}: NOT RUN ({rung.reason})"
    return f"{rung.title}: {windows_differ(rung.windows_differ or 0, rung.windows)} from desktop TFLM" + (
        f", {rung.instructions['mean'] / 1e6:.2f} M instructions per inference" if rung.instructions else ""
    )


def _latency_line(summary: BuildSummary) -> list[str]:
    """The latency line: measured on the emulated core when it ran, else the cost model's estimate."""
    if (m := summary.measured) is not None:
        return [
            f"latency          {ms_range(m.range_seconds())} ms per inference on the board (measured "
            f"{m.instructions / 1e6:.2f} M instructions x CPI range), "
            f"{100 * m.duty_cycle[1]:.0f} % of the hop at most"
        ]
    if (est := summary.estimate) is not None:
        return [
            f"latency          {ms_range(est.range_seconds())} ms per inference on the board (cost-model "
            f"estimate, not measured: {est.kernels} kernels), "
            f"{100 * est.duty_cycle[1]:.0f} % of the hop at most"
        ]
    return []


def _extras_lines(summary: BuildSummary) -> list[str]:
    """What the board was given besides the model: --norm-from statistics and the embedded self-test."""
    lines = []
    if (cal := summary.calibration) is not None:
        mean = ", ".join(f"{v:.3f}" for v in cal.mean)
        std = ", ".join(f"{v:.3f}" for v in cal.std)
        lines.append(f"normalisation    mean ({mean}), std ({std}) m/s^2 per axis, from --norm-from {cal.path}")
    if summary.selftest_windows:
        lines.append(
            f"self-test        {plural(summary.selftest_windows, 'held-out window')} embedded; "
            "the board checks its outputs at boot (EK,SELFTEST)"
        )
    return lines


def format_summary(summary: BuildSummary) -> str:
    """The lines ``edgekit build`` ends with."""
    return "\n".join(
        [
            f"float accuracy   {summary.float_accuracy:.4f}",
            f"int8 accuracy    {summary.tflm_accuracy:.4f} (TFLM), {summary.litert_accuracy:.4f} (LiteRT); "
            f"drop {summary.accuracy_drop_pp:.2f} pp",
            f"agreement        {summary.agreement_float_tflm:.4f} float vs TFLM top-1; "
            f"{windows_differ(summary.int8_windows_differ)} LiteRT vs TFLM "
            f"(max {plural(summary.int8_max_step_diff, 'step')})",
            *[f"board runtime    {_rung_line(rung)}" for rung in summary.board_runtime.values()],
            f"model            {summary.model_bytes:,} bytes int8; arena {summary.arena_bytes:,} bytes "
            f"({summary.arena_measured.bytes:,} B {summary.arena_measured.source} + margin)",
            f"fit              {summary.fit_summary}",
            *_latency_line(summary),
            *_extras_lines(summary),
            f"sketch           {summary.sketch}",
        ]
    )


__all__ = ["build_run", "format_summary", "GateFailed"]
