"""Annotation import/export: doccano JSONL and BRAT standoff <-> the training formats.

Import: labelled character spans -> BIO sentences (for `train ner`), doccano
text-classification JSONL -> classification JSONL. Text is split into words the way
NCBI-disease/BC5CDR are (`tasks.ner.WORD`: runs of letters/digits, single punctuation
marks) and into sentences after . ! ? or at blank lines. A span aligns when it starts at a
word start and ends at a word end; spans that don't, overlapping spans and BRAT
discontinuous spans cannot be written as BIO and are listed in the `ImportReport`
(policy per case below), never silently dropped.

Export: model predictions (pre-annotation for correction in doccano or BRAT).
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Literal, Sequence

from common.datasets import iter_jsonl
from tasks.classify import read_jsonl
from tasks.errors import DataFormatError, TaskError
from tasks.ner import NerSentence, bio_to_spans, words_with_offsets

logger = logging.getLogger(__name__)

Misaligned = Literal["skip", "expand"]
Discontinuous = Literal["skip", "split", "join"]
_SENT_END = {".", "!", "?"}


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    label: str


@dataclass(frozen=True)
class AnnotatedDoc:
    id: str
    text: str
    spans: tuple[Span, ...]


@dataclass
class ImportReport:
    """What an import did; `problems` holds one dict per span not written as annotated."""

    documents: int = 0
    sentences: int = 0
    spans: int = 0
    spans_written: int = 0
    problems: list[dict] = field(default_factory=list)

    def add(self, doc: AnnotatedDoc | str, span: Span, reason: str, text: str = "") -> None:
        doc_id = doc.id if isinstance(doc, AnnotatedDoc) else doc
        if isinstance(doc, AnnotatedDoc):
            text = doc.text[span.start : span.end]
        self.problems.append({"doc": doc_id, "start": span.start, "end": span.end, "label": span.label,
                              "text": text, "reason": reason})

    def to_dict(self) -> dict:
        return asdict(self)


# ----------------------------------------------------------------------------- doccano


def read_doccano_ner(path: str | Path) -> list[AnnotatedDoc]:
    """doccano sequence-labelling JSONL: {"text", "label": [[start, end, label], ...]} or
    {"text", "entities": [{"start_offset", "end_offset", "label"}, ...]}."""
    p = Path(path)
    docs = []
    for lineno, obj in iter_jsonl(p):
        text = obj.get("text") if isinstance(obj, dict) else None
        if not isinstance(text, str):
            raise DataFormatError(p, lineno, 'no "text" string', hint='doccano lines look like {"text": ..., "label": [[0, 5, "Disease"]]}')
        raw = obj.get("entities", obj.get("label", []))
        spans = []
        for item in raw or []:
            try:
                if isinstance(item, dict):
                    s, e, l = int(item["start_offset"]), int(item["end_offset"]), str(item["label"])
                else:
                    s, e, l = int(item[0]), int(item[1]), str(item[2])
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise DataFormatError(p, lineno, f"bad span {item!r}",
                                      hint='spans are [start, end, label] or {"start_offset", "end_offset", "label"}') from exc
            if not 0 <= s < e <= len(text):
                raise DataFormatError(p, lineno, f"span {item!r} is outside the text (length {len(text)})")
            spans.append(Span(s, e, l))
        docs.append(AnnotatedDoc(str(obj.get("id", lineno)), text, tuple(sorted(spans, key=lambda x: (x.start, -x.end)))))
    return docs


def write_doccano_ner(path: str | Path, docs: Iterable[AnnotatedDoc], scores: Sequence[Sequence[float]] | None = None) -> Path:
    """doccano JSONL ({"id", "text", "label": [[s, e, l], ...]}), importable for correction.
    With `scores`, a "scores" list parallel to "label" is added (doccano ignores it)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for i, d in enumerate(docs):
            obj = {"id": d.id, "text": d.text, "label": [[s.start, s.end, s.label] for s in d.spans]}
            if scores is not None:
                obj["scores"] = [round(float(x), 4) for x in scores[i]]
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
    return p


def read_doccano_classification(path: str | Path):
    """doccano text-classification JSONL ({"text", "label": [...]}) as a ClassDataset;
    multi-label when any document has several labels."""

    return read_jsonl(path)


def write_doccano_classification(path: str | Path, texts: Sequence[str], labels: Sequence[Sequence[str]],
                                 ids: Sequence[str] | None = None) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for i, (t, ls) in enumerate(zip(texts, labels)):
            fh.write(json.dumps({"id": ids[i] if ids else str(i), "text": t, "label": list(ls)}, ensure_ascii=False) + "\n")
    return p


# ----------------------------------------------------------------------------- BRAT

_BRAT_T = re.compile(r"^(T\d+)\t(\S+) (\d+ \d+(?:;\d+ \d+)*)\t(.*)$")


def read_brat(path: str | Path, report: ImportReport | None = None, discontinuous: Discontinuous = "skip") -> list[AnnotatedDoc]:
    """BRAT standoff: a .ann file (its .txt next to it) or a folder of .txt/.ann pairs.
    Text-bound annotations (T lines) become spans; relations, events, attributes, notes
    are ignored. Discontinuous spans ("T1\\tDisease 0 5;10 15\\t...") cannot be BIO:
    `discontinuous` = "skip" (report only), "split" (one span per fragment) or "join"
    (one span from the first start to the last end); all are listed in `report`."""
    p = Path(path)
    if p.is_dir():
        anns = sorted(p.rglob("*.ann"))
    elif p.suffix == ".ann":
        anns = [p]
    elif p.suffix == ".txt":
        anns = [p.with_suffix(".ann")]
    else:
        raise TaskError(f"not a BRAT .ann/.txt file or folder: {p}", hint="pass a folder of .txt + .ann pairs")
    if not anns:
        raise TaskError(f"no .ann files in {p}", hint="BRAT data is a .txt file plus a .ann file per document")
    docs = []
    for ann in anns:
        txt = ann.with_suffix(".txt")
        if not txt.is_file():
            raise DataFormatError(ann, 0, f"no text file {txt.name} next to it", hint="each .ann needs its .txt")
        if not ann.is_file():
            raise DataFormatError(txt, 0, f"no annotation file {ann.name} next to it")
        # BRAT offsets count characters of the file exactly as written: no newline translation.
        text = txt.read_bytes().decode("utf-8")
        doc_id = ann.stem
        spans: list[Span] = []
        for lineno, line in enumerate(ann.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip() or line[0] in "RENAM*#":
                continue
            m = _BRAT_T.match(line)
            if not m:
                raise DataFormatError(ann, lineno, f"not a BRAT annotation line: {line!r}",
                                      hint="text-bound lines look like 'T1<TAB>Disease 10 20<TAB>text'")
            _, label, offs, surface = m.groups()
            frags = [tuple(map(int, f.split())) for f in offs.split(";")]
            for s, e in frags:
                if not 0 <= s < e <= len(text):
                    raise DataFormatError(ann, lineno, f"offsets {s} {e} are outside {txt.name} (length {len(text)})")
            if len(frags) > 1:
                if report is not None:
                    report.add(doc_id, Span(frags[0][0], frags[-1][1], label), f"discontinuous ({discontinuous})",
                               text=surface)
                if discontinuous == "skip":
                    continue
                if discontinuous == "join":
                    frags = [(frags[0][0], frags[-1][1])]
            elif text[frags[0][0] : frags[0][1]] != surface:
                raise DataFormatError(ann, lineno, f"text {surface!r} differs from {txt.name}[{frags[0][0]}:{frags[0][1]}] = "
                                      f"{text[frags[0][0]:frags[0][1]]!r}",
                                      hint="offsets are character offsets into the .txt file as saved")
            spans.extend(Span(s, e, label) for s, e in frags)
        docs.append(AnnotatedDoc(doc_id, text, tuple(sorted(spans, key=lambda x: (x.start, -x.end)))))
    return docs


def write_brat(out_dir: str | Path, docs: Iterable[AnnotatedDoc], scores: Sequence[Sequence[float]] | None = None) -> Path:
    """One NAME.txt + NAME.ann per document (NAME = doc id made file-safe). With `scores`,
    each entity also gets a BRAT note (#) with the model's score."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    for i, d in enumerate(docs):
        name = re.sub(r"[^\w.-]", "_", d.id) or f"doc{i}"
        (out / f"{name}.txt").write_bytes(d.text.encode("utf-8"))
        lines = []
        for k, s in enumerate(d.spans, 1):
            surface = d.text[s.start : s.end].replace("\n", " ")  # BRAT keeps one annotation per line
            lines.append(f"T{k}\t{s.label} {s.start} {s.end}\t{surface}")
            if scores is not None:
                lines.append(f"#{k}\tAnnotatorNotes T{k}\tscore={float(scores[i][k - 1]):.4f}")
        (out / f"{name}.ann").write_text("".join(l + "\n" for l in lines), encoding="utf-8")
    return out


# ----------------------------------------------------------------------------- spans <-> BIO


def docs_to_bio(docs: Iterable[AnnotatedDoc], misaligned: Misaligned = "skip",
                report: ImportReport | None = None) -> tuple[list[NerSentence], ImportReport]:
    """BIO sentences from span-annotated documents. Spans whose edges fall inside a word are
    skipped (`misaligned="skip"`) or widened to whole words ("expand"); a span overlapping
    one already placed is skipped. Every such case is in the returned report."""
    report = report or ImportReport()
    sentences: list[NerSentence] = []
    for doc in docs:
        report.documents += 1
        words = words_with_offsets(doc.text)
        tags = ["O"] * len(words)
        starts = {s: i for i, (_, s, _) in enumerate(words)}
        ends = {e: i for i, (_, _, e) in enumerate(words)}
        for span in doc.spans:
            report.spans += 1
            a, b = starts.get(span.start), ends.get(span.end)
            if a is None or b is None:
                inside = [i for i, (_, s, e) in enumerate(words) if s < span.end and e > span.start]
                if misaligned == "skip" or not inside:
                    report.add(doc, span, "misaligned: edge inside a word" if inside else "no word inside the span")
                    continue
                report.add(doc, span, "misaligned: expanded to word boundaries")
                a, b = inside[0], inside[-1]
            if any(t != "O" for t in tags[a : b + 1]):
                report.add(doc, span, "overlaps another span")
                continue
            tags[a] = f"B-{span.label}"
            for i in range(a + 1, b + 1):
                tags[i] = f"I-{span.label}"
            report.spans_written += 1
        for lo, hi in _sentence_bounds(doc.text, words, tags):
            sentences.append(NerSentence(tuple(w for w, _, _ in words[lo:hi]), tuple(tags[lo:hi])))
            report.sentences += 1
    return sentences, report


def _sentence_bounds(text: str, words: list[tuple[str, int, int]], tags: list[str]) -> list[tuple[int, int]]:
    """Split after . ! ? and at blank lines, never inside an entity."""
    bounds, lo = [], 0
    for i in range(len(words) - 1):
        gap = text[words[i][2] : words[i + 1][1]]
        cut = words[i][0] in _SENT_END or "\n\n" in gap.replace("\r", "")
        if cut and not tags[i + 1].startswith("I-"):
            bounds.append((lo, i + 1))
            lo = i + 1
    if lo < len(words):
        bounds.append((lo, len(words)))
    return bounds


def bio_to_docs(sentences: Iterable[NerSentence], prefix: str = "s") -> list[AnnotatedDoc]:
    """One document per sentence, text = tokens joined by spaces, spans from the tags."""
    docs = []
    for n, s in enumerate(sentences):
        offs, pos = [], 0
        for t in s.tokens:
            offs.append((pos, pos + len(t)))
            pos += len(t) + 1
        spans = tuple(Span(offs[a][0], offs[b - 1][1], l) for a, b, l in bio_to_spans(s.tags))
        docs.append(AnnotatedDoc(f"{prefix}{n}", " ".join(s.tokens), spans))
    return docs


# ----------------------------------------------------------------------------- plain texts


def read_texts(path: str | Path) -> list[tuple[str, str]]:
    """(id, text) to pre-annotate: a .jsonl with "text" (and optional "id"), a folder of
    .txt files, or a text file with one document per line."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.rglob("*.txt"))
        if not files:
            raise TaskError(f"no .txt files in {p}", hint="put one document per .txt file")
        return [(f.stem, f.read_bytes().decode("utf-8")) for f in files]
    if not p.is_file():
        raise TaskError(f"input not found: {p}", hint="pass a .jsonl, a .txt (one document per line) or a folder")
    if p.suffix.lower() == ".jsonl":
        out = []
        for lineno, obj in iter_jsonl(p):
            if not isinstance(obj, dict) or not isinstance(obj.get("text"), str):
                raise DataFormatError(p, lineno, 'no "text" string')
            out.append((str(obj.get("id", lineno)), obj["text"]))
        return out
    lines = p.read_text(encoding="utf-8").splitlines()
    return [(str(i), l) for i, l in enumerate(lines, 1) if l.strip()]
