"""Shared fixtures: committed runs, a small trained run on synthetic data, and paths to the real data when given.

Two tiers: ``pytest -m "not slow"`` (the fast tier, about a minute: the committed fixtures in tests/fixtures,
no TensorFlow training, no TFLM runtime library build, no QEMU) and ``pytest`` (everything). A test that
trains, builds the board's runtime library or runs QEMU is marked ``slow``; tests that ask for a trained
session fixture below are marked by :func:`pytest_collection_modifyitems`, so none slips into the fast tier.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def pytest_configure(config: pytest.Config) -> None:
    """Give the tests Python's Ctrl-C handler, however pytest was started.

    A shell starts background jobs (``cmd &``, nohup, some CI runners) with SIGINT ignored; Python then
    installs no KeyboardInterrupt handler, ``_thread.interrupt_main()`` does nothing, and children
    inherit the ignored signal. The Ctrl-C tests (monitor, capture, an interrupted tune) would wait
    forever for an interrupt that never comes.
    """
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def real_data(var: str) -> Path:
    """The real data file named by ``var``, or skip the test with the reason."""
    value = os.environ.get(var)
    if not value:
        pytest.skip(f"{var} is not set (point it at the real data to run this test)")
    path = Path(value)
    if not path.is_file():
        pytest.skip(f"{var}={value} does not exist")
    return path


@pytest.fixture(scope="session")
def wisdm_windows() -> Path:
    return real_data("EDGEKIT_WISDM_WINDOWS")


@pytest.fixture(scope="session")
def wisdm_raw() -> Path:
    return real_data("EDGEKIT_WISDM_RAW")


@pytest.fixture(scope="session")
def test_output() -> Path:
    """Where tests leave files worth looking at (screenshots, reports)."""
    out = Path(os.environ.get("EDGEKIT_TEST_OUTPUT", "test-output"))
    out.mkdir(parents=True, exist_ok=True)
    return out


# Session fixtures that train TensorFlow (or build and emulate the board runtime): a test using one is slow.
TRAINED_FIXTURES = {"synthetic_run"}


@pytest.fixture(scope="session")
def synthetic_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seed model trained briefly on synthetic data: read-only, shared by every test module."""
    from edgekit.train import TrainConfig, train_run

    out = tmp_path_factory.mktemp("synthetic") / "run"
    train_run("synthetic", out, TrainConfig(epochs=4, min_epochs=2, patience=2), seed=0)
    return out


@pytest.fixture(scope="session", autouse=True)
def _committed_fixtures_stay_unchanged():
    """Tests read tests/fixtures in place (copying before they write): a test that wrote there fails the run."""
    import hashlib

    from helpers.fixtures import FIXTURES

    def digest() -> dict[str, str]:
        return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(FIXTURES.rglob("*")) if p.is_file()}

    before = digest()
    yield
    assert digest() == before, "a test wrote into tests/fixtures; copy the fixture first (helpers.fixtures)"


@pytest.fixture(autouse=True)
def _fast_tests_never_train(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast tier's promise, enforced: a test not marked slow that reaches edgekit's training loop fails."""
    if request.node.get_closest_marker("slow") is not None:
        return

    def refuse(*args, **kwargs):
        raise AssertionError(f"{request.node.nodeid} trains a model: mark it slow, or read tests/fixtures instead")

    monkeypatch.setattr("edgekit.train.fit", refuse)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` every test that trains through a session fixture, whatever its module says."""
    for item in items:
        if TRAINED_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


# Test modules that generate sketches or run builds: the sketch ships the board's TFLM runtime, generated
# from the pinned sources that $EDGEKIT_RUNTIME_SRC points at (.ci/run sets it to ../shared/vendor).
NEEDS_RUNTIME = {
    "test_atomic",
    "test_bad_input",
    "test_board_fit",
    "test_build",
    "test_capture",
    "test_cli_manners",
    "test_determinism",
    "test_failsafe",
    "test_firmware",
    "test_firmware_qemu",
    "test_flash",
    "test_report",
    "test_board_runtime",
    "test_serial",
    "test_compact",
    "test_profile",
    "test_fail_fast",
    "test_tune",
}


def runtime_sources_available() -> bool:
    from edgekit.errors import EdgekitError
    from edgekit.runtime.sources import locate_sources

    try:
        locate_sources(download=False)
    except EdgekitError:
        return False
    return True


@pytest.fixture(autouse=True)
def _board_runtime_sources(request: pytest.FixtureRequest) -> None:
    """Skip, with the reason, tests that need the runtime sources when none are here (no network in tests)."""
    if request.module.__name__.rsplit(".", 1)[-1] in NEEDS_RUNTIME and not _RUNTIME_AVAILABLE():
        pytest.skip("no TFLM runtime sources: set EDGEKIT_RUNTIME_SRC to the pinned sources (see .ci/run)")


def _runtime_available_once():
    cached: list[bool] = []

    def check() -> bool:
        if not cached:
            cached.append(runtime_sources_available())
        return cached[0]

    return check


_RUNTIME_AVAILABLE = _runtime_available_once()
