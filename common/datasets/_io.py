"""Bounded file access shared by every reader: size checks, UTF decoding, JSON, lines, tar.

Every function here checks the limits of `common.datasets.limits.LIMITS` and raises
`DatasetLimitError` (naming the file and the limit) or `DatasetFormatError`; nothing is
read without a bound.
"""
from __future__ import annotations

import codecs
import gzip
import itertools
import json
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.datasets import limits
from common.datasets.errors import DatasetEncodingError, DatasetError, DatasetFormatError, DatasetLimitError
from common.datasets.limits import size_words

# Byte-order marks say the encoding outright (longest first: UTF-32 LE starts like UTF-16 LE).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
_TO_UTF8 = "convert it to UTF-8, e.g. `iconv -f ENCODING -t UTF-8 FILE > FILE.utf8` (`file -i` may tell the encoding)"


@dataclass(frozen=True)
class Problem:
    """A part of a file that was not read: a failure, or (`skipped`) a deliberate skip.

    where:  the file, `archive:member`, or `file#record`
    reason: what happened, without the location
    hint:   how to fix it ("" for skips)
    limit:  the `DatasetLimits` field that refused it ("" when no limit did)
    value:  that limit's value
    """

    where: str
    reason: str
    hint: str = ""
    skipped: bool = False
    limit: str = ""
    value: int = 0

    def error(self) -> DatasetError:
        """The exception a reader that does not go on past problems raises for this one."""
        if self.limit:
            return DatasetLimitError(self.where, self.reason, self.limit, self.value, self.hint)
        return DatasetFormatError(self.where, self.reason, self.hint)


def check_file(path: str | Path) -> Path:
    """`path` as a Path after checking it is a file within `max_file_bytes`.

    Raises DatasetFormatError (not found, a folder) or DatasetLimitError (too large).
    """
    p = Path(path)
    if p.is_dir():
        raise DatasetFormatError(p, "is a folder, not a file", "pass the data file itself")
    if not p.is_file():
        raise DatasetFormatError(p, "not found", "check the path")
    size = p.stat().st_size
    cap = limits.LIMITS.max_file_bytes
    if size > cap:
        raise DatasetLimitError(p, f"file is {size:,} bytes; the limit is {size_words(cap)} per file (max_file_bytes)",
                                "max_file_bytes", cap, "split it into smaller files")
    return p


def decode_utf8(data: bytes, path: str | Path, line: int = 0) -> str:
    """Text of UTF-8 bytes, or of any UTF with a byte-order mark; nothing is decoded by guess.

    Raises DatasetEncodingError naming the byte and its offset.
    """
    for bom, codec in _BOMS:
        if data.startswith(bom):
            try:
                return data.decode(codec)
            except UnicodeDecodeError as exc:
                raise DatasetEncodingError(path, f"starts with a {codec.upper()} byte-order mark but is not valid "
                                           f"{codec.upper()} (offset {exc.start})", "re-save the file as UTF-8",
                                           line) from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise DatasetEncodingError(path, f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})",
                                   _TO_UTF8, line) from None


def read_text(path: str | Path) -> str:
    """Whole text of a file (see `check_file`, `decode_utf8`)."""
    p = check_file(path)
    return decode_utf8(p.read_bytes(), p)


def parse_json(text: str, path: str | Path) -> Any:
    """`json.loads(text)`; invalid JSON raises DatasetFormatError with its line and column."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(path, f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
                                 "fix or re-export the file") from None


def load_json(path: str | Path) -> Any:
    """The parsed JSON value of a file (UTF-8 or UTF with BOM, at most `max_file_bytes`)."""
    return parse_json(read_text(path), path)


def iter_raw_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    """(1-based line number, raw bytes with the line end) for every line of a text file,
    gzip-compressed when the name ends in ".gz".

    Memory is bounded by one line: a line over `max_line_bytes`, or more than
    `max_decompressed_bytes` read in all, raises DatasetLimitError at that line (the lines
    before it have been yielded). A corrupt .gz raises DatasetFormatError.
    """
    p = check_file(path)
    cap_line, cap_total = limits.LIMITS.max_line_bytes, limits.LIMITS.max_decompressed_bytes
    opener = gzip.open if p.name.lower().endswith(".gz") else open
    total = 0
    try:
        with opener(p, "rb") as fh:
            for lineno in itertools.count(1):
                raw = fh.readline(cap_line + 1)
                if not raw:
                    return
                total += len(raw)
                if len(raw) > cap_line:
                    raise DatasetLimitError(
                        p, f"line {lineno} is longer than {size_words(cap_line)} (the limit per line, max_line_bytes); "
                        "the rest of the file was not read", "max_line_bytes", cap_line,
                        "split that record, or check that the file has one record per line", lineno)
                if total > cap_total:
                    raise DatasetLimitError(
                        p, f"file unpacks to more than {size_words(cap_total)} (the limit, max_decompressed_bytes); "
                        "the rest of the file was not read", "max_decompressed_bytes", cap_total,
                        "split it into smaller files", lineno)
                yield lineno, raw
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise DatasetFormatError(p, f"corrupt gzip file: {exc}", "re-create or re-download it") from None


@dataclass(frozen=True)
class Member:
    """One file read out of a tar archive or a dataset folder: its relative POSIX name and bytes."""

    name: str
    data: bytes


def is_archive(path: str | Path) -> bool:
    """Whether the name says tar archive (.tar.gz, .tgz, .tar)."""
    return Path(path).name.lower().endswith((".tar.gz", ".tgz", ".tar"))


def _too_many(p: Path, cap: int) -> DatasetLimitError:
    return DatasetLimitError(p, f"archive has more than {cap:,} members (the limit, max_members)", "max_members", cap,
                             "split it into smaller archives or unpack it and pass the folder")


def iter_tar(path: str | Path, *, sort: bool, keep=lambda name: True) -> Iterator[Member | Problem]:
    """The regular files of a tar archive (any compression tarfile reads).

    sort: by member name (else archive order). keep(name) -> False: the member is not
    read and comes back as a skipped Problem. Limits: more than `max_members` files or
    more than `max_decompressed_bytes` of files in all raise DatasetLimitError; a member
    over `max_member_bytes` or one that cannot be read comes back as a Problem (`limit`
    set for the former) and the archive goes on. An unreadable archive raises
    DatasetFormatError.
    """
    p = check_file(path)
    lim = limits.LIMITS
    try:
        tar = tarfile.open(p, "r:*")
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise DatasetFormatError(p, f"not a readable tar archive: {exc}", "check the download (tar -tzf FILE)") from None
    with tar:
        members = []
        try:
            for m in tar:  # streamed, so a tar of millions of entries is refused early
                if m.isfile():
                    if len(members) >= lim.max_members:
                        raise _too_many(p, lim.max_members)
                    members.append(m)
        except (tarfile.TarError, EOFError, OSError) as exc:
            raise DatasetFormatError(p, f"corrupt tar archive: {exc}", "check the download (tar -tzf FILE)") from None
        if sum(m.size for m in members) > lim.max_decompressed_bytes:
            raise DatasetLimitError(p, f"archive unpacks to more than {size_words(lim.max_decompressed_bytes)} "
                                    "(the limit, max_decompressed_bytes)", "max_decompressed_bytes",
                                    lim.max_decompressed_bytes, "unpack it yourself and pass the folder, or split it")
        if sort:
            members.sort(key=lambda m: m.name)
        for m in members:
            origin = f"{p}:{m.name}"
            if not keep(m.name):
                yield Problem(origin, "not a member of this dataset", skipped=True)
                continue
            if m.size > lim.max_member_bytes:
                yield Problem(origin, f"member is {m.size:,} bytes; the limit is {size_words(lim.max_member_bytes)} "
                              "(max_member_bytes)", "remove or split that file", limit="max_member_bytes",
                              value=lim.max_member_bytes)
                continue
            try:
                fh = tar.extractfile(m)
                data = fh.read() if fh is not None else b""
            except (tarfile.TarError, EOFError, OSError, zlib.error) as exc:
                yield Problem(origin, f"cannot read archive member: {exc}", "check the archive (tar -tzf FILE)")
                continue
            yield Member(m.name, data)


def iter_folder(path: str | Path) -> Iterator[Member | Problem]:
    """The files under a folder, recursively, sorted by relative path, with the limits of an
    archive: more than `max_members` files raise DatasetLimitError, a file over
    `max_member_bytes` comes back as a Problem."""
    root = Path(path)
    lim = limits.LIMITS
    files = []
    for f in sorted(root.rglob("*")):
        if f.is_file():
            if len(files) >= lim.max_members:
                raise DatasetLimitError(root, f"folder has more than {lim.max_members:,} files (the limit, max_members)",
                                        "max_members", lim.max_members, "split it into smaller folders")
            files.append(f)
    total = 0
    for f in files:
        rel = f.relative_to(root).as_posix()
        size = f.stat().st_size
        if size > lim.max_member_bytes:
            yield Problem(str(f), f"file is {size:,} bytes; the limit is {size_words(lim.max_member_bytes)} "
                          "(max_member_bytes)", "remove or split that file", limit="max_member_bytes",
                          value=lim.max_member_bytes)
            continue
        total += size
        if total > lim.max_decompressed_bytes:
            raise DatasetLimitError(root, f"folder holds more than {size_words(lim.max_decompressed_bytes)} "
                                    "(the limit, max_decompressed_bytes)", "max_decompressed_bytes",
                                    lim.max_decompressed_bytes, "split it into smaller folders")
        yield Member(rel, f.read_bytes())
