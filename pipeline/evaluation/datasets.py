"""Evaluation datasets, validated record by record.

Two question-answering layouts (both SQuAD v1.1 JSON) and one retrieval layout:

- `squad`: one question over one context per QA (COVID-QA).
- `bioasq`: BioBERT's SQuAD-style BioASQ files hold one (question, snippet) pair per QA,
  with ids `<question id>_<n>`. Items are grouped by question id: a question's snippets
  are all its gold contexts and every gold span of the question counts as a correct
  synonym (the files carry no official synonym lists).
- BEIR/TREC folder: `corpus.jsonl`, `queries.jsonl` and `qrels.tsv` (or `qrels/test.tsv`).

Files are parsed by `common.datasets` (`read_squad`, `group_bioasq`, `iter_jsonl`), as for
indexing and training. A bad record raises `common.datasets.DatasetFormatError` (layout) or
`DatasetFormatError` here (what evaluation needs) naming the file, the record and what was
expected, instead of a KeyError deep inside an evaluation run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.datasets import (SQUAD_LAYOUT, SquadFile, SquadQuestion, group_bioasq, iter_jsonl, looks_like_bioasq,
                             read_squad)
from indexer.loaders import squad_doc_id
from pipeline.evaluation.errors import DatasetFormatError

log = logging.getLogger(__name__)

QA_FORMATS = ("squad", "bioasq")
QUESTION_TYPES = ("extractive", "factoid", "list")


@dataclass(frozen=True)
class GoldContext:
    doc_id: str  # the id the indexer gives this context (indexer.loaders.squad_doc_id)
    title: str
    text: str


@dataclass(frozen=True)
class QAItem:
    """One evaluated question: its gold contexts and every acceptable answer string."""

    id: str
    question: str
    contexts: tuple[GoldContext, ...]
    answers: tuple[str, ...]


@dataclass(frozen=True)
class QADataset:
    path: Path
    format: str  # "squad" | "bioasq"
    question_type: str  # "extractive" (SQuAD) | "factoid" | "list" (BioASQ)
    sha256: str
    items: tuple[QAItem, ...]


@dataclass(frozen=True)
class RetrievalDataset:
    """Queries and graded relevance judgements at document level."""

    path: Path
    sha256: str
    queries: dict[str, str]  # query id -> text, in file order
    qrels: dict[str, dict[str, int]]  # query id -> {doc id: relevance > 0}
    corpus: Path | None = None  # BEIR corpus.jsonl (SQuAD files are their own corpus)


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _read_squad(path: Path) -> SquadFile:
    if path.is_dir():
        raise DatasetFormatError(
            f"{path} is a folder; this evaluation needs questions with gold answers",
            "pass a SQuAD v1.1 JSON file (BEIR folders have no answers: use them with `clinqa eval retrieval`)",
        )
    if not path.is_file():
        raise DatasetFormatError(f"dataset not found: {path}", "pass an existing SQuAD v1.1 JSON file with --dataset")
    return read_squad(path)


def _expect(cond: bool, path: Path, where: str, what: str, hint: str = "") -> None:
    if not cond:
        raise DatasetFormatError(f"{path}: record {where}: {what}", hint or f"expected the SQuAD v1.1 layout {SQUAD_LAYOUT}")


def _check_question(path: Path, qa: SquadQuestion) -> None:
    """What evaluation needs beyond the layout: a question to ask and span answers."""
    _expect(qa.question.strip() != "", path, qa.where, "QA needs a non-empty 'question' string")
    _expect(qa.verdict is None, path, qa.where,
            f"'answers' must be a list of {{text, answer_start}}, got str {qa.verdict!r:.40}",
            "yes/no questions are not extractive: evaluate BioASQ factoid or list files")


def detect_format(ids: list[str]) -> str:
    """`bioasq` when every QA id looks like BioBERT's `<24 hex>_<n>`, else `squad`."""
    return "bioasq" if looks_like_bioasq(ids) else "squad"


def load_qa_dataset(
    path: str | Path, format: str | None = None, question_type: str | None = None, limit: int | None = None
) -> QADataset:
    """Load a SQuAD v1.1 or BioASQ-in-SQuAD file as evaluation items (the first `limit` only).

    The file is parsed by `common.datasets.read_squad` (layout errors and size limits raise
    `common.datasets.DatasetError` naming the file and record); what evaluation needs on top
    (non-empty questions, span answers, a gold answer per question) raises DatasetFormatError.
    """
    path = Path(path)
    if format is not None and format not in QA_FORMATS:
        raise DatasetFormatError(f"unknown dataset format {format!r}", f"use one of {', '.join(QA_FORMATS)}")
    if question_type is not None and question_type not in QUESTION_TYPES:
        raise DatasetFormatError(f"unknown question type {question_type!r}", f"use one of {', '.join(QUESTION_TYPES)}")
    squad = _read_squad(path)
    records = squad.questions()
    if not records:
        raise DatasetFormatError(f"{path} holds no questions", f"expected the SQuAD v1.1 layout {SQUAD_LAYOUT}")
    for _, qa in records:
        _check_question(path, qa)
    fmt = format or detect_format([qa.id for _, qa in records])
    items: list[QAItem] = []
    if fmt == "squad":
        for para, qa in records:
            _expect(bool(qa.answers), path, qa.where, "QA has no gold answer",
                    "SQuAD v1.1 evaluation needs at least one answer per question")
            context = GoldContext(squad_doc_id(para.title, para.context), para.title, para.context)
            items.append(QAItem(qa.id, qa.question, (context,), tuple(a.text for a in qa.answers)))
        qtype = question_type or "extractive"
    else:
        for q in group_bioasq(squad):
            contexts: dict[str, GoldContext] = {}
            for snip in q.snippets:
                doc_id = squad_doc_id(snip.title, snip.context)
                contexts.setdefault(doc_id, GoldContext(doc_id, snip.title, snip.context))
            if not q.answers:
                raise DatasetFormatError(f"{path}: question {q.id} has no gold answer in any snippet",
                                         "factoid/list evaluation needs gold spans")
            items.append(QAItem(q.id, q.question, tuple(contexts.values()), q.answers))  # every span is a synonym
        qtype = question_type or ("list" if "list" in path.name.lower() else "factoid")
    if limit is not None:
        items = items[: max(0, limit)]
    log.info("loaded %d %s questions (%s) from %s", len(items), fmt, qtype, path)
    return QADataset(path, fmt, qtype, file_sha256(path), tuple(items))


def qa_to_retrieval(ds: QADataset) -> RetrievalDataset:
    """Relevant documents of a question = the documents of its own gold contexts."""
    return RetrievalDataset(
        path=ds.path,
        sha256=ds.sha256,
        queries={it.id: it.question for it in ds.items},
        qrels={it.id: {c.doc_id: 1 for c in it.contexts} for it in ds.items},
    )


def _jsonl(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """(line number, object) per line (`common.datasets.iter_jsonl`); a line that is not an
    object raises DatasetFormatError."""
    out = []
    for lineno, obj in iter_jsonl(path):
        if not isinstance(obj, dict):
            raise DatasetFormatError(f"{path}: line {lineno}: expected a JSON object", "one JSON object per line")
        out.append((lineno, obj))
    return out


def beir_files(folder: Path) -> tuple[Path, Path, Path]:
    corpus, queries = folder / "corpus.jsonl", folder / "queries.jsonl"
    qrels = next((p for p in (folder / "qrels.tsv", folder / "qrels" / "test.tsv") if p.is_file()), folder / "qrels.tsv")
    missing = [p.name for p in (corpus, queries, qrels) if not p.is_file()]
    if missing:
        raise DatasetFormatError(
            f"{folder} is not a BEIR/TREC folder: missing {', '.join(missing)}",
            "a retrieval folder holds corpus.jsonl ({_id, title, text}), queries.jsonl ({_id, text}) and "
            "qrels.tsv (query-id<TAB>corpus-id<TAB>score, or TREC 'qid 0 docid rel')",
        )
    return corpus, queries, qrels


def load_beir(folder: str | Path, limit: int | None = None) -> RetrievalDataset:
    """Load a BEIR-style folder; queries without a positive judgement are dropped (as BEIR does)."""
    folder = Path(folder)
    corpus, queries_path, qrels_path = beir_files(folder)
    queries: dict[str, str] = {}
    for lineno, obj in _jsonl(queries_path):
        qid, text = obj.get("_id", obj.get("id")), obj.get("text")
        if qid in (None, "") or not isinstance(text, str):
            raise DatasetFormatError(f"{queries_path}: line {lineno}: a query needs '_id' and 'text'", 'e.g. {"_id": "q1", "text": "..."}')
        queries[str(qid)] = text
    qrels: dict[str, dict[str, int]] = {}
    for lineno, line in enumerate(qrels_path.read_text(encoding="utf-8").splitlines(), start=1):
        parts = line.split()
        if not parts or (lineno == 1 and not parts[-1].lstrip("-").isdigit()):
            continue  # blank line or the BEIR header "query-id corpus-id score"
        if len(parts) == 4:  # TREC: qid iteration docid rel
            parts = [parts[0], parts[2], parts[3]]
        if len(parts) != 3 or not parts[2].lstrip("-").isdigit():
            raise DatasetFormatError(
                f"{qrels_path}: line {lineno}: expected 'query-id corpus-id score' (or TREC 'qid 0 docid rel'), got {line!r:.80}",
                "relevance scores are integers; use tabs or spaces between fields",
            )
        if int(parts[2]) > 0:
            qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    unknown = [q for q in qrels if q not in queries]
    if unknown:
        raise DatasetFormatError(f"{qrels_path}: query id {unknown[0]!r} is not in {queries_path.name}",
                                 "every judged query needs a line in queries.jsonl")
    ordered = [q for q in queries if q in qrels]
    if limit is not None:
        ordered = ordered[: max(0, limit)]
    h = hashlib.sha256()
    for p in (corpus, queries_path, qrels_path):
        h.update(f"{p.name}\x00{file_sha256(p)}\n".encode())
    return RetrievalDataset(
        path=folder, sha256=h.hexdigest(), queries={q: queries[q] for q in ordered},
        qrels={q: qrels[q] for q in ordered}, corpus=corpus,
    )


def load_retrieval_dataset(path: str | Path, format: str | None = None, limit: int | None = None) -> RetrievalDataset:
    """A folder is BEIR/TREC; a file is SQuAD-style QA (its contexts are the documents)."""
    path = Path(path)
    if path.is_dir():
        return load_beir(path, limit)
    return qa_to_retrieval(load_qa_dataset(path, format=format, limit=limit))


def beir_corpus_as_jsonl(corpus: Path, out: Path) -> Path:
    """Rewrite BEIR's corpus.jsonl (`_id`) as clinqa JSONL (`id`) for the indexer; ids unchanged."""
    with open(out, "w", encoding="utf-8") as fh:
        for lineno, obj in _jsonl(corpus):
            doc_id = obj.get("_id", obj.get("id"))
            if doc_id in (None, "") or not isinstance(obj.get("text"), str):
                raise DatasetFormatError(f"{corpus}: line {lineno}: a document needs '_id' and 'text'",
                                         'e.g. {"_id": "d1", "title": "...", "text": "..."}')
            fh.write(json.dumps({"id": str(doc_id), "title": obj.get("title") or "", "text": obj["text"],
                                 "source": corpus.parent.name}, ensure_ascii=False) + "\n")
    return out


@dataclass(frozen=True)
class PatternQuestion:
    """A question judged by a regular expression of acceptable answer content (our own
    consumer-health sets: benchmarks/data/*.jsonl), matched case-insensitively."""

    question: str
    answer_pattern: str
    kind: str = ""

    def judge(self, answer_text: str) -> bool:
        """True when `answer_text` holds acceptable content (pure)."""
        return bool(answer_text) and re.search(self.answer_pattern, answer_text, re.IGNORECASE) is not None


def load_pattern_questions(path: str | Path, limit: int | None = None) -> list[PatternQuestion]:
    """JSONL of {"question", "answer_pattern"[, "kind"]} (e.g. benchmarks/data/clinician_questions.jsonl).

    Raises DatasetFormatError naming the line when a field is missing or a pattern is not a valid
    regular expression."""
    path = Path(path)
    out: list[PatternQuestion] = []
    for lineno, rec in iter_jsonl(path):
        where = f"line {lineno}"
        hint = 'each line must be {"question": "...", "answer_pattern": "regex of acceptable answers"}'
        _expect(isinstance(rec, dict) and isinstance(rec.get("question"), str) and rec["question"].strip()
                and isinstance(rec.get("answer_pattern"), str) and rec["answer_pattern"].strip(),
                path, where, "needs a non-empty question and answer_pattern", hint)
        try:
            re.compile(rec["answer_pattern"])
        except re.error as exc:
            raise DatasetFormatError(f"{path}: record {where}: answer_pattern is not a valid regular expression: {exc}",
                                     "fix the pattern (Python `re` syntax; alternatives joined with |)") from exc
        out.append(PatternQuestion(rec["question"].strip(), rec["answer_pattern"], str(rec.get("kind", ""))))
        if limit and len(out) >= limit:
            break
    return out
