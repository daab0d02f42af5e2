"""Load documents from files and folders into `Document`s.

`load_documents` never raises for a bad file: each file (or JSONL line, or archive member)
that cannot be read becomes a `LoadFailure` with the reason and a hint, and the run goes
on. Only a wrong call (an unknown `format` name) raises `UnsupportedFormatError`.

Formats (by extension, or forced for every file with `format=`):

| format   | extensions               | one Document per            | doc_id                                 |
|----------|--------------------------|-----------------------------|----------------------------------------|
| jsonl    | .jsonl .jsonl.gz .ndjson | line                        | the line's `id` (or `doc_id`)          |
| medquad  | .xml, .tar.gz/.tgz       | QA pair with an answer      | `medquad:<source attr>/<stem>_<pid>`   |
| pubmedqa | .json (detected)         | PMID                        | `pubmed:<PMID>`                        |
| squad    | .json (detected)         | distinct (title, context)   | `squad_doc_id(title, context)`         |
| text     | .txt                     | file                        | `file:<relative path>`                 |
| markdown | .md .markdown            | file                        | `file:<relative path>`                 |
| html     | .html .htm               | file                        | `file:<relative path>`                 |
| pdf      | .pdf                     | file                        | `file:<relative path>`                 |

Decisions:
- MedQuAD ids: the `<Document id>` attribute is *not* unique (GARD and GHR both number
  from 0000001; ten CancerGov files share two ids), so the id is built from the collection
  (`source` attribute) and the file stem, which are unique: `medquad:GARD/0000004_1`.
  The few files in the older schema (`<doc docid corpus>`, `<pair>`, `<DiseaseFile fid>`)
  are read too.
- File-based ids are the path relative to the folder that was passed (POSIX separators),
  or the file name when a file was passed, so loading the same file again yields the same
  id and updates that document.
- Text files must be UTF-8, or UTF-16/32 with a byte-order mark. There is no decoding by
  guess: latin-1 decodes any bytes, so a guess would silently garble text; the failure
  names the likely encoding (charset-normalizer) in the `iconv` command to convert.
- Every title and text passes `normalize_text` here, once; all offsets later refer to it.
- Documents whose text is empty after normalisation, duplicate doc ids (first one wins),
  hidden files and archive members that are not XML are reported in `skipped`.
"""
from __future__ import annotations

import functools
import gzip
import hashlib
import json
import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from common.datasets import (DatasetEncodingError, DatasetError, MedQuADFile, Problem, check_file, decode_utf8, is_pubmedqa,
                             is_squad, iter_jsonl_lines, iter_medquad, parse_json, pubmedqa_from_json,
                             squad_from_json)
from common.paths import BUNDLED_CORPUS
from indexer.errors import LoaderError, UnsupportedFormatError
from indexer.text import normalize_text, normalize_title
from store.types import Document

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "medquad", "pubmedqa", "squad", "text", "markdown", "html", "pdf")
# A derived title (first line of a file) longer than this is a paragraph, not a heading.
MAX_TITLE_CHARS = 200
# Size limits (archive members, JSONL lines, unpacked bytes): common.datasets.limits.LIMITS,
# the same for every reader of a data file.
MEDQUAD_LICENSE = "CC BY 4.0"
PUBMEDQA_LICENSE = "MIT"

_EXTENSIONS: dict[str, str] = {
    ".jsonl": "jsonl",
    ".jsonl.gz": "jsonl",
    ".ndjson": "jsonl",
    ".xml": "medquad",
    ".tar.gz": "medquad",
    ".tgz": "medquad",
    ".txt": "text",
    ".md": "markdown",
    ".markdown": "markdown",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".json": "json",  # pubmedqa or squad, decided from the content
}


@dataclass(frozen=True)
class LoadFailure:
    """A file, line or archive member that could not be loaded."""

    path: str
    reason: str
    hint: str = ""
    line: int | None = None

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else self.path
        return f"{where}: {self.reason}" + (f" (hint: {self.hint})" if self.hint else "")


@dataclass(frozen=True)
class Skipped:
    """Something deliberately not loaded (empty text, duplicate id, hidden file); `doc_id`
    names the document when there is one, so reports can say which."""

    path: str
    reason: str
    doc_id: str | None = None

    def __str__(self) -> str:
        return f"{self.doc_id} ({self.path}): {self.reason}" if self.doc_id else f"{self.path}: {self.reason}"


@dataclass
class LoadReport:
    documents: list[Document] = field(default_factory=list)
    failures: list[LoadFailure] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        return f"{len(self.documents)} documents, {len(self.failures)} failures, {len(self.skipped)} skipped"


# ---------------------------------------------------------------------------------------
# Entry point


def load_documents(
    paths: Sequence[str | Path] | str | Path,
    format: str | None = None,
    source: str | None = None,
) -> LoadReport:
    """Load every file in `paths` (folders are walked recursively, in sorted order).

    `format` forces one format for all files (see `FORMATS`); otherwise it is chosen by
    extension. `source` names the collection for file-based formats and SQuAD (default:
    "local" and the file stem respectively).
    """
    if format is not None and format not in FORMATS:
        raise UnsupportedFormatError(f"unknown format {format!r}", f"use one of: {', '.join(FORMATS)}")
    if isinstance(paths, (str, Path)):
        paths = [paths]
    report = LoadReport()
    seen: set[str] = set()
    for arg in paths:
        root = Path(arg)
        if not root.exists():
            report.failures.append(LoadFailure(str(root), "no such file or folder", "check the path"))
            continue
        if root.is_dir():
            files = _walk(root, report)
            base = root
        else:
            files = [root]
            base = root.parent
        for path in files:
            rel = path.relative_to(base).as_posix()
            for item in _load_file(path, rel, format, source):
                if isinstance(item, Document):
                    if item.doc_id in seen:
                        report.skipped.append(Skipped(str(path), "duplicate id: an earlier document has it (first kept)",
                                                      item.doc_id))
                    elif not item.text:
                        report.skipped.append(Skipped(str(path), "empty text", item.doc_id))
                    else:
                        seen.add(item.doc_id)
                        report.documents.append(item)
                elif isinstance(item, LoadFailure):
                    log.debug("%s", item)  # reported once, by whoever reads the report
                    report.failures.append(item)
                else:
                    report.skipped.append(item)
    log.info("loaded %s", report.summary())
    return report


def _walk(root: Path, report: LoadReport) -> list[Path]:
    files: list[Path] = []
    for path in sorted(root.rglob("*")):
        rel_parts = path.relative_to(root).parts
        if any(part.startswith(".") for part in rel_parts):
            if path.is_file():
                report.skipped.append(Skipped(str(path), "hidden file"))
            continue
        if path.is_file():
            files.append(path)
    return files


def detect_format(path: str | Path) -> str | None:
    """Format name for a file name by its extension ("json" = pubmedqa or squad), or None."""
    name = Path(path).name.lower()
    for ext in sorted(_EXTENSIONS, key=len, reverse=True):
        if name.endswith(ext):
            return _EXTENSIONS[ext]
    return None


Item = Document | LoadFailure | Skipped


def _load_file(path: Path, rel: str, format: str | None, source: str | None) -> Iterator[Item]:
    fmt = format or detect_format(path)
    if fmt is None:
        yield LoadFailure(
            str(path),
            f"unknown file type {path.suffix or '(no extension)'!r}",
            f"rename it to a known extension or pass format= (one of: {', '.join(FORMATS)})",
        )
        return
    try:
        if fmt == "jsonl":
            yield from _load_jsonl(path, source)
        elif fmt == "medquad":
            yield from _load_medquad(path)
        elif fmt in ("json", "pubmedqa", "squad"):
            data = _read_json(path)
            if fmt == "json":
                fmt = _detect_json_layout(data, path)
            if fmt == "pubmedqa":
                yield from parse_pubmedqa(data, str(path))
            else:
                yield from parse_squad(data, source or path.name.split(".")[0], str(path))
        elif fmt in ("text", "markdown"):
            markdown = fmt == "markdown" or path.suffix.lower() in (".md", ".markdown")
            yield _text_document(read_utf8(path), rel, source, markdown=markdown)
        elif fmt == "html":
            yield html_document(read_utf8(path), rel, source or "local")
        elif fmt == "pdf":
            yield _pdf_document(path, rel, source)
    except LoaderError as exc:
        yield LoadFailure(str(path), exc.message, exc.hint)
    except DatasetError as exc:  # common.datasets: the file (or member) and, for a limit, the limit
        yield LoadFailure(exc.path, exc.problem, exc.hint, exc.line or None)
    except OSError as exc:
        yield LoadFailure(str(path), f"cannot read file: {exc.strerror or exc}", "check that it exists and is readable")
    except Exception as exc:  # noqa: BLE001 - one bad file must never stop a corpus build
        log.debug("unexpected error loading %s", path, exc_info=True)
        yield LoadFailure(
            str(path), f"cannot load as {fmt}: {type(exc).__name__}: {exc}", f"check that the file is valid {fmt}"
        )


# ---------------------------------------------------------------------------------------
# Helpers


def read_utf8(path: Path) -> str:
    """Text of a file: UTF-8, or any UTF with a byte-order mark (UTF-16 files written by
    Windows tools carry one), decoded as every reader decodes (`common.datasets.decode_utf8`).
    Anything else raises LoaderError whose hint names the likely encoding (charset-normalizer's
    guess) in an `iconv` command; nothing is decoded by guess."""
    data = path.read_bytes()
    try:
        return decode_utf8(data, path)
    except DatasetEncodingError as exc:
        raise LoaderError(exc.problem, convert_hint(data, path) if exc.problem.startswith("not UTF-8") else exc.hint) from None


def convert_hint(data: bytes, path: Path | str) -> str:
    """How to convert `data` to UTF-8, naming the encoding charset-normalizer finds most likely."""
    guess = None
    try:
        from charset_normalizer import from_bytes

        best = from_bytes(data[: 1 << 20]).best()
        guess = best.encoding.upper().replace("_", "-") if best is not None else None
    except ImportError:  # pragma: no cover - dependency
        pass
    path = Path(path)
    out = path.with_suffix(".utf8" + path.suffix)
    if guess and guess not in ("UTF-8", "ASCII"):
        return (f"it looks like {guess}; convert it, e.g. `iconv -f {guess} -t UTF-8 '{path}' > '{out}'` "
                "(check the result; use the real source encoding for -f if you know it)")
    return (f"convert it to UTF-8 with the file's real source encoding, e.g. `iconv -f ENCODING -t UTF-8 '{path}' > '{out}'` "
            "(`file -i` may tell the encoding)")


def _read_json(path: Path) -> Any:
    """Parsed JSON of a file, read as every reader reads it (`common.datasets`: size limit,
    UTF-8 or a byte-order mark; invalid JSON raises DatasetFormatError with line and column)."""
    return parse_json(read_utf8(check_file(path)), path)


def _detect_json_layout(data: Any, path: Path) -> str:
    if is_squad(data):
        return "squad"
    if is_pubmedqa(data):
        return "pubmedqa"
    raise UnsupportedFormatError(
        "JSON layout not recognised (neither SQuAD {'data': [...]} nor PubMedQA {PMID: {'CONTEXTS': ...}})",
        "for one document per line use JSONL (.jsonl); or pass format='squad'/'pubmedqa'",
    )


def _metadata_value(value: Any) -> Any:
    # Metadata goes to JSON columns; keep it JSON-serialisable.
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


# ---------------------------------------------------------------------------------------
# JSONL

_ONE_OBJECT = "each line must be one JSON object"
_JSONL_FIELDS = {"id", "doc_id", "title", "text", "url", "source", "license", "metadata"}


def _load_jsonl(path: Path, source: str | None) -> Iterator[Item]:
    """One Document per line, read by `common.datasets.iter_jsonl_lines` (line and unpacked
    size limits: exceeding one ends the file with a failure naming the limit; memory is
    bounded by one line whatever the file holds). A bad line is a failure; the rest loads."""
    default_source = source or path.name.split(".")[0]
    for rec in iter_jsonl_lines(path):
        if rec.error:
            hint = convert_hint(rec.raw, path) if rec.raw and "UTF-8" in rec.error else _ONE_OBJECT
            yield LoadFailure(str(path), rec.error, hint, rec.line)
        else:
            yield _jsonl_record(rec.value, rec.line, str(path), default_source)


def _jsonl_record(obj: Any, lineno: int, path: str, default_source: str) -> Item:
    if not isinstance(obj, dict):
        return LoadFailure(path, f"expected a JSON object, got {type(obj).__name__}", _ONE_OBJECT, lineno)
    doc_id = obj.get("id", obj.get("doc_id"))
    text = obj.get("text")
    # A line without a "text" field is malformed (failed); one whose text is empty or blank is a
    # document with nothing to index (skipped, "empty text"), whatever whitespace it holds.
    missing = [k for k, v in (("id", doc_id), ("text", text)) if v is None or (k == "id" and v == "")]
    if missing:
        hint = 'each line needs "id" and "text" (and usually "title")'
        return LoadFailure(path, f"missing {' and '.join(missing)}", hint, lineno)
    if not isinstance(text, str):
        reason = f'"text" must be a string, got {type(text).__name__}'
        return LoadFailure(path, reason, "store the document text as a string", lineno)
    metadata: dict[str, Any] = {}
    if isinstance(obj.get("metadata"), dict):
        metadata.update(obj["metadata"])
    metadata.update({k: _metadata_value(v) for k, v in obj.items() if k not in _JSONL_FIELDS})
    return Document(
        doc_id=str(doc_id),
        title=normalize_title(str(obj.get("title") or "")),
        text=normalize_text(text),
        url=obj.get("url") or None,
        source=str(obj.get("source") or default_source),
        license=obj.get("license") or None,
        metadata=metadata,
    )


def document_to_json(doc: Document) -> dict[str, Any]:
    """The JSONL record `load_documents` reads back into an equal Document."""
    return {
        "id": doc.doc_id,
        "title": doc.title,
        "text": doc.text,
        "url": doc.url,
        "source": doc.source,
        "license": doc.license,
        "metadata": doc.metadata,
    }


# ---------------------------------------------------------------------------------------
# MedQuAD


def _texts(values: tuple[str, ...]) -> list[str]:
    return [t for v in values if (t := normalize_title(v))]


def medquad_documents(doc: MedQuADFile) -> Iterator[Item]:
    """Documents (one per answered QA pair) from one MedQuAD XML document."""
    focus = normalize_title(doc.focus)
    base_meta: dict[str, Any] = {"focus": focus, "collection": doc.collection, "file": doc.origin.rsplit("/", 1)[-1]}
    if doc.doc_id:
        base_meta["medquad_id"] = doc.doc_id
    for key, raw in doc.annotations:
        values = _texts(raw)
        if values:
            base_meta[key] = values[0] if key in ("semantic_group", "category") else values
    if not doc.pairs:
        yield Skipped(doc.origin, "no QA pairs")
        return
    for pair in doc.pairs:
        answer = normalize_text(pair.answer)
        if not answer:
            yield Skipped(f"{doc.origin}#{pair.pid}", "empty answer")
            continue
        meta = dict(base_meta)
        meta.update({k: v for k, v in (("qtype", pair.qtype), ("qid", pair.qid)) if v})
        yield Document(
            doc_id=f"medquad:{doc.collection}/{doc.stem}_{pair.pid}",
            title=normalize_title(pair.question),
            text=answer,
            url=doc.url,
            source=f"MedQuAD/{doc.collection}",
            license=MEDQUAD_LICENSE,
            metadata=meta,
        )


def _load_medquad(path: Path) -> Iterator[Item]:
    """A MedQuAD .xml file or archive (`common.datasets.iter_medquad`: members sorted by
    name, archive limits); a member that fails is a failure, the rest loads."""
    for item in iter_medquad(path):
        if isinstance(item, Problem):
            yield Skipped(item.where, item.reason) if item.skipped else LoadFailure(item.where, item.reason, item.hint)
        else:
            yield from medquad_documents(item)


# ---------------------------------------------------------------------------------------
# PubMedQA


def parse_pubmedqa(data: Any, origin: str) -> Iterator[Item]:
    """One Document per PMID (`common.datasets.pubmedqa_from_json`): contexts + long answer
    as the abstract, question as title."""
    for rec in pubmedqa_from_json(data, origin):
        paragraphs = list(rec.contexts) + ([rec.long_answer] if rec.long_answer else [])
        meta: dict[str, Any] = {"pmid": rec.pmid}
        for name, value in (("mesh", rec.meshes), ("section_labels", rec.labels), ("year", rec.year)):
            if value is not None:
                meta[name] = list(value) if isinstance(value, tuple) else value
        yield Document(
            doc_id=f"pubmed:{rec.pmid}",
            title=normalize_title(rec.question),
            text=normalize_text("\n\n".join(paragraphs)),
            url=f"https://pubmed.ncbi.nlm.nih.gov/{rec.pmid}/",
            source="PubMedQA",
            license=PUBMEDQA_LICENSE,
            metadata=meta,
        )


# ---------------------------------------------------------------------------------------
# SQuAD


def squad_doc_id(title: str, context: str) -> str:
    """Id of the Document made from a SQuAD paragraph; independent of the file it is in.

    Title and context are normalised first, so callers can pass the raw JSON strings.
    Evaluation uses this to know which document holds a question's answer.
    """
    key = f"{normalize_title(title)}\x00{normalize_text(context)}"
    return "ctx:" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:16]


def parse_squad(data: Any, source: str, origin: str) -> Iterator[Item]:
    """One Document per distinct (title, context) of a SQuAD file (`common.datasets.squad_from_json`)."""
    seen: set[str] = set()
    for para in squad_from_json(data, origin).paragraphs:
        title = normalize_title(para.title)
        doc_id = squad_doc_id(title, para.context)
        if doc_id in seen:  # SQuAD repeats a context once per question group sometimes
            continue
        seen.add(doc_id)
        yield Document(
            doc_id=doc_id,
            title=title,
            text=normalize_text(para.context),
            source=source,
            metadata={
                "article_title": title,
                "article_index": para.article_index,
                "paragraph_index": para.paragraph_index,
                "question_ids": [q.id for q in para.questions],
            },
        )


# ---------------------------------------------------------------------------------------
# Text, Markdown, HTML

_MD_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def text_title(text: str, markdown: bool = False, fallback: str = "") -> str:
    """A title derived from the text: the first Markdown heading (if `markdown`) or the first
    non-empty line, as written. A first line longer than `MAX_TITLE_CHARS` is a paragraph,
    not a heading: then `fallback` (the file name) is the title, never a cut sentence."""
    if markdown:
        m = _MD_HEADING.search(text)
        if m:
            return normalize_title(m.group(1))
    for line in text.splitlines():
        if line.strip():
            title = normalize_title(line.lstrip("# "))
            return title if len(title) <= MAX_TITLE_CHARS else fallback
    return fallback


def _text_document(raw: str, rel: str, source: str | None, markdown: bool) -> Document:
    text = normalize_text(raw)
    return Document(
        doc_id="file:" + rel,
        title=text_title(text, markdown, fallback=Path(rel).name),
        text=text,
        source=source or "local",
        metadata={"path": rel, "format": "markdown" if markdown else "text"},
    )


_DROP_TAGS = ("script", "style", "nav", "head", "noscript", "template", "svg", "iframe")
_PARAGRAPH_TAGS = (
    "p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote", "pre", "ul", "ol", "dl",
    "section", "article", "header", "footer", "figure", "main", "aside", "form", "hr",
)
_PARA, _LINE = "\x02", "\x01"
_BREAKS = re.compile(r"[ \t]*(?:[\x01\x02][ \t]*)+")
_LINE_TAGS = ("div", "li", "tr", "dt", "dd", "caption", "figcaption", "br", "td", "th")


def html_to_text(html: str) -> tuple[str, str]:
    """(title, visible text) of an HTML page.

    Source newlines inside text are layout, not content, so each text node's whitespace is
    collapsed first (except in <pre>); block elements then become line breaks, paragraphs
    and headings blank lines.
    """
    from bs4 import BeautifulSoup, NavigableString
    from bs4.element import Comment, Doctype, ProcessingInstruction

    soup = BeautifulSoup(html, "html.parser")
    title = ""
    if soup.title and soup.title.get_text(strip=True):
        title = soup.title.get_text(" ", strip=True)
    elif soup.find("h1"):
        title = soup.find("h1").get_text(" ", strip=True)
    for tag in soup.find_all(_DROP_TAGS):
        tag.decompose()
    for node in soup.find_all(string=True):
        if isinstance(node, (Comment, Doctype, ProcessingInstruction)):
            node.extract()
        elif not any(p.name == "pre" for p in node.parents):
            node.replace_with(NavigableString(re.sub(r"\s+", " ", str(node))))
    # Markers first, newlines later: adjacent blocks (</li><li>) must give one line break,
    # not one per element, and a paragraph edge wins over a line edge.
    for tag in soup.find_all(_PARAGRAPH_TAGS):
        tag.insert_before(_PARA)
        tag.insert_after(_PARA)
    for tag in soup.find_all(_LINE_TAGS):
        if tag.name in ("td", "th"):
            tag.insert_after(" ")  # cells of a row stay on one line
        elif tag.name == "br":
            tag.insert_after(_LINE)
        else:
            tag.insert_before(_LINE)
            tag.insert_after(_LINE)
    raw = _BREAKS.sub(lambda m: "\n\n" if _PARA in m.group(0) else "\n", soup.get_text())
    text = normalize_text(raw)
    if not title:
        title = text_title(text)
    return normalize_title(title), text


def html_document(raw: str, rel: str, source: str) -> Document:
    title, text = html_to_text(raw)
    return Document(
        doc_id="file:" + rel, title=title or Path(rel).name, text=text, source=source, metadata={"path": rel, "format": "html"}
    )


# ---------------------------------------------------------------------------------------
# PDF

_BULLET = re.compile(r"^(?:[-*\u2022\u25aa\u25cf\u2023\u2043]|\d{1,3}[.)]|[a-z][.)])\s")


# Typographic ligatures are a PDF font artefact (the glyph, not the spelling): expanded.
_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})
_WORD = re.compile(r"[^\W\d_]+(?:-[^\W\d_]+)*")


@functools.lru_cache(maxsize=1)
def corpus_vocabulary() -> frozenset[str]:
    """Lower-cased words and hyphenated compounds of the bundled MedQuAD corpus (about
    30,000; read once per process, ~1 s), the reference for line-end hyphens in PDFs."""
    path = BUNDLED_CORPUS
    words: set[str] = set()
    try:
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            for line in fh:
                words.update(_WORD.findall(json.loads(line).get("text", "").lower()))
    except (OSError, ValueError) as exc:
        log.info("no corpus vocabulary for PDF hyphens (%s): only the document's own words are used", exc)
    return frozenset(words)


def _join_hyphenated(head: str, tail: str, known: frozenset[str] | set[str]) -> str:
    """`head` ends in "-" at a line end, `tail` is the next line. The hyphen is removed only
    when the joined word is known as one word and the hyphenated form is not known."""
    m_head = re.search(r"([^\W\d_]+)-$", head)
    m_tail = re.match(r"[^\W\d_]+", tail)
    if m_head and m_tail:
        joined = (m_head.group(1) + m_tail.group(0)).lower()
        hyphenated = f"{m_head.group(1)}-{m_tail.group(0)}".lower()
        if joined in known and hyphenated not in known:
            return head[:-1] + tail
    return head + tail


def clean_pdf_text(pages: Sequence[str], vocabulary: frozenset[str] | None = None) -> str:
    """Join PDF page texts into paragraphs.

    - A line ending in "<letter>-" is joined to the next line without a space. The hyphen
      is dropped only when the joined word is a known word and the hyphenated form is not
      ("hyper-/tension" -> "hypertension"); known = the document's own words plus
      `vocabulary` (default: `corpus_vocabulary()`). Otherwise it stays
      ("anti-/inflammatory", "COVID-/19", "SARS-/CoV-2"): a kept hyphen reads correctly,
      a wrongly dropped one changes the word.
    - Other wrapped lines are joined with a space. A blank line, a bullet/numbered item,
      a short line ending a sentence (under 60% of the page's longest line), or a short
      first line of a paragraph without end punctuation followed by a capitalised line (a
      heading) ends a paragraph.
    - Ligature glyphs (ﬁ, ﬂ, ...) are spelled out; pages are separated by a paragraph break.
    """
    page_lines = [[ln.strip() for ln in normalize_text(page.translate(_LIGATURES)).split("\n")] for page in pages]
    known: set[str] | None = None  # built only when a line-end hyphen needs it
    out_pages: list[str] = []
    for lines in page_lines:
        width = max((len(ln) for ln in lines), default=0)
        paragraphs: list[str] = []
        current = ""
        previous = ""
        for line in lines:
            if not line:
                if current:
                    paragraphs.append(current)
                current = previous = ""
                continue
            if current and (_BULLET.match(line) or (current == previous and _is_heading(previous, line, width))):
                paragraphs.append(current)
                current = ""
            if not current:
                current = line
            elif current.endswith("-") and len(current) >= 2 and current[-2].isalpha():
                if known is None:
                    known = {w for ls in page_lines for ln in ls for w in _WORD.findall(ln.lower())}
                    known |= corpus_vocabulary() if vocabulary is None else vocabulary
                current = _join_hyphenated(current, line, known)
            else:
                current = current + " " + line
            previous = line
            if line[-1] in ".!?:" and len(line) < 0.6 * width:
                paragraphs.append(current)
                current = previous = ""
        if current:
            paragraphs.append(current)
        if paragraphs:
            out_pages.append("\n\n".join(paragraphs))
    return normalize_text("\n\n".join(out_pages))


def _is_heading(previous: str, line: str, width: int) -> bool:
    """`previous` (a line that began a paragraph) was a heading: short, no end punctuation
    or hyphen, and `line` starts with a capital."""
    return bool(previous) and len(previous) < 0.6 * width and previous[-1].isalnum() and line[0].isupper()


def _pdf_document(path: Path, rel: str, source: str | None) -> Document:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    # pypdf logs every repairable glitch as a warning; those are not our failures.
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted and not reader.decrypt(""):
            raise LoaderError(
                "the PDF is password-protected", "decrypt it first (e.g. `qpdf --decrypt in.pdf out.pdf`)"
            )
        pages = [page.extract_text() or "" for page in reader.pages]
        meta_title = (reader.metadata.title if reader.metadata else None) or ""
    except LoaderError:
        raise
    except (PdfReadError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        raise LoaderError(
            f"cannot read PDF: {exc}", "the file is corrupt or not a PDF; open it in a viewer or re-export it"
        ) from None
    text = clean_pdf_text(pages)
    if not text:
        raise LoaderError(
            "the PDF has no extractable text (a scanned image?)", "run OCR first, e.g. `ocrmypdf in.pdf out.pdf`"
        )
    return Document(
        doc_id="file:" + rel,
        title=normalize_title(str(meta_title)) or text_title(text, fallback=Path(rel).name),
        text=text,
        source=source or "local",
        metadata={"path": rel, "format": "pdf", "pages": len(pages)},
    )
