"""The same run in the same words everywhere: latency ranges rounded once, counts with their noun, steps said once."""

from __future__ import annotations

from pathlib import Path

import pytest

from edgekit import progress
from edgekit.build import format_summary
from edgekit.parity import board_lines
from edgekit.records import BuildSummary, ProfileResult
from edgekit.report.latency import measured_card, measured_view
from edgekit.run import desktop_time
from edgekit.wording import ms_range, plural, whole_ms, windows_differ

# 265.40 and 337.46 ms: rounding to 0.1 ms first (337.5) and then to whole ms gave 338; once, 337
SECONDS = [0.26540, 0.33746]
PROFILE = {
    "kind": "edgekit-profile",
    "model": "seed",
    "layers": [],
    "totals": {},
    "board": {"name": "nano33", "title": "Nano", "core": "Cortex-M4F", "clock_hz": 64_000_000},
    "measured": {
        "available": True,
        "instructions": 17_000_000,
        "seconds": SECONDS,
        "duty_cycle": [0.13, 0.17],
        "source": "emulated Cortex-M4",
        "cpi": [1.0, 1.27],
        "clock_hz": 64_000_000,
        "hop_s": 2.0,
    },
}


def _measured() -> dict:
    latency = ProfileResult.from_dict(PROFILE).measured
    assert latency is not None and latency.latency() is not None
    return latency.latency().to_dict()  # type: ignore[union-attr]


def _summary(differ: int = 1, step: int = 1) -> dict:
    rung = {
        "title": "emulated Cortex-M4",
        "status": "ran",
        "windows": 512,
        "windows_differ": differ,
        "instructions": None,
    }
    return {
        "float_accuracy": 0.9,
        "tflm_accuracy": 0.9,
        "litert_accuracy": 0.9,
        "accuracy_drop_pp": 0.0,
        "agreement_float_tflm": 1.0,
        "int8_windows_differ": differ,
        "int8_max_step_diff": step,
        "board_runtime": {"qemu": rung},
        "model_bytes": 1000,
        "arena_bytes": 2000,
        "arena_measured": {"bytes": 1500, "source": "TFLM"},
        "fit_summary": "fits",
        "fit": {},
        "sketch": "sketch",
        "board": "nano33",
        "fqbn": "arduino:mbed_nano:nano33ble",
        "measured": _measured(),
    }


def _text(summary: dict) -> str:
    return format_summary(BuildSummary.from_dict(summary))


def test_the_summary_and_the_report_show_the_same_latency_range():
    line = next(x for x in _text(_summary()).splitlines() if x.startswith("latency"))
    card = measured_card(measured_view(ProfileResult.from_dict(PROFILE)))
    assert card is not None
    assert "265-337 ms per inference" in line, line
    assert card["value"] == "265–337 ms"


def test_the_verify_line_shows_the_same_range_as_the_summary(tmp_path: Path):
    found = desktop_time(tmp_path, BuildSummary.from_dict(_summary()), None)
    assert found is not None and found.source.startswith("265-337 ms from 17.00 M instructions")


def test_a_summary_from_an_older_manifest_without_seconds_still_prints():
    """Manifests from before 'seconds' was kept hold only ms to 0.1 (337.5): they print from those."""
    summary = _summary()
    del summary["measured"]["seconds"]
    assert "latency          265-338 ms" in _text(summary)


def test_counts_agree_with_their_noun():
    text = _text(_summary(differ=1, step=1))
    assert "1 window differs LiteRT vs TFLM (max 1 step)" in text
    assert "emulated Cortex-M4: 1 of 512 windows differs from desktop TFLM" in text
    text = _text(_summary(differ=2, step=3))
    assert "2 windows differ LiteRT vs TFLM (max 3 steps)" in text and "2 of 512 windows differ" in text
    rung = {"status": "ran", "title": "T", "windows": 1, "windows_differ": 1, "max_step": 1, "arena_used_bytes": 9}
    assert board_lines({"board": {"rungs": {"q": rung}}}) == [
        "T: 1 of 1 window differs from desktop TFLM (max 1 step); arena 9 B"
    ]


@pytest.mark.parametrize(("n", "text"), [(0, "0 windows differ"), (1, "1 window differs"), (2, "2 windows differ")])
def test_windows_differ(n: int, text: str):
    assert windows_differ(n) == text


def test_rounding_is_half_up_and_ranges_use_it():
    assert [whole_ms(s) for s in (0.0004, 0.0005, 0.0015, 0.0025)] == [0, 1, 2, 3]
    assert ms_range([1.2344, 12.3456], "–") == "1,234–12,346"
    assert plural(1, "step") == "1 step" and plural(0, "step") == "0 steps"


def test_a_step_inside_a_step_of_the_same_name_is_announced_once(monkeypatch, capsys):
    """build wrapped write_report (which announces itself) in its own step: 'writing report.html' came twice."""
    monkeypatch.setenv("EDGEKIT_PROGRESS", "1")
    monkeypatch.delenv("EDGEKIT_QUIET", raising=False)
    with progress.step("writing report.html"):
        with progress.step("writing report.html"):
            pass
        with progress.step("rendering"):
            pass
    lines = capsys.readouterr().err.splitlines()
    assert [line.split(" done")[0] for line in lines] == [
        "edgekit: writing report.html ...",
        "edgekit: rendering ...",
        "edgekit: rendering",
        "edgekit: writing report.html",
    ]


def test_build_does_not_wrap_write_report_in_a_step_of_its_own():
    """The cause itself: write_report announces 'writing report.html'; build must not announce it again."""
    import inspect

    from edgekit import build

    assert 'progress.step("writing report.html")' not in inspect.getsource(build)
