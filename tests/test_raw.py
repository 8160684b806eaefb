"""The raw WISDM v1.1 reader: every defect of the real file, its count, reason and line number."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgekit.data import raw as raw_mod
from edgekit.data import raw_lines
from edgekit.data.raw import (
    EXTRA,
    MISSING,
    NON_FINITE,
    NON_NUMERIC,
    NON_UTF8,
    OUT_OF_RANGE,
    read_raw,
    write_raw,
)
from edgekit.data.types import Recording
from edgekit.errors import EdgekitError

GOOD = b"33,Jogging,49105962326000,-0.6946377,12.680544,0.50395286;"


def _write(tmp_path: Path, lines: list[bytes], name: str = "raw.txt", sep: bytes = b"\n") -> Path:
    path = tmp_path / name
    path.write_bytes(sep.join(lines) + sep)
    return path


LABELS = ("Jogging", "Sitting", "Walking")


def _rec(n: int = 500, seed: int = 0, labels: tuple[str, ...] = LABELS) -> Recording:
    rng = np.random.default_rng(seed)
    return Recording(
        user=np.repeat(np.arange(n // 100 + 1, dtype=np.int64) + 1, 100)[:n],
        activity=rng.integers(0, len(labels), n).astype(np.int64),
        labels=list(labels),
        t_ns=np.arange(n, dtype=np.int64) * 50_000_000 + 1_600_000_000_000_000_123,
        xyz=(rng.normal(0, 8, (n, 3)) * rng.choice([1e-3, 1, 10], (n, 1))).astype(np.float32),
    )


def _assert_same(a: Recording, b: Recording) -> None:
    assert a.labels == b.labels
    np.testing.assert_array_equal(a.user, b.user)
    np.testing.assert_array_equal(a.activity, b.activity)
    np.testing.assert_array_equal(a.t_ns, b.t_ns)
    np.testing.assert_array_equal(a.xyz, b.xyz)


# --- clean files -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["rec.txt", "rec.txt.gz"])
def test_write_then_read_round_trips_float32_exactly(tmp_path: Path, name: str) -> None:
    rec = _rec()
    write_raw(tmp_path / name, rec)
    back = read_raw(tmp_path / name)
    _assert_same(rec, back)
    assert back.xyz.dtype == np.float32 and back.t_ns.dtype == np.int64 and back.user.dtype == np.int64
    assert back.skipped.count == 0 and back.skipped.recovered == 0


def test_gzip_is_detected_by_magic_bytes_not_suffix(tmp_path: Path) -> None:
    gz_named_txt = tmp_path / "looks_plain.txt"
    gz_named_txt.write_bytes(gzip.compress(GOOD + b"\n"))
    plain_named_gz = tmp_path / "looks_gzipped.txt.gz"
    plain_named_gz.write_bytes(GOOD + b"\n")
    for path in (gz_named_txt, plain_named_gz):
        rec = read_raw(path)
        assert len(rec) == 1 and rec.labels == ["Jogging"]


def test_clean_file_never_uses_the_python_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The speed guarantee: clean lines (even ending ';,' or lacking the last newline) skip the Python tier."""
    path = tmp_path / "clean.txt"
    write_raw(path, _rec(2000))
    text = path.read_bytes().replace(b";\n", b";,\n", 7)[:-1]
    path.write_bytes(text)

    def forbidden(*args: object) -> None:
        raise AssertionError("Python fallback used on a clean file")

    monkeypatch.setattr(raw_lines, "_parse_line", forbidden)
    assert len(read_raw(path)) == 2000


def test_labels_are_any_names_sorted_and_file_order_is_kept(tmp_path: Path) -> None:
    lines = [
        b"7,Stairs,3,1,1,1;",
        b"7,Caf\xc3\xa9,4,1,1,1;",  # valid UTF-8 label: goes the slow way but is accepted
        b"5,Jogging,1,1,1,1;",
        b"5,Stairs,2,1,1,1;",
    ]
    rec = read_raw(_write(tmp_path, lines))
    assert rec.labels == ["Café", "Jogging", "Stairs"]
    assert [rec.labels[a] for a in rec.activity] == ["Stairs", "Café", "Jogging", "Stairs"]
    assert rec.t_ns.tolist() == [3, 4, 1, 2]  # timestamps kept as given, file order, no sorting
    assert rec.skipped.count == 0


def test_whitespace_around_fields_is_accepted(tmp_path: Path) -> None:
    rec = read_raw(_write(tmp_path, [b" 33 , Walking , 5 , 1.5 , -2 , 3e1 ;", GOOD]))
    assert rec.labels == ["Jogging", "Walking"]
    np.testing.assert_array_equal(rec.xyz[0], np.float32([1.5, -2, 30]))
    assert rec.skipped.count == 0


# --- each defect of the real file ------------------------------------------------------------------


def test_trailing_semicolon_and_commas_are_stripped(tmp_path: Path) -> None:
    lines = [
        b"33,Jogging,49106062271000,5.012288,11.264028,0.95342433;,",
        b"33,Jogging,49106112167000,6.2,11.2,0.9;,,,",
        b"33,Jogging,49106162167000,6.3,11.3,0.8,;",
        b"33,Jogging,49106212167000,6.4,11.4,0.7",
    ]
    rec = read_raw(_write(tmp_path, lines))
    assert len(rec) == 4 and rec.skipped.count == 0
    np.testing.assert_array_equal(rec.xyz[0], np.float32([5.012288, 11.264028, 0.95342433]))
    assert rec.t_ns[0] == 49106062271000


def test_two_records_on_one_line_are_both_recovered_in_order(tmp_path: Path) -> None:
    lines = [GOOD, b"33,Walking,1,1,1,1;33,Walking,2,2,2,2;", b"33,Walking,3,3,3,3;,34,Walking,4,4,4,4", GOOD]
    rec = read_raw(_write(tmp_path, lines))
    assert rec.t_ns.tolist() == [49105962326000, 1, 2, 3, 4, 49105962326000]
    assert rec.user.tolist() == [33, 33, 33, 33, 34, 33]
    assert rec.skipped.count == 0
    assert rec.skipped.recovered == 4


def test_blank_lines_are_ignored_not_counted(tmp_path: Path) -> None:
    lines = [b"", GOOD, b"", b"   \t ", b";", b"; ,", GOOD, b""]
    rec = read_raw(_write(tmp_path, lines))
    assert len(rec) == 2
    assert rec.skipped.count == 0 and rec.skipped.reasons == {}


def test_crlf_line_ends(tmp_path: Path) -> None:
    path = _write(tmp_path, [GOOD, b"33,Walking,1,1,1,1;", b"33,Walking,2,,1,1;"], sep=b"\r\n")
    rec = read_raw(path)
    assert len(rec) == 2
    assert rec.skipped.reasons == {MISSING: 1}
    assert rec.skipped.first == [(3, MISSING)]


def test_missing_and_empty_values(tmp_path: Path) -> None:
    lines = [
        GOOD,
        b"33,Jogging,49106112167000,6.2,,0.9;",  # line 2: empty value, right number of commas
        b"33,Jogging,49106112167000,6.2,0.9;",  # line 3: a value missing
        b"33,,49106112167000,6.2,1,0.9;",  # line 4: empty label
        b"33,Jogging,,6.2,1,0.9;",  # line 5: empty timestamp (second pandas pass keeps int64)
        b",,,,,;",  # line 6: nothing but separators
        b"33,Jogging,49106112167000,6.2,1,;",  # line 7: empty z then ';'
        GOOD,
    ]
    rec = read_raw(_write(tmp_path, lines))
    assert len(rec) == 2
    assert rec.skipped.reasons == {MISSING: 6}
    assert [n for n, _ in rec.skipped.first] == [2, 3, 4, 5, 6, 7]


def test_non_numeric_values(tmp_path: Path) -> None:
    lines = [
        b"user,activity,timestamp,x,y,z;",  # a header line
        GOOD,
        b"33,Jogging,49106112167000,abc,1,0.9;",
        b"33.5,Jogging,49106112167000,1,1,0.9;",
        b"33,Jogging,4910611216.5,1,1,0.9;",
        b"33,Jogging,49106112167000,1_0,1,0.9;",
        b'33,Jogging,49106112167000,"1",1,0.9;',
    ]
    rec = read_raw(_write(tmp_path, lines))
    assert len(rec) == 1
    assert rec.skipped.reasons == {NON_NUMERIC: 6}
    assert [n for n, _ in rec.skipped.first] == [1, 3, 4, 5, 6, 7]


def test_nan_inf_and_huge_values(tmp_path: Path) -> None:
    lines = [
        GOOD,
        b"33,Jogging,1,nan,1,0.9;",
        b"33,Jogging,2,1,-inf,0.9;",
        b"33,Jogging,3,1,1,1e5;",
        b"33,Jogging,4,1,1,-10000.5;",
        b"33,Jogging,5,1,1,9999.5;",  # inside the limit: kept
        b"33,Jogging,99999999999999999999,1,1,1;",  # beyond int64
    ]
    rec = read_raw(_write(tmp_path, lines))
    assert len(rec) == 2
    assert rec.skipped.reasons == {NON_FINITE: 2, OUT_OF_RANGE: 3}
    assert rec.skipped.first == [
        (2, NON_FINITE),
        (3, NON_FINITE),
        (4, OUT_OF_RANGE),
        (5, OUT_OF_RANGE),
        (7, OUT_OF_RANGE),
    ]


def test_extra_fields(tmp_path: Path) -> None:
    rec = read_raw(_write(tmp_path, [GOOD, b"33,Jogging,1,1,1,1,1;", b",33,Jogging,1,1,1,1;"]))
    assert rec.skipped.reasons == {EXTRA: 2}
    assert [n for n, _ in rec.skipped.first] == [2, 3]


def test_non_utf8_bytes(tmp_path: Path) -> None:
    lines = [GOOD, b"33,Jog\xffging,1,1,1,1;", b"33,Jogging,2,1,1,1\xe9;", GOOD]
    rec = read_raw(_write(tmp_path, lines))
    assert len(rec) == 2 and rec.labels == ["Jogging"]
    assert rec.skipped.reasons == {NON_UTF8: 2}
    assert rec.skipped.first == [(2, NON_UTF8), (3, NON_UTF8)]


def test_all_defects_together_keep_order_and_report_first_lines(tmp_path: Path) -> None:
    rec = _rec(300)
    clean = tmp_path / "clean.txt"
    write_raw(clean, rec)
    lines = clean.read_bytes().split(b"\n")[:-1]
    damaged = {
        10: b"1,Walking,1,,1,1;",
        20: b"1,Walking,1,x,1,1;",
        30: b"1,Walking,1,nan,1,1;",
        40: b"1,Walking,1,1e9,1,1;",
        50: b"1,Walk\xffing,1,1,1,1;",
        60: b"1,Walking,1,1,1,1,1;",
    }
    for index, text in damaged.items():
        lines.insert(index, text)
    lines.insert(5, b"")  # blank lines shift physical line numbers
    path = _write(tmp_path, lines, name="damaged.txt.gz")
    path.write_bytes(gzip.compress(path.read_bytes()))
    back = read_raw(path)
    _assert_same(rec, back)
    assert back.skipped.count == 6
    assert [n for n, _ in back.skipped.first] == [12, 22, 32, 42, 52, 62]
    assert back.skipped.reasons == {r: 1 for r in (MISSING, NON_NUMERIC, NON_FINITE, OUT_OF_RANGE, NON_UTF8, EXTRA)}
    assert "6 lines skipped" in back.skipped.summary()


def test_skip_report_keeps_the_first_ten_lines_overall(tmp_path: Path) -> None:
    lines = [GOOD] + [b"33,Jogging,1,x,1,1;"] * 20 + [b"33,Jogging,1,,1,1;"] * 3
    lines.insert(3, b"33,Jogging,1,,1,1;")
    rec = read_raw(_write(tmp_path, lines))
    assert rec.skipped.count == 24
    assert rec.skipped.reasons == {NON_NUMERIC: 20, MISSING: 4}
    assert [n for n, _ in rec.skipped.first] == list(range(2, 12))
    assert (4, MISSING) in rec.skipped.first


# --- the two tiers agree ----------------------------------------------------------------------------

_FRAGMENTS = [
    b"1,Walking,10,1.5,-2,3;",
    b"2,Jogging,20,0.25,4,-1;,",
    b"3,Sitting,30,1,2,3",
    b"4,Walking,40,1,,3;",
    b"5,Walking,50,1,2;",
    b"6,Walking,60,nan,2,3;",
    b"7,Walking,70,abc,2,3;",
    b"8,Walking,80,1,2,3;9,Jogging,90,4,5,6;",
    b"",
    b"  ",
    b"10,Walk\xffing,100,1,2,3;",
    b"11,Walking,110,1,2,3,4;",
    b"12,Walking,1600000000000000123,1,2,3;",
    b"13,Walking,,1,2,3;",
    b"14, Standing ,140,1e4,2,3;",
    b"15,Walking,150,1e5,2,3;",
    b"16,Walking,160,1,2,3\r",
    b"17.5,Walking,170,1,2,3;",
    b"18,Walking,18.5,1,2,3;",
    b"19,Walking,190,e,2,3;",
    b"20,5,200,1,2,3;",  # a numeric activity code is a label too
    b"21,Walking,210,1,2,3;,,",
    b"22,Walking,220,0x1,2,3;",
    b'23,"Walking",230,1,2,3;',
    b"24,Walking,240,1.5e-3,2E2,-3 ;",
    b"25,Walking,250,Infinity,2,3;",
    b"26,,260,1,2,3;",
    b"27,Walking,99999999999999999999,1,2,3;",
]


@settings(
    max_examples=int(os.environ.get("EDGEKIT_HYPOTHESIS_EXAMPLES", "60")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(st.lists(st.sampled_from(_FRAGMENTS), min_size=1, max_size=40))
def test_vectorised_reader_equals_reading_every_line_in_python(tmp_path: Path, lines: list[bytes]) -> None:
    path = _write(tmp_path, lines, name="mix.txt")
    data = path.read_bytes().replace(b"\r\n", b"\n")
    starts = np.concatenate(([0], np.flatnonzero(np.frombuffer(data, np.uint8) == 10) + 1))
    slow = raw_lines.parse_lines(data, starts, np.arange(starts.size - 1), raw_mod.MAX_ABS)
    try:
        fast = read_raw(path)
    except EdgekitError:
        assert not slow.line  # no valid record: both agree there is nothing
        return
    reference = raw_mod._assemble(None, slow)
    _assert_same(reference, fast)
    assert fast.skipped.to_dict() == reference.skipped.to_dict()


# --- errors -----------------------------------------------------------------------------------------


def test_missing_file_and_folder_name_the_path_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(EdgekitError, match=r"nope\.txt: file not found; pass a WISDM"):
        read_raw(tmp_path / "nope.txt")
    with pytest.raises(EdgekitError, match=r"is a folder; pass the raw WISDM file inside it"):
        read_raw(tmp_path)


@pytest.mark.parametrize("content", [b"", b"\n\n  \n", gzip.compress(b"")])
def test_empty_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "empty.txt"
    path.write_bytes(content)
    with pytest.raises(EdgekitError, match=r"empty\.txt: file is empty; expected WISDM v1\.1 raw lines"):
        read_raw(path)


def test_file_without_valid_records(tmp_path: Path) -> None:
    path = _write(tmp_path, [b"<html><body>404</body></html>", b"33,Jogging,1,x,1,1;"], name="page.txt")
    with pytest.raises(EdgekitError, match=r"page\.txt: no valid records \(2 lines skipped.*expected WISDM"):
        read_raw(path)


def test_damaged_gzip(tmp_path: Path) -> None:
    path = tmp_path / "cut.txt.gz"
    path.write_bytes(gzip.compress(GOOD * 1000)[:40])
    with pytest.raises(EdgekitError, match=r"cut\.txt\.gz: damaged gzip file"):
        read_raw(path)


# --- the real file ----------------------------------------------------------------------------------


def test_real_wisdm2019_watch_file() -> None:
    env = os.environ.get("EDGEKIT_WISDM_RAW")
    if not env:
        pytest.skip("set EDGEKIT_WISDM_RAW to the real raw stream (wisdm2019-watch_raw.txt.gz)")
    start = time.perf_counter()
    rec = read_raw(Path(env))
    seconds = time.perf_counter() - start
    assert len(rec) == 607_200
    assert rec.skipped.count == 0 and rec.skipped.recovered == 0
    assert np.unique(rec.user).size == 51
    assert rec.labels == ["Jogging", "Sitting", "Stairs", "Standing", "Walking"]
    assert np.bincount(rec.activity).tolist() == [120_000, 122_400, 120_000, 122_400, 122_400]
    assert rec.xyz[0].tolist() == pytest.approx([7.091625, -0.5916671, 8.195502])
    assert seconds < 10, f"parsing took {seconds:.1f} s (normally well under 2 s)"


# --- hostile sizes (issue 12, item 9): memory follows the records kept, not the bytes read ------------


def _gzip_stream(path: Path, head: bytes, filler: bytes, repeat: int, tail: bytes = b"") -> None:
    """A .gz of head + filler*repeat + tail, compressed block by block (nothing that big is ever held)."""
    with gzip.open(path, "wb", compresslevel=1) as out:
        out.write(head)
        for _ in range(repeat):
            out.write(filler)
        out.write(tail)


def _child_peak_mb(path: Path) -> tuple[float, str]:
    """Peak RSS (MB) of a fresh interpreter that reads ``path``, and what it printed."""
    code = (
        "import resource, sys\n"
        "from edgekit.data.raw import read_raw\n"
        "rec = read_raw(sys.argv[1])\n"
        "print(len(rec), rec.skipped.count)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result, peak = done.stdout.splitlines()
    return float(peak), result


def test_blank_lines_cost_no_memory(tmp_path: Path) -> None:
    path = tmp_path / "blank.txt.gz"
    _gzip_stream(path, GOOD + b"\n", b"\n" * (1 << 20), 6, GOOD + b"\n")  # 6 M blank lines between 2 records
    baseline, _ = _child_peak_mb(_write(tmp_path, [GOOD, GOOD], name="two.txt"))
    peak, result = _child_peak_mb(path)
    assert result == "2 0"  # blank lines are neither records nor skipped
    assert peak - baseline < 150, f"6 M blank lines cost {peak - baseline:.0f} MB over reading 2 lines"


def test_endless_line_is_refused_after_a_bounded_read(tmp_path: Path) -> None:
    path = tmp_path / "one_line.txt.gz"
    _gzip_stream(path, GOOD + b"\n", b"1" * (1 << 20), 40)  # a 40 MB second line
    with pytest.raises(EdgekitError, match=r"one_line\.txt\.gz: line 2 is longer than 1,048,576 bytes; not a WISDM"):
        read_raw(path)


def test_gzip_bomb_is_refused_at_the_text_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(raw_mod, "MAX_TEXT_BYTES", 3 << 20)
    path = tmp_path / "bomb.txt.gz"
    _gzip_stream(path, b"", GOOD + b"\n", 80_000)  # 4.7 MB of valid records: over the (lowered) cap
    with pytest.raises(EdgekitError, match=r"bomb\.txt\.gz: holds more than 3,145,728 bytes of text once decompressed"):
        read_raw(path)
    plain = tmp_path / "plain.txt"  # the cap is on gunzipped text; a plain file's size is plain to see
    plain.write_bytes((GOOD + b"\n") * 80_000)
    assert len(read_raw(plain)) == 80_000


def test_blocks_give_the_same_records_as_one_pass(tmp_path: Path) -> None:
    """Lines cut across block borders, defects near them: block-wise reading equals one whole-file pass."""
    rng = np.random.default_rng(3)
    lines = []
    for i in range(90_000):  # ~5 MB: three blocks
        x, y, z = rng.normal(0, 5, 3).astype(np.float32)
        lines.append(f"{i % 7 + 1},{LABELS[i // 5000 % 3]},{i * 50_000_000},{x},{y},{z};".encode())
    for i in rng.choice(len(lines) - 1, 400, replace=False):
        lines[i] = [
            lines[i] + b",",
            lines[i] + b"\r",
            b"",
            lines[i].replace(b",", b",,", 1),
            lines[i] + b"\xff",
            lines[i] + lines[i + 1],
        ][i % 6]
    data = b"\n".join(lines) + b"\n"
    path = tmp_path / "blocks.txt"
    path.write_bytes(data)
    whole = raw_mod._parse_bytes(data, raw_mod.MAX_ABS)
    rec = read_raw(path)
    assert rec.skipped.to_dict() == whole.skipped.to_dict() and rec.skipped.count > 0
    assert rec.labels == whole.labels
    for name in ("user", "activity", "t_ns", "xyz"):
        assert np.array_equal(getattr(rec, name), getattr(whole, name)), name
