"""Reading and writing the WISDM v1.1 raw stream: ``user,activity,timestamp,x,y,z;`` one record a line.

The real v1.1 file is not clean: trailing ``;`` and commas, blank lines, empty or non-numeric values,
two records on one physical line, CRLF line ends, stray non-UTF-8 bytes. Reading it line by line in
Python takes seconds, so the reader works in two tiers:

1. A vectorised pass classifies every physical line by its *skeleton* only: its separators, where
   it has letters, and any unusual byte, found with one ``bytes.translate``. Lines shaped exactly
   like one record go to pandas' C parser in one call; every other line is commented out of it.
2. The few lines pandas could not take, or whose values fail a check (missing, non-numeric,
   non-finite, out of range), are re-read by a small Python parser that recovers what it can (two
   records on a line, stray separators) and names the reason for the rest.

The Python parser is the definition of what is valid; the vectorised tier only decides which lines
are certainly valid, so both tiers give the same records as reading every line in Python would.

Blank lines (nothing but whitespace, or nothing but separators after a record such as a lone ``;``)
are not data and are ignored: they are neither records nor counted in the :class:`SkipReport`.
Everything else that is not a valid record is skipped, counted by reason, with its 1-based physical
line number. ``SkipReport.recovered`` counts valid records taken from lines that held more than one.

The file is read (and gunzipped) in blocks of whole lines, about 2 MiB at a time, and only each
block's records are kept, so memory follows the records, not the bytes: a file of 40 M blank lines or
one endless line costs no more than a small one. A line longer than :data:`MAX_LINE_BYTES` or gzip
text longer than :data:`MAX_TEXT_BYTES` is refused; no WISDM file comes anywhere near either.
"""

from __future__ import annotations

import csv
import gzip
import io
import warnings
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pandas as pd

from ..artifacts import write_bytes_atomic
from ..errors import EdgekitError
from .raw_lines import (  # noqa: F401  (the skip reasons are part of this module's interface)
    EXTRA,
    MISSING,
    N_FIELDS,
    NON_FINITE,
    NON_NUMERIC,
    NON_UTF8,
    OUT_OF_RANGE,
    Parsed,
    parse_lines,
)
from .types import MAX_REPORTED_LINES, Recording, SkipReport

MAX_ABS = 1e4  # m/s^2; about 1000 g, far beyond any body-worn accelerometer: such a value is corrupt
FORMAT_HINT = "expected WISDM v1.1 raw lines 'user,activity,timestamp,x,y,z;'"
GZIP_MAGIC = b"\x1f\x8b"
CHUNK_BYTES = 2 << 20  # a block of whole lines: big enough for pandas' speed, small enough for a line index
MAX_LINE_BYTES = 1 << 20  # a record is ~50 bytes; even a damaged line holding many records stays far below
MAX_TEXT_BYTES = 1 << 30  # gunzipped text; the v1.1 file is ~50 MB, so more is a bomb, not data

# The structure pass maps each line to its skeleton with one bytes.translate: digits, signs, '.', 'e'/'E',
# '_' and blanks vanish, other ASCII letters become 'a' (runs collapse to one), separators stay, and
# anything unusual (quotes, '#', a lone CR, non-ASCII ...) stays as itself. A clean record is then
# ",a,,,," (letters only in the label; none in a number, which catches 'nan', 'inf', 'abc'), or
# ",,,,," for labels without letters, followed by nothing, ';' or ';,'.
_DELETE = b"0123456789.+-_eE \t"
_LETTERS = bytes(b for b in range(128) if chr(b).isalpha() and b not in b"eE")
_SKELETON = bytes.maketrans(_LETTERS, b"a" * len(_LETTERS))
_COMMENT = b"#"  # never part of a clean line, so pandas can be told to ignore lines starting with it
_CLEAN_SHAPES = tuple(label + b",,,," + tail for label in (b",a", b",") for tail in (b"", b";", b";,"))
_SHAPE_BYTES = 8
_MIN_SHAPE = min(len(shape) for shape in _CLEAN_SHAPES)
_CLEAN_CODES = np.frombuffer(b"".join(s.ljust(_SHAPE_BYTES, b"\0") for s in _CLEAN_SHAPES), dtype=np.uint64)
_INT_TEXT = r"\s*[+-]?[0-9]{1,19}\s*"  # what pandas reads as int64 (a 19-digit overflow is caught later)


def read_raw(path: Path, max_abs: float = MAX_ABS) -> Recording:
    """Read a WISDM v1.1 raw stream (.txt, or gzip detected by its magic bytes) in file order.

    Values outside ``+-max_abs`` m/s^2 are skipped as corrupt. Raises :class:`EdgekitError` for a
    missing, empty, unreadable or absurdly long file, or one without a single valid record.
    """
    path = Path(path)
    _check_path(path)
    gz = False
    try:
        with path.open("rb") as raw:
            gz = raw.read(2) == GZIP_MAGIC
            raw.seek(0)
            stream: BinaryIO = gzip.GzipFile(fileobj=raw, mode="rb") if gz else raw  # type: ignore[assignment]
            return read_raw_stream(stream, str(path), max_abs, MAX_TEXT_BYTES if gz else None)
    except (OSError, EOFError, zlib.error) as exc:
        if gz and not isinstance(exc, PermissionError):
            raise EdgekitError(f"{path}: damaged gzip file ({exc}); download or copy it again") from None
        reason = getattr(exc, "strerror", None) or exc
        raise EdgekitError(f"{path}: cannot read ({reason}); check the file's permissions") from None


def read_raw_stream(
    stream: BinaryIO,
    name: str,
    max_abs: float = MAX_ABS,
    max_bytes: int | None = None,
    check: Callable[[Recording, int], None] | None = None,
) -> Recording:
    """Read raw lines from an open binary stream block by block; ``name`` is used in messages.

    ``check(block_records, lines_read)`` sees each block's records as soon as they are parsed and may
    raise to stop early (the download checks the published counts this way). ``max_bytes`` caps the
    text read: a gzip bomb is refused once it has produced that much, not after.
    """
    parts: list[Recording] = []
    text = False
    for first, chunk in _line_chunks(stream, name, max_bytes):
        if chunk.isspace():  # blank lines are neither records nor skipped: nothing to parse
            part = _parse_bytes(b"", max_abs, first)
        else:
            text = True
            part = _parse_bytes(chunk, max_abs, first)
        if len(part) or part.skipped.count:
            parts.append(part)
        if check is not None:
            check(part, first + chunk.count(b"\n") + (not chunk.endswith(b"\n")))
    if not text:
        raise EdgekitError(f"{name}: file is empty; {FORMAT_HINT}")
    rec = _merge(parts)
    if len(rec) == 0:
        raise EdgekitError(
            f"{name}: no valid records ({rec.skipped.summary()}); {FORMAT_HINT}, e.g. "
            "'33,Jogging,49105962326000,-0.69,12.68,0.50;'"
        )
    return rec


def write_raw(path: Path, rec: Recording) -> None:
    """Write ``rec`` in the v1.1 line format (gzip when the name ends in .gz), atomically.

    Values use the shortest text that reads back to the same float32, so read_raw(write_raw(r)) == r.
    """
    path = Path(path)
    unsafe = [name for name in rec.labels if not name.strip() or any(c in name for c in ",;#\r\n")]
    if unsafe:
        raise EdgekitError(f"activity labels {unsafe}: cannot be written to a raw file; use plain names")
    xyz = np.asarray(rec.xyz, dtype=np.float32)
    cols = [xyz[:, k].astype(str).tolist() for k in range(3)]
    labels = np.asarray(rec.labels, dtype=object)[np.asarray(rec.activity)].tolist()
    users, times = np.asarray(rec.user).tolist(), np.asarray(rec.t_ns).tolist()
    text = "".join(f"{u},{a},{t},{x},{y},{z};\n" for u, a, t, x, y, z in zip(users, labels, times, *cols, strict=True))
    data = text.encode("utf-8")
    if path.name.endswith(".gz"):
        data = gzip.compress(data, compresslevel=6, mtime=0)
    write_bytes_atomic(path, data)


def _check_path(path: Path) -> None:
    if path.is_dir():
        raise EdgekitError(f"{path}: is a folder; pass the raw WISDM file inside it (.txt or .txt.gz)")
    if not path.exists():
        raise EdgekitError(
            f"{path}: file not found; pass a WISDM v1.1 raw file (.txt or .txt.gz) or run 'edgekit data fetch'"
        )


def _line_chunks(stream: BinaryIO, name: str, max_bytes: int | None) -> Iterator[tuple[int, bytes]]:
    """(0-based number of its first line, block of whole lines): the text in about CHUNK_BYTES pieces.

    Only the unfinished last line of a block is carried over, so nothing but one block and one line is
    ever held; that line is capped so an endless line is refused instead of filling memory.
    """
    rest, total, line = b"", 0, 0
    while block := stream.read(CHUNK_BYTES):
        total += len(block)
        if max_bytes is not None and total > max_bytes:
            raise EdgekitError(
                f"{name}: holds more than {max_bytes:,} bytes of text once decompressed, far more than any "
                "WISDM file (v1.1 is ~50 MB); pass the raw WISDM file, not a different or damaged one"
            )
        buf = rest + block if rest else block
        cut = buf.rfind(b"\n") + 1
        if cut:
            chunk, rest = buf[:cut], buf[cut:]
            yield line, chunk
            line += chunk.count(b"\n")
        else:
            rest = buf
        if len(rest) > MAX_LINE_BYTES:
            raise EdgekitError(
                f"{name}: line {line + 1} is longer than {MAX_LINE_BYTES:,} bytes; not a WISDM raw file "
                f"({FORMAT_HINT}, ~50 bytes each)"
            )
    if rest:
        yield line, rest


def _parse_bytes(data: bytes, max_abs: float, first_line: int = 0) -> Recording:
    """Both tiers over a block of whole lines whose first line is ``first_line`` (0-based) of the file."""
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")  # a lone CR stays and is whitespace to the Python parser
    if not data.endswith(b"\n"):
        data += b"\n"
    suspect = ~_clean_lines(_skeleton(data))
    buf = bytearray(data)
    starts = _line_starts(buf) if suspect.any() else None
    table = None
    for _ in range(2):  # a second pass only when empty values widened an integer column to float
        if suspect.any():
            starts = starts if starts is not None else _line_starts(buf)
            _comment_out(buf, starts, suspect)
        rows_lines = np.flatnonzero(~suspect)
        table, bad, repass = _pandas_pass(buf, rows_lines, max_abs)
        suspect[rows_lines[bad]] = True
        if table is None or not repass:
            break
        if starts is None:
            starts = _line_starts(buf)
    else:
        table = None  # an integer column pandas cannot type even without the bad rows: Python reads all
        suspect[:] = True
    if table is not None and bad.any():
        table = table[~bad]
    lines = np.flatnonzero(suspect)
    slow = Parsed()
    if lines.size:  # empty lines hold nothing; skipping them here keeps 40 M blank lines out of Python
        starts = starts if starts is not None else _line_starts(buf)
        lines = lines[starts[lines + 1] - 1 > starts[lines]]
        slow = parse_lines(data, starts, lines, max_abs) if lines.size else slow
    return _assemble(table, slow, first_line)


def _skeleton(data: bytes) -> np.ndarray:
    """The skeleton of every line (see _SKELETON), with each run of letters collapsed to one 'a'."""
    s = np.frombuffer(data.translate(_SKELETON, _DELETE), dtype=np.uint8)
    letter = s == ord("a")
    repeat = np.zeros_like(letter)
    np.logical_and(letter[1:], letter[:-1], out=repeat[1:])
    return s[~repeat]


def _clean_lines(s: np.ndarray) -> np.ndarray:
    """Per physical line: True when its skeleton is exactly that of one well-formed record.

    Every clean shape fits in 8 bytes, so each line's first 8 skeleton bytes (zeroed past its end)
    are read as one uint64 and looked up among the clean shapes in a single vectorised step.
    """
    ends = np.flatnonzero(s == ord("\n"))
    begins = np.concatenate(([0], ends[:-1] + 1))
    length = ends - begins
    fits = (length >= _MIN_SHAPE) & (length <= _SHAPE_BYTES)  # only these can be clean: blank lines cost nothing
    begins, length = begins[fits], length[fits]
    padded = np.concatenate((s, np.zeros(_SHAPE_BYTES, dtype=np.uint8)))
    head = padded[begins[:, None] + np.arange(_SHAPE_BYTES)]
    head[np.arange(_SHAPE_BYTES)[None, :] >= length[:, None]] = 0
    clean = np.zeros(ends.size, dtype=bool)
    clean[fits] = np.isin(head.view(np.uint64)[:, 0], _CLEAN_CODES)
    return clean


def _line_starts(buf: bytearray) -> np.ndarray:
    arr = np.frombuffer(buf, dtype=np.uint8)
    ends = np.flatnonzero(arr == ord("\n"))
    return np.concatenate(([0], ends + 1))  # one more than lines: starts[i + 1] - 1 is line i's end


def _comment_out(buf: bytearray, starts: np.ndarray, suspect: np.ndarray) -> None:
    """Hide suspect lines from pandas by starting them with the comment byte (empty lines need none)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    first = starts[:-1][suspect]
    first = first[arr[first] != ord("\n")]
    arr[first] = _COMMENT[0]


def _pandas_pass(
    buf: bytearray, rows_lines: np.ndarray, max_abs: float
) -> tuple[pd.DataFrame | None, np.ndarray, bool]:
    """Parse the clean lines in one C call.

    Returns the table, a mask of its rows the Python tier must judge, and whether the table must be
    parsed again without them (an integer column widened to float by an empty value loses precision).
    """
    none = np.zeros(rows_lines.size, dtype=bool)
    if rows_lines.size == 0:
        return None, none, False
    try:
        df = _read_csv(buf)
    except (pd.errors.ParserError, ValueError):  # pragma: no cover - the structure pass should prevent it
        return None, ~none, False
    if len(df) != rows_lines.size:  # pragma: no cover - pandas disagreed with the structure pass
        return None, ~none, False
    codes, names = pd.factorize(df[1])
    df[1] = pd.Categorical.from_codes(codes, categories=names)
    bad = _bad_values(df, max_abs)
    repass = any(df[col].dtype != np.int64 for col in (0, 2))
    df["line"] = rows_lines
    return df, bad, repass


def _read_csv(buf: bytearray) -> pd.DataFrame:
    with warnings.catch_warnings():  # mixed types in a column only mean bad rows, which we handle
        warnings.simplefilter("ignore", pd.errors.DtypeWarning)
        return pd.read_csv(
            io.BytesIO(buf.replace(b";", b",")),
            header=None,
            names=list(range(N_FIELDS + 2)),  # ';' and one trailing comma become (empty) fields 7 and 8
            sep=",",
            comment=_COMMENT.decode(),
            quoting=csv.QUOTE_NONE,
            lineterminator="\n",
            encoding="latin-1",
            dtype={1: object},  # not "category": it would turn labels such as "05" into the number 5
            engine="c",
        )


def _bad_values(df: pd.DataFrame, max_abs: float) -> np.ndarray:
    """Rows whose values the Python parser must judge (it names the reason)."""
    bad = df[N_FIELDS].notna().to_numpy() | df[N_FIELDS + 1].notna().to_numpy()
    labels = df[1]
    blank = np.append(labels.cat.categories.str.strip() == "", False)  # code -1 (NaN) indexes the False
    bad |= labels.isna().to_numpy() | blank[labels.cat.codes.to_numpy()]
    for col in (0, 2):
        bad |= ~_integer_rows(df[col])
    for col in (3, 4, 5):
        values = _floats(df[col])
        with np.errstate(invalid="ignore"):
            bad |= ~(np.abs(values) <= max_abs)  # also true for NaN
    return bad


def _floats(col: pd.Series) -> np.ndarray:
    """A value column as float64, NaN where it is no number.

    pandas keeps an integer too long for int64 (say 400 digits) as a Python int, which to_numeric
    cannot convert (OverflowError); as text it becomes inf, which the range check then rejects.
    """
    try:
        return pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    except OverflowError:
        return pd.to_numeric(col.astype(str), errors="coerce").to_numpy(dtype=np.float64)


def _integer_rows(col: pd.Series) -> np.ndarray:
    """Rows of an integer column that hold a plain integer (any other value makes pandas widen it)."""
    if col.dtype == np.int64:
        return np.ones(len(col), dtype=bool)
    if col.dtype.kind == "f":  # widened by an empty or decimal value; a second pass restores int64
        values = col.to_numpy()
        with np.errstate(invalid="ignore"):
            return (np.floor(values) == values) & (np.abs(values) < 2**53)
    return col.astype(str).str.fullmatch(_INT_TEXT).fillna(False).to_numpy(dtype=bool)


def _assemble(table: pd.DataFrame | None, slow: Parsed, first_line: int = 0) -> Recording:
    """Merge both tiers back into file order with one sorted label list."""
    if table is not None:  # rows dropped as bad may have been the only ones with some label
        table[1] = table[1].cat.remove_unused_categories()
    fast_names = [] if table is None else table[1].cat.categories.str.strip().tolist()
    labels = sorted(set(fast_names) | set(slow.label))
    lookup = {name: i for i, name in enumerate(labels)}
    parts = [_slow_columns(slow, lookup)]
    if table is not None:
        parts.insert(0, _fast_columns(table, [lookup[n] for n in fast_names]))
    cols = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    if slow.line and table is not None:
        order = np.argsort(cols["line"], kind="stable")
        cols = {key: value[order] for key, value in cols.items()}
    return Recording(
        user=cols["user"],
        activity=cols["activity"],
        labels=labels,
        t_ns=cols["t_ns"],
        xyz=cols["xyz"].astype(np.float32),
        skipped=_report(slow, first_line),
    )


def _fast_columns(table: pd.DataFrame, category_codes: list[int]) -> dict[str, np.ndarray]:
    codes = np.asarray(category_codes, dtype=np.int64)[table[1].cat.codes.to_numpy()]
    return {
        "line": table["line"].to_numpy(np.int64),
        "user": table[0].to_numpy(np.int64),
        "activity": codes,
        "t_ns": table[2].to_numpy(np.int64),
        "xyz": table[[3, 4, 5]].to_numpy(np.float64),
    }


def _slow_columns(slow: Parsed, lookup: dict[str, int]) -> dict[str, np.ndarray]:
    return {
        "line": np.asarray(slow.line, dtype=np.int64),
        "user": np.asarray(slow.user, dtype=np.int64),
        "activity": np.asarray([lookup[n] for n in slow.label], dtype=np.int64),
        "t_ns": np.asarray(slow.t_ns, dtype=np.int64),
        "xyz": np.asarray(slow.xyz, dtype=np.float64).reshape(-1, 3),
    }


def _report(slow: Parsed, first_line: int = 0) -> SkipReport:
    report = SkipReport(recovered=slow.recovered)
    for reason, lines in sorted(slow.skipped.items()):
        report.add(np.asarray(lines, dtype=np.int64) + first_line + 1, reason)
    first = sorted((n + first_line + 1, r) for r, lines in slow.skipped.items() for n in lines[:MAX_REPORTED_LINES])
    report.first = first[:MAX_REPORTED_LINES]  # add() keeps the first per call; we want the first overall
    return report


def _merge(parts: list[Recording]) -> Recording:
    """The blocks' records as one recording in file order, with one sorted label list for all."""
    labels = sorted({name for part in parts for name in part.labels})
    lookup = {name: i for i, name in enumerate(labels)}
    codes = [np.asarray([lookup[n] for n in part.labels], dtype=np.int64) for part in parts]
    skipped = SkipReport()
    for part in parts:
        skipped.count += part.skipped.count
        skipped.recovered += part.skipped.recovered
        for reason, n in part.skipped.reasons.items():
            skipped.reasons[reason] = skipped.reasons.get(reason, 0) + n
        skipped.first.extend(part.skipped.first)
    skipped.first = sorted(skipped.first)[:MAX_REPORTED_LINES]
    return Recording(
        user=np.concatenate([p.user for p in parts] or [np.zeros(0, np.int64)]),
        activity=np.concatenate([c[p.activity] for c, p in zip(codes, parts, strict=True)] or [np.zeros(0, np.int64)]),
        labels=labels,
        t_ns=np.concatenate([p.t_ns for p in parts] or [np.zeros(0, np.int64)]),
        xyz=np.concatenate([p.xyz for p in parts] or [np.zeros((0, 3), np.float32)]),
        skipped=skipped,
    )
