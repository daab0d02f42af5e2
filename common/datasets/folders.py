"""Classification folders: one subfolder per label, one text file per document (Ohsumed),
as a folder or a tar archive (.tar.gz/.tgz/.tar) of one.

`read_label_folder(path, subdir)` returns `LabelledText`s. Files are read with the archive
limits of `common.datasets.limits` (member count, member size, unpacked size) whether they
sit in a folder or an archive.
"""
from __future__ import annotations

import tarfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from common.datasets._io import Member, check_file, iter_folder, iter_tar
from common.datasets.errors import DatasetFormatError

TEXT_SUFFIXES = ("", ".txt")  # Ohsumed files have no suffix


@dataclass(frozen=True)
class LabelledText:
    """One document: its text (stripped), its label (the parent folder's name) and file name."""

    text: str
    label: str
    name: str


def _files(p: Path) -> list[tuple[PurePosixPath, bytes]]:
    if p.is_dir():
        items = iter_folder(p)
    elif p.is_file() and tarfile.is_tarfile(check_file(p)):
        items = iter_tar(p, sort=False)  # archive order: it decides the order of the examples
    else:
        raise DatasetFormatError(p, "not a folder or tar archive", "pass a folder with one subfolder per label")
    files = []
    for item in items:
        if not isinstance(item, Member):
            raise item.error()
        files.append((PurePosixPath(item.name), item.data))
    return files


def read_label_folder(path: str | Path, subdir: str = "") -> list[LabelledText]:
    """Documents of a label-folder tree (folder or tar archive).

    subdir: keep only the tree under the folder of this name (e.g. "training" or "test" in
    the Ohsumed archive, wherever it sits). Files whose suffix is not in TEXT_SUFFIXES and
    hidden files are ignored; a file that is not UTF-8 is read as Latin-1 (older corpora;
    every byte maps); empty documents are dropped.
    Raises DatasetFormatError (no such split; label folders under several parents, which
    would mix train and test; not a folder or archive) and DatasetLimitError.
    """
    p = Path(path)
    docs = [(rel, data) for rel, data in _files(p)
            if rel.suffix in TEXT_SUFFIXES and not any(part.startswith(".") for part in rel.parts)]
    if subdir:
        kept = []
        for rel, data in docs:
            if subdir in rel.parts[:-2]:
                i = len(rel.parts) - 1 - rel.parts[::-1].index(subdir)
                kept.append((PurePosixPath(*rel.parts[i + 1 :]), data))
        if not kept:
            raise DatasetFormatError(p, f"no folder named {subdir!r} with label subfolders",
                                     "check --*-subdir (Ohsumed: training or test)")
        docs = kept
    docs = [(rel, data) for rel, data in docs if len(rel.parts) >= 2]
    parents = sorted({str(rel.parent.parent) for rel, _ in docs})
    if len(parents) > 1:
        raise DatasetFormatError(p, f"label folders found under several parents: {parents[:5]}",
                                 "select one split with a subdir (e.g. training or test)")
    out = []
    for rel, data in docs:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        text = text.strip()
        if text:
            out.append(LabelledText(text, rel.parent.name, rel.name))
    return out
