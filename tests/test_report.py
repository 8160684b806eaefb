"""report.html: every section from a real train -> build run, honest gaps, determinism, no network, Chromium.

One small pipeline runs through the real CLI (train, then build reusing that model, then parity on a
copy), which is also where the "--json prints one line for CI" promise of those commands is checked.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from edgekit.artifacts import (
    HISTORY,
    MANIFEST,
    MANIFEST_KIND,
    PARITY_JSON,
    REPORT_HTML,
    update_manifest,
    write_json_atomic,
)
from edgekit.cli import main
from edgekit.errors import EdgekitError
from edgekit.parity import apply_gates
from edgekit.report import render_report, write_report

SECTIONS = (
    "summary",
    "data",
    "training",
    "accuracy",
    "parity",
    "confusion",
    "layers",
    "footprint",
    "latency",
    "details",
)
# Two epochs, one held-out user (174 windows) keep the whole pipeline near half a minute.
TRAIN_ARGS = ["--data", "synthetic", "--epochs", "2", "--min-epochs", "1", "--patience", "1", "--test-users", "12"]
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def json_line(args: list[str]) -> dict[str, Any]:
    """Run a command with progress on and return its stdout, which must be exactly one JSON line."""
    result = CliRunner().invoke(main, args, env={"EDGEKIT_PROGRESS": "1", "EDGEKIT_QUIET": None})
    assert result.exit_code == 0, result.output + result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1, f"'edgekit {args[0]} --json' printed {len(lines)} lines:\n{result.stdout[:500]}"
    assert "edgekit: " in result.stderr, "progress belongs on stderr (EDGEKIT_PROGRESS=1)"
    return json.loads(lines[0])


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """train --json, a copy of that train-only folder, then build --json into the same folder (model reused)."""
    root = tmp_path_factory.mktemp("report")
    run = root / "run"
    trained = json_line(["train", *TRAIN_ARGS, "--out", str(run), "--json"])
    train_only = root / "train-only"
    shutil.copytree(run, train_only)
    # Bit-exactness is parity's business (test_parity.py); here a 1-step LiteRT/TFLM difference in one
    # window must not take the report tests down with it.
    built = json_line(
        ["build", "--board", "nano33", *TRAIN_ARGS, "--out", str(run), "--no-require-bit-exact", "--json"]
    )
    return {"root": root, "run": run, "train_only": train_only, "trained": trained, "built": built}


@pytest.fixture(scope="module")
def html(pipeline: dict[str, Any]) -> str:
    return write_report(pipeline["run"]).read_text(encoding="utf-8")


def section(text: str, name: str) -> str:
    """The HTML of one <section id=name>."""
    match = re.search(rf'<section id="{name}">(.*?)</section>', text, flags=re.S)
    assert match, f"no section {name}"
    return match.group(1)


def test_train_build_and_parity_json_are_one_line_each(pipeline: dict[str, Any]):
    assert 0 < pipeline["trained"]["accuracy"] <= 1 and pipeline["trained"]["training"]["epochs_run"] == 2
    built = pipeline["built"]
    assert built["board"] == "nano33" and built["fit"]["fits"] is True
    copy = shutil.copytree(pipeline["run"], pipeline["root"] / "parity-json")
    report = json_line(["parity", str(copy), "--json", "--layer-windows", "0", "--no-require-bit-exact"])
    assert report["kind"] == "edgekit-parity" and report["passed"] is True


def test_a_built_run_fills_every_section(pipeline: dict[str, Any], html: str):
    run = pipeline["run"]
    parity = json.loads((run / PARITY_JSON).read_text())
    manifest = json.loads((run / MANIFEST).read_text())
    for name in ("data", "training", "accuracy", "parity", "layers", "footprint", "details"):
        assert 'class="missing"' not in section(html, name), f"section {name} says its input is missing"
    for name in SECTIONS:
        assert f'id="{name}"' in html
    assert section(html, "training").count("<svg") == 1
    assert section(html, "data").count("<svg") == 2
    # the numbers on the page are the numbers in the files
    assert f"{100 * parity['rungs']['tflm']['accuracy']:.2f} %" in section(html, "parity")
    assert f"{manifest['build']['fit']['flash']['items']['model']:,}" in section(html, "footprint")
    assert f"({manifest['build']['fit']['ram']['pct']:.1f} %)" in section(html, "footprint")
    worst = parity["layers"]["worst"][0]
    assert f"{worst['rmse_over_scale']:.3f}" in section(html, "layers")
    classes = parity["classes"]
    cells = re.findall(r'<td class="(?:diag|off)', section(html, "parity"))
    assert len(cells) == 3 * len(classes) ** 2, "three full confusion matrices side by side"
    # drop, int8 step, bit-exact (not required), board runtime on the host and on the emulated Cortex-M4
    assert html.count('<span class="badge ok">PASS</span>') == 5
    assert "board runtime, emulated Cortex-M4 = desktop TFLM" in section(html, "parity")
    emulated = parity["board"]["rungs"]["cortex-m4"]
    assert f"{emulated['instructions']['mean']:,}" in section(html, "parity")
    assert (
        f"Measured for <strong>nano33</strong>: <strong>{emulated['instructions']['mean']:,} instructions"
        in section(html, "latency")
    )
    assert 'class="verdict ok"' in html
    if importlib.util.find_spec("edgekit.profile") is not None:  # the latency estimate of 'edgekit profile'
        latency = section(html, "latency")
        assert 'class="missing"' not in latency and "conv2" in latency
        assert "KEEPS UP" in latency or "TOO SLOW" in latency


def test_report_is_self_contained_and_fetches_nothing(html: str):
    assert not re.search(r"""(?:src|href|xlink:href|action|poster)\s*=\s*["']?\s*(?:https?:)?//""", html, flags=re.I)
    assert not re.search(r"https?://", html), "no URL at all: nothing to fetch, nothing to leak"
    assert "<script" not in html and "<link" not in html and "@import" not in html
    assert not re.search(r"url\((?!#)", html), "CSS/SVG url() may only point inside the page"
    assert "default-src 'none'" in html, "a CSP forbids every fetch, should anything slip in"
    assert len(html) < 400_000


class TagBalance(HTMLParser):
    """Every element closed in order: Chromium forgives a stray tag, a reader's other tools may not."""

    VOID = {"meta", "br", "img", "input", "link", "hr", "path", "use", "rect", "line", "circle", "polygon"}

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag not in self.VOID:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self.VOID:
            return
        if not self.open or self.open[-1] != tag:
            self.errors.append(f"</{tag}> at line {self.getpos()[0]} closes <{self.open[-1] if self.open else None}>")
        else:
            self.open.pop()


@pytest.mark.parametrize("which", ["run", "train_only", "bare"])
def test_html_is_well_formed(pipeline: dict[str, Any], html: str, tmp_path: Path, which: str):
    if which == "bare":
        (tmp_path / MANIFEST).write_text(json.dumps({"kind": MANIFEST_KIND}))
        text = render_report(tmp_path)
    else:
        text = html if which == "run" else render_report(pipeline[which])
    checker = TagBalance()
    checker.feed(text)
    assert checker.errors == [] and checker.open == []
    assert text.startswith("<!DOCTYPE html>") and len(re.findall(r'\bid="([^"]+)"', text)) == len(
        set(re.findall(r'\bid="([^"]+)"', text))
    ), "ids are unique across the inline SVGs"


def test_same_files_give_the_same_bytes(pipeline: dict[str, Any], html: str, tmp_path: Path):
    assert render_report(pipeline["run"]) == html
    # Another process with another hash seed: the SVG ids must not depend on either. The train-only
    # folder has charts but no int8 model, so this process need not import TensorFlow to profile it.
    expected = render_report(pipeline["train_only"])
    out = tmp_path / "again.html"
    code = f"from edgekit.report import write_report; write_report({str(pipeline['train_only'])!r}, {str(out)!r})"
    env = dict(os.environ, PYTHONHASHSEED="123")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=120, env=env, cwd=tmp_path)
    assert out.read_text(encoding="utf-8") == expected


def test_a_train_only_run_says_what_is_missing(pipeline: dict[str, Any]):
    text = render_report(pipeline["train_only"])
    for name in ("data", "training", "accuracy"):
        assert 'class="missing"' not in section(text, name)
    assert "No parity.json in this folder yet" in section(text, "parity")
    assert "edgekit parity" in section(text, "parity")
    assert "No board fit yet" in section(text, "footprint")
    assert "int8 columns appear once" in section(text, "accuracy")
    assert 'class="verdict none"' in text


def test_skipped_lines_are_listed_by_reason(pipeline: dict[str, Any], tmp_path: Path):
    import numpy as np

    from edgekit.data.types import SkipReport

    run = shutil.copytree(pipeline["train_only"], tmp_path / "skipped")
    skipped = SkipReport()
    skipped.add(np.array([17, 4711]), "too few fields")
    skipped.add(np.array([99]), "non-numeric value")
    data = json.loads((run / MANIFEST).read_text())["data"]
    update_manifest(run, data=dict(data, skipped=skipped.to_dict()))
    text = section(render_report(run), "data")
    assert "<strong>3</strong> lines skipped" in text
    assert re.search(r"too few fields</td><td>2</td>", text) and "line 4711 (too few fields)" in text
    update_manifest(run, data={k: v for k, v in data.items() if k != "skipped"})  # e.g. windows from an .npz
    assert "Not applicable: the windows came pre-cut" in section(render_report(run), "data")


def test_a_bare_manifest_still_gives_a_page(tmp_path: Path):
    (tmp_path / MANIFEST).write_text(json.dumps({"kind": MANIFEST_KIND}))
    text = render_report(tmp_path)
    for name in ("data", "training", "accuracy", "parity", "layers", "footprint", "latency"):
        assert 'class="missing"' in section(text, name)


def test_damaged_inputs_cost_only_the_sections_that_read_them(pipeline: dict[str, Any], tmp_path: Path):
    """A file of the wrong shape is one note naming the file and the fix, in the sections that read it."""
    run = shutil.copytree(pipeline["run"], tmp_path / "damaged")
    (run / HISTORY).write_text("{not json")
    parity = json.loads((run / PARITY_JSON).read_text())
    del parity["layers"]["worst"][0]["rmse_over_scale"]
    (run / PARITY_JSON).write_text(json.dumps(parity))
    text = render_report(run)
    assert "history.json cannot be read" in section(text, "training")
    note = f"{run / PARITY_JSON}: layers.worst: &#39;rmse_over_scale&#39; is missing; "
    note += "re-run &#39;edgekit parity RUN&#39;"
    assert note in section(text, "layers") and note in section(text, "parity")
    for name in ("data", "accuracy", "footprint", "latency"):
        assert 'class="missing"' not in section(text, name), name


def test_a_profile_section_of_another_shape_is_named_not_guessed_at(pipeline: dict[str, Any], tmp_path: Path):
    """The report reads the profile record edgekit writes; a hand-written section is reported, not mined for keys."""
    run = shutil.copytree(pipeline["run"], tmp_path / "profiled")
    update_manifest(run, profile={"board": "nano33", "estimate_ms": 412.7, "method": "cycle model"})
    latency = section(render_report(run), "latency")
    assert f"{run / MANIFEST}: profile" in latency and "412.7" not in latency
    assert "re-run &#39;edgekit profile RUN&#39;" in latency


def test_a_failed_gate_is_shown_as_failed(pipeline: dict[str, Any], tmp_path: Path):
    run = shutil.copytree(pipeline["run"], tmp_path / "failed")
    parity = json.loads((run / PARITY_JSON).read_text())
    parity["pairs"]["float->tflm"]["accuracy_drop_pp"] = 3.5
    write_json_atomic(run / PARITY_JSON, apply_gates(parity, max_drop_pp=1.0, require_bit_exact=True))
    text = render_report(run)
    assert 'class="verdict fail"' in text and "Parity gate failed: accuracy drop" in text
    assert '<span class="badge fail">FAIL</span>' in section(text, "parity")


def test_cli_report_writes_the_file_atomically(pipeline: dict[str, Any], tmp_path: Path):
    out = tmp_path / "mine.html"
    result = CliRunner().invoke(main, ["report", str(pipeline["run"]), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {out}"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert [p.name for p in tmp_path.iterdir()] == ["mine.html"], "no temporary file left behind"
    with pytest.raises(EdgekitError, match="is a folder"):
        write_report(pipeline["run"], tmp_path)


# --------------------------------------------------------------------------- a real browser


def chromium(url: str, profile: Path, *extra: str) -> subprocess.CompletedProcess:
    if CHROMIUM is None:
        pytest.skip("chromium is not installed (apt-get install chromium)")
    args = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        *extra,
        url,
    ]
    return subprocess.run(args, capture_output=True, text=True, timeout=90)


def console_problems(stderr: str) -> list[str]:
    """Console errors, uncaught exceptions and blocked fetches that Chromium logged while loading the page."""
    pattern = re.compile(r"CONSOLE|Uncaught|Refused to|net::ERR_", flags=re.I)
    return [line for line in stderr.splitlines() if pattern.search(line)]


def trim_to_content(png: Path, margin: int = 32) -> None:
    """Cut the empty page background below the footer (the window is taller than any report)."""
    import numpy as np
    from PIL import Image

    with Image.open(png) as image:
        pixels = np.asarray(image.convert("RGB"))
        differs = np.flatnonzero((pixels != pixels[-1, 0]).any(axis=(1, 2)))
        assert differs.size and differs[-1] < pixels.shape[0] - margin, "the report is taller than the window"
        image.crop((0, 0, pixels.shape[1], int(differs[-1]) + margin)).save(png)


def test_chromium_renders_every_section_without_console_errors(
    html: str, pipeline: dict[str, Any], tmp_path: Path, test_output: Path
):
    page = pipeline["run"] / REPORT_HTML
    dom = chromium(page.as_uri(), tmp_path / "profile", "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert console_problems(dom.stderr) == []
    for name in SECTIONS:
        assert f'id="{name}"' in dom.stdout, f"section {name} missing from the rendered DOM"
    assert dom.stdout.count("<svg") >= 5
    shot = test_output / "report.png"
    shot.unlink(missing_ok=True)
    result = chromium(
        page.as_uri(), tmp_path / "profile", f"--screenshot={shot}", "--window-size=1280,6000", "--hide-scrollbars"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert console_problems(result.stderr) == []
    assert shot.is_file() and shot.stat().st_size > 50_000
    trim_to_content(shot)
    shutil.copyfile(page, test_output / "report.html")


def test_the_console_check_catches_a_network_reference(html: str, tmp_path: Path):
    """The checks above must be able to fail: a page that tries to fetch is caught (CSP blocks the fetch)."""
    bad = tmp_path / "bad.html"
    bad.write_text(html.replace("<main>", '<main><img src="https://example.invalid/logo.png" alt="">', 1))
    result = chromium(bad.as_uri(), tmp_path / "profile", "--dump-dom")
    assert console_problems(result.stderr), "a blocked fetch must show up in Chromium's log"


# --------------------------------------------------------------------------- issue 12 item 26: what a reader sees


def _with_divergence(run: Path, step_passed: bool) -> str:
    parity = json.loads((run / PARITY_JSON).read_text())
    pair = parity["pairs"]["litert->tflm"]
    pair.update(int8_windows_differ=2, int8_max_step_diff=1, int8_first_differing_windows=[3, 7])
    pair["first_divergence"] = [{"window": 3, "op_index": 8, "op": "FULLY_CONNECTED", "max_step": 1}]
    write_json_atomic(run / PARITY_JSON, apply_gates(parity, 100.0, False, max_int8_step=1 if step_passed else 0))
    return section(render_report(run), "parity")


def test_a_runtime_difference_within_the_gates_is_not_shown_as_a_failure(pipeline: dict[str, Any], tmp_path: Path):
    run = shutil.copytree(pipeline["run"], tmp_path / "differ")
    passed = _with_divergence(run, step_passed=True)
    assert '<p class="axis-note">LiteRT and TFLM first differ at:' in passed
    assert '<p class="neg">LiteRT and TFLM first differ at:' not in passed
    failed = _with_divergence(run, step_passed=False)
    assert '<p class="neg">LiteRT and TFLM first differ at:' in failed


def test_reshapes_the_converter_adds_are_not_labelled_as_the_layer(pipeline: dict[str, Any], html: str):
    from edgekit.records import LayerError
    from edgekit.report.sections import layer_label

    expand = LayerError("RESHAPE", "conv1", "seed_1/conv1_1/convolution/ExpandDims1", 26, 0.1, 0.1, 0.3, 0.0, 0.1)
    assert layer_label(expand) == "conv1 (input reshape added by the converter)"
    conv = LayerError("CONV_2D", "conv1", "seed_1/conv1_1/Relu;seed_1/conv1_1/BiasAdd", 30, 0.1, 0.1, 0.3, 0.0, 0.1)
    assert layer_label(conv) == "conv1"
    rows = re.findall(r'<td class="text" title="[^"]*">([^<]*)</td><td class="text quiet">([A-Z_0-9+]+)</td>', html)
    assert rows, "the layer table has rows"
    assert not [layer for layer, op in rows if op == "RESHAPE" and layer.startswith("conv") and "(" not in layer]


def test_the_section_with_the_f1_chart_is_titled_f1(html: str):
    accuracy = section(html, "accuracy")
    assert "<h2>Per-class F1" in accuracy and "Per-class accuracy" not in html
    assert "Per-class F1 on held-out users" in accuracy


def test_dollar_signs_in_class_names_stay_text():
    """matplotlib would read '$...$' as mathtext (and fail on some): a class name is shown as written."""
    from edgekit.report.charts import class_chart, f1_chart

    classes = ["$walk$", "run $5", "x^2$"]
    svg = str(class_chart(classes, [3, 4, 5]))
    assert all(name in svg for name in ("$walk$", "run $5", "x^2$"))
    assert "$walk$" in str(f1_chart(classes, {"float": [0.5, 0.6, 0.7]}))


def test_no_internal_wording_reaches_the_reader(html: str):
    from edgekit.profile import COST_MODELS

    assert "lead" not in html.lower().replace("leading", "")
    notes = [kernels.note for core in COST_MODELS.values() for kernels in core.kernels.values()]
    assert not [note for note in notes if "lead" in note]


def test_the_norm_from_statistics_and_the_self_test_are_shown(pipeline: dict[str, Any], tmp_path: Path):
    run = shutil.copytree(pipeline["run"], tmp_path / "calibrated")
    build = json.loads((run / MANIFEST).read_text())["build"]
    calibration = {"path": "me.txt", "sha256": "0" * 64, "records": 1200, "mean": [0.5, 9.8, 0.1], "std": [1, 2, 3]}
    update_manifest(run, build=dict(build, calibration=calibration, selftest_windows=3))
    footprint = section(render_report(run), "footprint")
    assert "normalisation (--norm-from)" in footprint and "mean (0.500, 9.800, 0.100)" in footprint
    assert "3 held-out windows embedded" in footprint
