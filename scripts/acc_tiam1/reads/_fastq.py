"""FASTQ checks, cheap at config time and whole before any index is built.

A cheap look at the first records when the config is read, and a full streaming pass
(gzip integrity, record structure, read counts) in a rule that every index build waits for.

A FASTQ record is four lines: ``@name``, sequence, ``+`` (optionally the name again),
qualities of the same length as the sequence.
"""

from __future__ import annotations

import gzip
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .. import io
from ..errors import InputError

#: Bytes decompressed per step of the full pass.
BLOCK = 1 << 22
_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class FastqStats:
    """What a full pass over one FASTQ file found.

    Attributes
    ----------
    reads
        Number of records.
    min_length, max_length
        Shortest and longest read.
    first_name
        Name of the first record (without ``@`` and comment), for pairing checks.
    """

    reads: int
    min_length: int
    max_length: int
    first_name: str


def _is_gzip(path: Path) -> bool:
    with open(path, "rb") as handle:
        return handle.read(2) == _GZIP_MAGIC


def _open_binary(path: Path):
    return gzip.open(path, "rb") if _is_gzip(path) else open(path, "rb")


def read_name(header: bytes | str) -> str:
    """The read name of a header line: without ``@``, comment and ``/1`` or ``/2``.

    Parameters
    ----------
    header
        The first line of a record.
    """
    text = header.decode(errors="replace") if isinstance(header, bytes) else header
    name = text.rstrip("\r\n").lstrip("@").split(maxsplit=1)[0] if text.strip("@\r\n ") else ""
    if name.endswith(("/1", "/2")):
        name = name[:-2]
    return name


def check_readable(path: str | Path, what: str) -> Path:
    """Raise :class:`InputError` unless ``path`` is a readable, non-empty file.

    Parameters
    ----------
    path
        The file.
    what
        How to call it in the message (e.g. ``"sample 'S1' unit 'L1' fq1"``).
    """
    p = io.check_readable(path, what)
    if p.stat().st_size == 0:
        raise InputError(f"{what}: file is empty.", p)
    return p


def peek_fastq(path: str | Path, what: str, n_bytes: int = 65536) -> str:
    """Check the first records of a FASTQ file (cheap: reads at most ``n_bytes``).

    Parameters
    ----------
    path
        FASTQ file, plain or gzipped.
    what
        How to call the file in error messages.
    n_bytes
        Decompressed bytes looked at.

    Returns
    -------
    The first read's name (see :func:`read_name`).

    Raises
    ------
    InputError
        When the file is missing, unreadable, not gzip although named ``.gz``, or does not
        start with a FASTQ record.
    """
    p = check_readable(path, what)
    if p.name.endswith(".gz") and not _is_gzip(p):
        raise InputError(f"{what}: the name ends in .gz but the file is not gzip-compressed.", p)
    try:
        with _open_binary(p) as handle:
            head = handle.read(n_bytes)
    except (OSError, EOFError, zlib.error) as err:
        raise InputError(f"{what}: cannot be decompressed ({err}).", p) from err
    lines = head.split(b"\n")
    # Four complete lines are needed: a fifth element exists once the fourth has ended.
    _check_record(lines[:4] if len(lines) > 4 else lines[:-1], p, what, 1)
    return read_name(lines[0])


def _check_record(lines: list[bytes], path: Path, what: str, number: int) -> None:
    header = lines[0].rstrip(b"\r") if lines else b""
    if not header.startswith(b"@"):
        shown = header[:40].decode(errors="replace")
        raise InputError(
            f"{what}: record {number} does not start with '@' (found '{shown}'); not a FASTQ file.",
            path,
        )
    if len(lines) < 4:
        raise InputError(
            f"{what}: record {number} is incomplete; the file is truncated or not FASTQ.", path
        )
    seq, plus, qual = (line.rstrip(b"\r") for line in lines[1:4])
    if not plus.startswith(b"+"):
        raise InputError(
            f"{what}: line 3 of record {number} does not start with '+'; not a "
            "FASTQ file (multi-line FASTQ is not supported).",
            path,
        )
    if len(seq) != len(qual):
        raise InputError(
            f"{what}: record {number} has {len(seq)} bases but {len(qual)} quality values.", path
        )


def _blocks(path: Path, what: str):
    try:
        with _open_binary(path) as handle:
            while True:
                block = handle.read(BLOCK)
                if not block:
                    return
                yield block
    except EOFError as err:
        raise InputError(
            f"{what}: the gzip stream ends early: the file is truncated "
            "(an interrupted download or copy?).",
            path,
        ) from err
    except (OSError, zlib.error) as err:
        raise InputError(f"{what}: is corrupt ({err}).", path) from err


def _line_bounds(buffer: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    ends = np.flatnonzero(buffer == 10)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return starts, ends


def scan_fastq(path: str | Path, what: str) -> FastqStats:
    """Read a whole FASTQ file and check every record (vectorised, block by block).

    Checks that the gzip stream is complete, that every record has four lines with ``@``
    and ``+`` in place and as many qualities as bases, and that the file does not end in
    the middle of a record.

    Parameters
    ----------
    path
        FASTQ file, plain or gzipped.
    what
        How to call the file in error messages.

    Returns
    -------
    FastqStats

    Raises
    ------
    InputError
        Naming the file and the first bad record.
    """
    p = check_readable(path, what)
    reads, min_len, max_len, first = 0, None, 0, None
    rest = b""
    lines_done = 0
    for block in _blocks(p, what):
        data = rest + block
        cut = data.rfind(b"\n") + 1
        # Keep whole records only, so that every step starts on a header line.
        buffer = np.frombuffer(data[:cut], dtype=np.uint8)
        starts, ends = _line_bounds(buffer)
        n_whole = len(starts) - len(starts) % 4
        rest = data[int(starts[n_whole]) if n_whole < len(starts) else cut :]
        if n_whole == 0:
            continue
        starts, ends = starts[:n_whole], ends[:n_whole]
        if first is None:
            first = read_name(bytes(buffer[starts[0] : ends[0]]))
        lengths = _check_block(buffer, starts, ends, p, what, lines_done)
        reads += n_whole // 4
        lines_done += n_whole
        lo = int(lengths.min())
        min_len = lo if min_len is None else min(min_len, lo)
        max_len = max(max_len, int(lengths.max()))
    if rest.strip(b"\r\n"):
        # The last record, when the file does not end with a newline, or a truncated one.
        number = lines_done // 4 + 1
        lines = rest.rstrip(b"\r\n").split(b"\n")
        cut = len(lines) == 4 and len(lines[3].rstrip(b"\r")) < len(lines[1].rstrip(b"\r"))
        if (len(lines) != 4 or cut) and lines[0].startswith(b"@"):
            raise InputError(
                f"{what}: ends in the middle of record {number}: the file is truncated.", p
            )
        _check_record(lines, p, what, number)
        length = len(lines[1].rstrip(b"\r"))
        reads += 1
        min_len = length if min_len is None else min(min_len, length)
        max_len = max(max_len, length)
        first = first or read_name(lines[0])
    if reads == 0:
        raise InputError(f"{what}: holds no FASTQ record.", p)
    return FastqStats(reads=reads, min_length=min_len, max_length=max_len, first_name=first)


def _check_block(
    buffer: np.ndarray,
    starts: np.ndarray,
    ends: np.ndarray,
    path: Path,
    what: str,
    lines_before: int,
) -> np.ndarray:
    # Lengths without a trailing '\r' (Windows line ends are accepted).
    lengths = ends - starts
    has_cr = (lengths > 0) & (buffer[np.maximum(ends - 1, 0)] == 13)
    lengths = lengths - has_cr
    first_char = np.where(lengths > 0, buffer[np.minimum(starts, len(buffer) - 1)], 0)
    headers, plus = first_char[0::4], first_char[2::4]
    seq_len, qual_len = lengths[1::4], lengths[3::4]
    bad = (headers != ord("@")) | (plus != ord("+")) | (seq_len != qual_len) | (seq_len == 0)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        record = [bytes(buffer[starts[4 * i + k] : ends[4 * i + k]]) for k in range(4)]
        if seq_len[i] == 0 and headers[i] == ord("@") and plus[i] == ord("+"):
            raise InputError(
                f"{what}: record {lines_before // 4 + i + 1} has an empty sequence.", path
            )
        _check_record(record, path, what, lines_before // 4 + i + 1)
    return seq_len


def check_pair(r1: FastqStats, r2: FastqStats, r1_path: str, r2_path: str, what: str) -> None:
    """Raise when the two files of a read pair disagree in read count or first read name.

    Parameters
    ----------
    r1, r2
        Results of :func:`scan_fastq` for read 1 and read 2.
    r1_path, r2_path
        The files, for the message.
    what
        E.g. ``"sample 'S1' unit 'L1'"``.
    """
    if r1.reads != r2.reads:
        raise InputError(
            f"{what}: read 1 ({r1_path}) has {r1.reads:,} reads but read 2 ({r2_path}) has "
            f"{r2.reads:,}; paired files must hold the same reads in the same order (is one "
            "of them truncated, or from another run?).",
            r2_path,
        )
    if r1.first_name and r2.first_name and r1.first_name != r2.first_name:
        raise InputError(
            f"{what}: the first read of {r1_path} is '{r1.first_name}' but that of "
            f"{r2_path} is '{r2.first_name}'; fq1 and fq2 are not mates of one run.",
            r2_path,
        )


def check_sample_fastq(units: list[dict[str, str]], sample: str, min_read1: int = 1) -> list[dict]:
    """Full check of every FASTQ of one sample (rule reads_check_fastq).

    Parameters
    ----------
    units
        ``[{"unit", "fq1", "fq2"}]`` (``fq2`` empty: single-end).
    sample
        Sample id, for messages.
    min_read1
        Shortest read 1 allowed (10x: barcode + UMI length of the chemistry).

    Returns
    -------
    One dict per unit: ``unit, reads, read1_length, read2_length`` (min-max).

    Raises
    ------
    InputError
        Truncated or non-FASTQ files, mates with different read counts, read 1 shorter
        than ``min_read1``.
    """
    rows = []
    for u in units:
        what = f"sample '{sample}' unit '{u['unit']}'"
        r1 = scan_fastq(u["fq1"], f"{what} fq1")
        if r1.min_length < min_read1:
            raise InputError(
                f"{what} fq1: reads of {r1.min_length} bp, but the chemistry needs at least "
                f"{min_read1} bp (barcode + UMI); check snrna.chemistry, or whether fq1 and "
                "fq2 are swapped.",
                u["fq1"],
            )
        row = {
            "unit": u["unit"],
            "reads": r1.reads,
            "read1_length": f"{r1.min_length}-{r1.max_length}",
            "read2_length": "",
        }
        if u.get("fq2"):
            r2 = scan_fastq(u["fq2"], f"{what} fq2")
            check_pair(r1, r2, u["fq1"], u["fq2"], what)
            row["read2_length"] = f"{r2.min_length}-{r2.max_length}"
        rows.append(row)
    return rows
