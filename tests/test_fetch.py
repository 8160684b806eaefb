"""The WISDM download against a real HTTP server on 127.0.0.1 serving archives built here (no internet)."""

from __future__ import annotations

import functools
import http.server
import io
import json
import os
import resource
import signal
import socket
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from edgekit.artifacts import sha256_file
from edgekit.data.fetch import (
    CACHE_SUBDIR,
    PUBLISHED_COUNTS,
    RAW_MEMBER,
    RAW_NAME,
    default_cache_dir,
    fetch_info,
    fetch_wisdm,
    info_path,
)
from edgekit.data.raw import read_raw, write_raw
from edgekit.data.types import Recording
from edgekit.errors import EdgekitError

LABELS = ["Downstairs", "Jogging", "Sitting", "Standing", "Upstairs", "Walking"]
PER_CLASS = [5, 40, 8, 6, 12, 50]
COUNTS = dict(zip(LABELS, PER_CLASS, strict=True))


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """(base URL, served folder); the server stops at the end of the test."""
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(_QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def _raw_bytes(tmp_path: Path) -> bytes:
    activity = np.repeat(np.arange(len(LABELS)), PER_CLASS)
    n = activity.size
    rec = Recording(
        user=np.full(n, 33, dtype=np.int64),
        activity=activity.astype(np.int64),
        labels=LABELS,
        t_ns=np.arange(n, dtype=np.int64) * 50_000_000,
        xyz=np.random.default_rng(0).normal(0, 5, (n, 3)).astype(np.float32),
    )
    path = tmp_path / "made_raw.txt"
    write_raw(path, rec)
    # the real file's defects: a trailing comma, a record with an empty value, a blank line
    return path.read_bytes().replace(b";\n", b";,\n", 3) + b"\n33,Walking,1,1,,1;\n"


def _archive(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _leftovers(cache: Path) -> list[str]:
    folder = cache / CACHE_SUBDIR
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(".")) if folder.exists() else []


def test_download_extracts_only_the_raw_file_validates_and_reuses_the_cache(
    tmp_path: Path, server: tuple[str, Path]
) -> None:
    base, root = server
    raw = _raw_bytes(tmp_path)
    (root / "wisdm.tar.gz").write_bytes(
        _archive(
            {
                "WISDM_ar_v1.1/readme.txt": b"readme",
                "../escape.txt": b"must never be written",
                "/abs_escape.txt": b"must never be written",
                "./" + RAW_MEMBER: raw,
            }
        )
    )
    cache = tmp_path / "cache"
    path = fetch_wisdm(cache, url=f"{base}/wisdm.tar.gz", expected_counts=COUNTS, tolerance=0)

    assert path == cache / CACHE_SUBDIR / RAW_NAME
    assert path.read_bytes() == raw
    assert sorted(p.name for p in path.parent.iterdir()) == [RAW_NAME, RAW_NAME + ".json"]
    assert not (tmp_path / "escape.txt").exists() and not (cache / "escape.txt").exists()
    info = fetch_info(path)
    assert info["sha256"] == sha256_file(path)
    assert info["counts"] == COUNTS
    assert info["records"] == sum(PER_CLASS)
    assert info["skipped"]["reasons"] == {"missing value": 1}
    assert info["url"] == f"{base}/wisdm.tar.gz" and len(info["archive_sha256"]) == 64

    (root / "wisdm.tar.gz").unlink()  # a second call must not download: the server now answers 404
    again = fetch_wisdm(cache, url=f"{base}/wisdm.tar.gz", expected_counts=COUNTS, tolerance=0)
    assert again == path and again.read_bytes() == raw


def test_a_changed_cached_file_is_downloaded_again(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    raw = _raw_bytes(tmp_path)
    (root / "a.tar.gz").write_bytes(_archive({RAW_MEMBER: raw}))
    cache = tmp_path / "cache"
    path = fetch_wisdm(cache, url=f"{base}/a.tar.gz", expected_counts=COUNTS, tolerance=0)
    path.write_bytes(raw[: len(raw) // 2])  # truncated by something else: hash no longer matches
    path = fetch_wisdm(cache, url=f"{base}/a.tar.gz", expected_counts=COUNTS, tolerance=0)
    assert path.read_bytes() == raw


def test_cached_file_without_its_record_is_rechecked_not_downloaded(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    raw = cache / CACHE_SUBDIR / RAW_NAME
    raw.parent.mkdir(parents=True)
    raw.write_bytes(_raw_bytes(tmp_path))
    url = "http://127.0.0.1:9/never-contacted.tar.gz"
    assert fetch_wisdm(cache, url=url, expected_counts=COUNTS, tolerance=0) == raw
    assert fetch_info(raw)["counts"] == COUNTS


def test_wrong_counts_leave_no_file(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    (root / "a.tar.gz").write_bytes(_archive({RAW_MEMBER: _raw_bytes(tmp_path)}))
    cache = tmp_path / "cache"
    wrong = dict(COUNTS, Walking=COUNTS["Walking"] + 1)
    with pytest.raises(EdgekitError, match=r"does not match the published WISDM v1\.1 counts \(Walking: 50 records"):
        fetch_wisdm(cache, url=f"{base}/a.tar.gz", expected_counts=wrong, tolerance=0)
    assert not (cache / CACHE_SUBDIR / RAW_NAME).exists()
    assert _leftovers(cache) == []
    # the published-count tolerance is relative: one record off in 50 passes at 5%
    assert fetch_wisdm(cache, url=f"{base}/a.tar.gz", expected_counts=wrong, tolerance=0.05).exists()


def test_missing_activity_is_a_count_mismatch(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    (root / "a.tar.gz").write_bytes(_archive({RAW_MEMBER: _raw_bytes(tmp_path)}))
    expected = dict(COUNTS, Lying=10)
    with pytest.raises(EdgekitError, match=r"Lying: 0 records, expected 10"):
        fetch_wisdm(tmp_path / "cache", url=f"{base}/a.tar.gz", expected_counts=expected, tolerance=0)


@pytest.mark.parametrize(
    "payload",
    [
        pytest.param(b"<html>this is not an archive</html>" * 50, id="html"),
        pytest.param("cut", id="truncated"),
    ],
)
def test_corrupt_archive(tmp_path: Path, server: tuple[str, Path], payload: bytes | str) -> None:
    base, root = server
    if payload == "cut":
        whole = _archive({"WISDM_ar_v1.1/readme.txt": b"r" * 5000, RAW_MEMBER: _raw_bytes(tmp_path)})
        payload = whole[: len(whole) // 2]
    (root / "bad.tar.gz").write_bytes(payload)
    cache = tmp_path / "cache"
    with pytest.raises(EdgekitError, match=r"bad\.tar\.gz: the downloaded archive is damaged or not a \.tar\.gz"):
        fetch_wisdm(cache, url=f"{base}/bad.tar.gz", expected_counts=COUNTS, tolerance=0)
    assert not (cache / CACHE_SUBDIR / RAW_NAME).exists()
    assert _leftovers(cache) == []


def test_archive_without_the_raw_member(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    (root / "a.tar.gz").write_bytes(_archive({"WISDM_ar_v1.1/other.txt": _raw_bytes(tmp_path)}))
    with pytest.raises(EdgekitError, match=r"the archive has no WISDM_ar_v1\.1/WISDM_ar_v1\.1_raw\.txt"):
        fetch_wisdm(tmp_path / "cache", url=f"{base}/a.tar.gz", expected_counts=COUNTS, tolerance=0)


def test_raw_member_that_is_a_symlink_is_refused(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        link = tarfile.TarInfo(RAW_MEMBER)
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    (root / "a.tar.gz").write_bytes(buf.getvalue())
    with pytest.raises(EdgekitError, match=r"is not a regular file"):
        fetch_wisdm(tmp_path / "cache", url=f"{base}/a.tar.gz", expected_counts=COUNTS, tolerance=0)


def test_http_404(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, _ = server
    cache = tmp_path / "cache"
    with pytest.raises(EdgekitError, match=r"could not download .*/missing\.tar\.gz \(HTTP 404 .*--data PATH"):
        fetch_wisdm(cache, url=f"{base}/missing.tar.gz", expected_counts=COUNTS, tolerance=0)
    assert _leftovers(cache) == []


def test_refused_connection(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and now has no listener
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(EdgekitError, match=r"could not download http://127\.0\.0\.1:\d+/w\.tar\.gz \(.*refused"):
        fetch_wisdm(tmp_path / "cache", url=f"http://127.0.0.1:{port}/w.tar.gz", timeout=5)


def test_url_and_cache_come_from_the_environment(
    tmp_path: Path, server: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    base, root = server
    (root / "env.tar.gz").write_bytes(_archive({RAW_MEMBER: _raw_bytes(tmp_path)}))
    monkeypatch.setenv("EDGEKIT_WISDM_URL", f"{base}/env.tar.gz")
    monkeypatch.setenv("EDGEKIT_CACHE", str(tmp_path / "envcache"))
    assert default_cache_dir() == tmp_path / "envcache"
    path = fetch_wisdm(expected_counts=COUNTS, tolerance=0)
    assert path == tmp_path / "envcache" / CACHE_SUBDIR / RAW_NAME
    assert fetch_info(path)["url"] == f"{base}/env.tar.gz"


def test_default_cache_dir_follows_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("EDGEKIT_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    if sys.platform.startswith("linux"):
        assert default_cache_dir() == tmp_path / "xdg" / "edgekit"


def test_cli_data_fetch_prints_path_and_counts(tmp_path: Path, server: tuple[str, Path]) -> None:
    from edgekit.cli import data_cmd, main

    assert "data" in main.commands and data_cmd.data.name == "data"  # importing it registers the group

    base, root = server
    (root / "a.tar.gz").write_bytes(_archive({RAW_MEMBER: _raw_bytes(tmp_path)}))
    cache = tmp_path / "cache"
    path = fetch_wisdm(cache, url=f"{base}/a.tar.gz", expected_counts=COUNTS, tolerance=0)
    # the CLI checks the published counts, which this small archive does not have: a clean exit 2
    result = CliRunner().invoke(main, ["data", "fetch", "--cache-dir", str(cache), "--url", f"{base}/a.tar.gz"])
    assert result.exit_code == 2
    assert "does not match the published WISDM v1.1 counts" in result.output
    assert "Traceback" not in result.output
    assert path.exists() and json.loads(info_path(path).read_text())["counts"] == COUNTS
    # a cached file that does have the published counts is printed without any download
    info = json.loads(info_path(path).read_text())
    info["counts"] = PUBLISHED_COUNTS
    info_path(path).write_text(json.dumps(info))
    result = CliRunner().invoke(main, ["data", "fetch", "--cache-dir", str(cache), "--url", "http://127.0.0.1:9/x"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()  # results on stdout; "using cached ..." is progress, on stderr
    assert lines[0] == str(path)
    assert any("Walking" in line and "424400" in line for line in lines)
    assert read_raw(path).labels == LABELS


# --- nothing lost, nothing late (issue 12, item 10) ----------------------------------------------------


class _EndlessHandler(http.server.BaseHTTPRequestHandler):
    """A server that never stops sending (capped at 64 MB so a broken client cannot fill the disk)."""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/gzip")
        self.end_headers()
        block = bytes(1 << 16)
        try:
            for _ in range(1024):
                self.wfile.write(block)
        except OSError:
            pass

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_endless_download_is_cut_off_at_the_size_cap(tmp_path: Path) -> None:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _EndlessHandler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    cache = tmp_path / "cache"
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/endless.tar.gz"
        with pytest.raises(
            EdgekitError,
            match=r"endless\.tar\.gz: the server sent more than 2,097,152 bytes, over "
            r"the 2,097,152-byte limit .* not the WISDM archive",
        ):
            fetch_wisdm(cache, url=url, expected_counts=COUNTS, tolerance=0, max_bytes=2 << 20)
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
    assert _leftovers(cache) == []


def test_announced_size_over_the_cap_is_refused_before_reading(tmp_path: Path, server: tuple[str, Path]) -> None:
    base, root = server
    (root / "big.tar.gz").write_bytes(bytes(3 << 20))
    cache = tmp_path / "cache"
    with pytest.raises(EdgekitError, match=r"big\.tar\.gz: the server announces 3,145,728 bytes, over the 1,048,576"):
        fetch_wisdm(cache, url=f"{base}/big.tar.gz", expected_counts=COUNTS, tolerance=0, max_bytes=1 << 20)
    assert _leftovers(cache) == []


def test_counts_are_checked_while_the_member_streams(tmp_path: Path, server: tuple[str, Path]) -> None:
    """Too many records stop the parse at the first block that shows it, not after the whole member."""
    base, root = server
    extra = b"33,Walking,49105962326000,-0.6946377,12.680544,0.50395286;\n" * 100_000  # ~6 MB: three blocks
    (root / "a.tar.gz").write_bytes(_archive({RAW_MEMBER: _raw_bytes(tmp_path) + extra}))
    cache = tmp_path / "cache"
    with pytest.raises(EdgekitError) as err:
        fetch_wisdm(cache, url=f"{base}/a.tar.gz", expected_counts=COUNTS, tolerance=0)
    message = str(err.value)
    assert "does not match the published WISDM v1.1 counts (Walking: " in message and "\n" not in message
    stopped = int(message.split(f"stopped reading {RAW_MEMBER} at line ")[1].split(":")[0])
    assert stopped < 50_000, f"read {stopped} of 100,122 lines before noticing"
    assert not (cache / CACHE_SUBDIR / RAW_NAME).exists() and _leftovers(cache) == []


def _fetch_with_file_size_limit(cache: Path, url: str, limit: int) -> subprocess.CompletedProcess[str]:
    """`edgekit data fetch` in a child whose files may not grow past ``limit`` bytes: a real write error.

    RLIMIT_FSIZE makes write() fail with EFBIG exactly where a full disk fails with ENOSPC (SIGXFSZ is
    ignored so the write returns the error instead of killing the child).
    """

    def limit_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    cmd = [sys.executable, "-m", "edgekit", "data", "fetch", "--cache-dir", str(cache), "--url", url]
    return subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=limit_files,
        env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"},
    )


@pytest.mark.skipif(not hasattr(signal, "SIGXFSZ"), reason="needs POSIX file size limits")
@pytest.mark.parametrize("what, readme_bytes", [("download", 400_000), (f"unpacked {RAW_NAME}", 0)])
def test_a_local_write_error_names_the_disk_not_the_connection(
    tmp_path: Path, server: tuple[str, Path], what: str, readme_bytes: int
) -> None:
    base, root = server
    raw = _raw_bytes(tmp_path) * 300  # ~1.4 MB that compresses to a small archive
    noise = np.random.default_rng(0).bytes(readme_bytes)  # incompressible: the archive itself gets big
    (root / "a.tar.gz").write_bytes(_archive({"WISDM_ar_v1.1/readme.txt": noise, RAW_MEMBER: raw}))
    cache = tmp_path / "cache"
    done = _fetch_with_file_size_limit(cache, f"{base}/a.tar.gz", 300_000)
    assert done.returncode == 2, done.stderr
    lines = [line for line in done.stderr.strip().splitlines() if not line.startswith("edgekit: ") or "error" in line]
    assert len(lines) == 1 and lines[0].startswith("edgekit: error: "), done.stderr  # after progress lines
    assert "Traceback" not in done.stderr
    assert f"cannot write the {what} (File too large)" in lines[0] and str(cache) in lines[0]
    assert "connection" not in lines[0] and "--cache-dir" in lines[0]
    assert _leftovers(cache) == []


def test_the_fetched_file_honours_the_umask(tmp_path: Path, server: tuple[str, Path]) -> None:
    """mkstemp made the cached data file 0600 whatever the umask (issue 12)."""
    base, root = server
    (root / "wisdm.tar.gz").write_bytes(_archive({RAW_MEMBER: _raw_bytes(tmp_path)}))
    old = os.umask(0o022)
    try:
        path = fetch_wisdm(tmp_path / "cache", url=f"{base}/wisdm.tar.gz", expected_counts=COUNTS, tolerance=0)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
