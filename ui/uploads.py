"""Checks on files uploaded through the web UI, before the indexer ever sees them.

A browser can send any name, any size and any bytes under any extension, so each upload
is checked here: the name is reduced to a safe basename (no path traversal), the size is
capped, and the content must match the extension. Only files that pass are copied into a
private staging folder under their safe name and handed to `IndexWriter.add`.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil
import unicodedata
from dataclasses import dataclass
from pathlib import Path


from indexer.errors import LoaderError
from indexer.loaders import read_utf8
log = logging.getLogger(__name__)

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
# Extension -> indexer format. Upload types are deliberately fewer than the CLI's: no
# archives, no MedQuAD XML, no JSON layouts that need guessing.
UPLOAD_FORMATS = {
    ".pdf": "pdf",
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".jsonl": "jsonl",
}
# File systems allow 255 bytes per name; a CJK character is 3 bytes of UTF-8.
MAX_NAME_BYTES = 180
_UNSAFE = re.compile(r"[^\w.\-]+")  # \w: letters and digits of every script, and "_"


@dataclass(frozen=True)
class UploadCheck:
    name: str  # the safe name the file is stored and indexed under
    original: str  # the name the browser sent (for messages only; never used as a path)
    ok: bool
    reason: str = ""


def mb(n_bytes: int) -> float:
    return n_bytes / (1024 * 1024)


def safe_filename(name: str) -> str:
    """A safe, readable basename: letters and digits of any script, ".", "-" and "_".

    Both separators count (a Windows browser sends `C:\\...\\a.pdf`), so `../../x` and
    `..\\x` keep only `x`. Names are NFC-normalised and otherwise kept: "高血压指南.txt" stays
    as it is. When anything else had to change (spaces, markup, leading dots, length), a
    short hash of the sent basename is added to the stem, so two different names never
    become the same file name (and so the same document id), and the same name always gives
    the same result. The extension is kept; at most `MAX_NAME_BYTES` bytes of UTF-8.
    """
    sent = unicodedata.normalize("NFC", re.split(r"[\\/]", name or "")[-1])
    base = _UNSAFE.sub("_", sent).strip("._-")
    stem, dot, ext = base.rpartition(".")
    if not dot:
        stem, ext = base, ""
    ext = ext[:16]
    too_long = len(base.encode("utf-8")) > MAX_NAME_BYTES
    changed = (base != sent or not stem or too_long) and bool(sent)
    stem = stem or "upload"
    tag = "-" + hashlib.sha256(sent.encode("utf-8")).hexdigest()[:8] if changed else ""
    room = MAX_NAME_BYTES - len(tag) - len(ext.encode("utf-8")) - 1
    stem = stem.encode("utf-8")[:room].decode("utf-8", "ignore").rstrip("._-") or "upload"
    return f"{stem}{tag}.{ext}" if ext else f"{stem}{tag}"


def check_upload(path: Path, original_name: str, max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES) -> UploadCheck:
    """Is the uploaded file at `path` (sent as `original_name`) safe and of the type it claims?"""
    name = safe_filename(original_name)
    ext = Path(name).suffix.lower()

    def fail(reason: str) -> UploadCheck:
        return UploadCheck(name, original_name, False, reason)

    if ext not in UPLOAD_FORMATS:
        allowed = ", ".join(sorted(UPLOAD_FORMATS))
        return fail(f"unsupported file type {ext or '(no extension)'!r}; upload one of: {allowed}")
    size = path.stat().st_size
    if size > max_bytes:
        return fail(f"file is {mb(size):.1f} MB; the limit is {mb(max_bytes):g} MB (split it, or raise --max-upload-mb)")
    if size == 0:
        return fail("file is empty")
    fmt = UPLOAD_FORMATS[ext]
    if fmt == "pdf":
        with path.open("rb") as fh:
            if fh.read(5) != b"%PDF-":
                return fail("not a PDF: the file does not start with %PDF-")
        return UploadCheck(name, original_name, True)

    try:
        text = read_utf8(path)  # UTF-8, or UTF-16/32 with a byte-order mark, as the indexer reads it
    except LoaderError as exc:
        return fail(f"{exc.message}; save it as UTF-8 and upload again")
    if "\x00" in text:
        return fail("binary content (NUL bytes) in a text file")
    if fmt == "jsonl":
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                return fail(f"line {lineno} is not valid JSON ({exc.msg}); each line must be one JSON object")
            if not isinstance(obj, dict):
                return fail(f"line {lineno} is not a JSON object; each line must be one object with id and text")
    return UploadCheck(name, original_name, True)


def stage(path: Path, check: UploadCheck, folder: Path) -> Path:
    """Copy an accepted upload into `folder` under its safe name; return the new path."""
    if not check.ok:
        raise ValueError(f"refusing to stage a rejected upload: {check.reason}")
    target = folder / check.name
    # safe_filename already removed separators; this guards against a future change to it.
    if target.resolve().parent != folder.resolve():
        raise ValueError(f"upload name {check.name!r} escapes the staging folder")
    shutil.copyfile(path, target)
    return target
