"""MedQuAD XML (Ben Abacha & Demner-Fushman, 2019): one file per topic, or a .tar.gz of them.

`iter_medquad(path)` yields, per XML document, a `MedQuADFile` (its attributes, focus,
annotations and QA pairs, texts as written: whitespace and all), or a `Problem` for a
member that could not be read (invalid XML, over `max_member_bytes`) or was skipped (not
XML). Archive members come sorted by name. Tag names are matched without namespace and
case, so the older schema (`<doc docid corpus>`, `<pair>`, `<DiseaseFile fid>`) reads too.
"""
from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from common.datasets._io import Member, Problem, check_file, is_archive, iter_tar

# The annotation elements read into `MedQuADFile.annotations`, by key.
ANNOTATIONS = (("cuis", ("cui",)), ("semantic_types", ("semantictype",)), ("semantic_group", ("semanticgroup",)),
               ("synonyms", ("synonym",)), ("category", ("category",)))


@dataclass(frozen=True)
class MedQuADPair:
    """One QA pair: `pid` (attribute, else its 1-based position), the question text and
    its `qtype`/`qid` attributes ("" when absent; `has_question` False when there is no
    <Question>), and the answer's full text (all text inside <Answer>, "" when none)."""

    pid: str
    question: str
    answer: str
    qtype: str = ""
    qid: str = ""
    has_question: bool = True


@dataclass(frozen=True)
class MedQuADFile:
    """One MedQuAD XML document.

    origin: the file path, or `archive:member`; stem: the file name without ".xml";
    collection: the `source` (or `corpus`) attribute, "unknown" when none; url: the `url`
    attribute or None; focus: the <Focus> text; doc_id: the `id`/`docid`/`fid` attribute or
    None; annotations: (key, raw texts of the matching elements) per `ANNOTATIONS` key.
    """

    origin: str
    stem: str
    collection: str
    url: str | None
    focus: str
    doc_id: str | None
    annotations: tuple[tuple[str, tuple[str, ...]], ...]
    pairs: tuple[MedQuADPair, ...]


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def _children(el: ET.Element, *names: str) -> list[ET.Element]:
    return [c for c in el if _local(c.tag) in names]


def _child(el: ET.Element, *names: str) -> ET.Element | None:
    found = _children(el, *names)
    return found[0] if found else None


def parse_medquad_xml(data: bytes, stem: str, origin: str) -> MedQuADFile | Problem:
    """One XML document's content, or a Problem when it is not well-formed XML."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        return Problem(origin, f"invalid XML: {exc}", "the file is not well-formed MedQuAD XML")
    focus_el = _child(root, "focus", "doctitle-focus")
    # An element without children is falsy: an empty <FocusAnnotations> falls back to the root.
    annotations = _child(root, "focusannotations") or root
    pairs_el = _child(root, "qapairs")
    pairs = []
    for n, pair in enumerate(_children(pairs_el, "qapair", "pair") if pairs_el is not None else [], start=1):
        q = _child(pair, "question")
        a = _child(pair, "answer")
        pairs.append(MedQuADPair(
            pid=pair.get("pid") or str(n), question=(q.text or "") if q is not None else "",
            answer="".join(a.itertext()) if a is not None else "",
            qtype=(q.get("qtype") or "") if q is not None else "", qid=(q.get("qid") or "") if q is not None else "",
            has_question=q is not None,
        ))
    return MedQuADFile(
        origin=origin, stem=stem, collection=root.get("source") or root.get("corpus") or "unknown",
        url=root.get("url") or None, focus=(focus_el.text or "") if focus_el is not None else "",
        doc_id=root.get("id") or root.get("docid") or root.get("fid") or None,
        annotations=tuple((key, tuple(c.text or "" for c in annotations.iter() if _local(c.tag) in names))
                          for key, names in ANNOTATIONS),
        pairs=tuple(pairs),
    )


def iter_medquad(path: str | Path) -> Iterator[MedQuADFile | Problem]:
    """The documents of a MedQuAD .xml file or tar archive (.tar.gz/.tgz/.tar).

    Yields MedQuADFile per document, Problem per member that failed (`skipped` False) or
    is not XML (`skipped` True). Raises DatasetFormatError (not found, not a tar archive)
    and DatasetLimitError (file, member count or unpacked size over the limits; a single
    member over `max_member_bytes` is a Problem with `limit` set).
    """
    p = Path(path)
    if not is_archive(p):
        check_file(p)
        yield parse_medquad_xml(p.read_bytes(), p.stem, str(p))
        return
    for item in iter_tar(p, sort=True, keep=lambda name: name.lower().endswith(".xml")):
        if isinstance(item, Member):
            yield parse_medquad_xml(item.data, PurePosixPath(item.name).stem, f"{p}:{item.name}")
        elif item.skipped:
            yield Problem(item.where, "not an XML member", skipped=True)
        else:
            yield item
