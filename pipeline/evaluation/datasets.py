"""Evaluation datasets, validated record by record.

Two question-answering layouts (both SQuAD v1.1 JSON) and one retrieval layout:

- `squad`: one question over one context per QA (COVID-QA).
- `bioasq`: BioBERT's SQuAD-style BioASQ files hold one (question, snippet) pair per QA,
  with ids `<question id>_<n>`. Items are grouped by question id: a question's snippets
  are all its gold contexts and every gold span of the question counts as a correct
  synonym (the files carry no official synonym lists).
- BEIR/TREC folder: `corpus.jsonl`, `queries.jsonl` and `qrels.tsv` (or `qrels/test.tsv`).

A bad record raises `DatasetFormatError` naming the file, the record and what was expected,
instead of a KeyError deep inside an evaluation run.
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from indexer.loaders import squad_doc_id
from pipeline.evaluation.errors import DatasetFormatError

log = logging.getLogger(__name__)

QA_FORMATS = ("squad", "bioasq")
QUESTION_TYPES = ("extractive", "factoid", "list")
# BioASQ question ids are 24 hex digits (MongoDB ObjectIds); BioBERT appends _<snippet index>.
_BIOASQ_ID = re.compile(r"^[0-9a-f]{24}_\d+$")
_SQUAD_LAYOUT = '{"version": "1.1", "data": [{"title": ..., "paragraphs": [{"context": ..., "qas": [{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}'


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


def _read_json(path: Path) -> Any:
    if path.is_dir():
        raise DatasetFormatError(
            f"{path} is a folder; this evaluation needs questions with gold answers",
            "pass a SQuAD v1.1 JSON file (BEIR folders have no answers: use them with `clinqa eval retrieval`)",
        )
    if not path.is_file():
        raise DatasetFormatError(f"dataset not found: {path}", "pass an existing SQuAD v1.1 JSON file with --dataset")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise DatasetFormatError(f"{path} is not UTF-8 text", "convert it with iconv -t utf-8") from exc
    except json.JSONDecodeError as exc:
        raise DatasetFormatError(
            f"{path} is not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}",
            f"expected the SQuAD v1.1 layout {_SQUAD_LAYOUT}",
        ) from exc


def _expect(cond: bool, path: Path, where: str, what: str, hint: str = "") -> None:
    if not cond:
        raise DatasetFormatError(f"{path}: record {where}: {what}", hint or f"expected the SQuAD v1.1 layout {_SQUAD_LAYOUT}")


def _flat_records(path: Path, raw: Any) -> list[tuple[str, str, str, str, str, list[str]]]:
    """(where, qa id, question, title, context, answer texts) for every QA, validated."""
    _expect(isinstance(raw, dict) and isinstance(raw.get("data"), list), path, "(top level)", "no top-level 'data' list")
    out = []
    for a_i, article in enumerate(raw["data"]):
        where_a = f"data[{a_i}]"
        _expect(isinstance(article, dict) and isinstance(article.get("paragraphs"), list), path, where_a,
                "article needs a 'paragraphs' list")
        title = article.get("title") or ""
        for p_i, para in enumerate(article["paragraphs"]):
            where_p = f"{where_a}.paragraphs[{p_i}]"
            _expect(isinstance(para, dict) and isinstance(para.get("context"), str), path, where_p,
                    "paragraph needs a 'context' string")
            _expect(isinstance(para.get("qas"), list), path, where_p, "paragraph needs a 'qas' list")
            context = para["context"]
            for q_i, qa in enumerate(para["qas"]):
                where = f"{where_p}.qas[{q_i}]"
                _expect(isinstance(qa, dict) and qa.get("id") not in (None, ""), path, where, "QA needs an 'id'")
                where = f"{where} (id {qa['id']})"
                _expect(isinstance(qa.get("question"), str) and qa["question"].strip() != "", path, where,
                        "QA needs a non-empty 'question' string")
                answers = qa.get("answers")
                _expect(
                    isinstance(answers, list), path, where,
                    f"'answers' must be a list of {{text, answer_start}}, got {type(answers).__name__} {answers!r:.40}",
                    "yes/no questions are not extractive: evaluate BioASQ factoid or list files"
                    if isinstance(answers, str) else "",
                )
                texts = []
                for n_i, ans in enumerate(answers):
                    _expect(isinstance(ans, dict) and isinstance(ans.get("text"), str), path, f"{where}.answers[{n_i}]",
                            "answer needs a 'text' string")
                    texts.append(ans["text"])
                out.append((where, str(qa["id"]), qa["question"], title, context, texts))
    return out


def detect_format(ids: list[str]) -> str:
    """`bioasq` when every QA id looks like BioBERT's `<24 hex>_<n>`, else `squad`."""
    return "bioasq" if ids and all(_BIOASQ_ID.match(i) for i in ids) else "squad"


def load_qa_dataset(
    path: str | Path, format: str | None = None, question_type: str | None = None, limit: int | None = None
) -> QADataset:
    """Load a SQuAD v1.1 or BioASQ-in-SQuAD file as evaluation items (the first `limit` only)."""
    path = Path(path)
    if format is not None and format not in QA_FORMATS:
        raise DatasetFormatError(f"unknown dataset format {format!r}", f"use one of {', '.join(QA_FORMATS)}")
    if question_type is not None and question_type not in QUESTION_TYPES:
        raise DatasetFormatError(f"unknown question type {question_type!r}", f"use one of {', '.join(QUESTION_TYPES)}")
    records = _flat_records(path, _read_json(path))
    if not records:
        raise DatasetFormatError(f"{path} holds no questions", f"expected the SQuAD v1.1 layout {_SQUAD_LAYOUT}")
    fmt = format or detect_format([r[1] for r in records])
    items: list[QAItem] = []
    if fmt == "squad":
        for where, qid, question, title, context, answers in records:
            _expect(bool(answers), path, where, "QA has no gold answer", "SQuAD v1.1 evaluation needs at least one answer per question")
            items.append(QAItem(qid, question, (GoldContext(squad_doc_id(title, context), title, context),), tuple(answers)))
        qtype = question_type or "extractive"
    else:
        groups: dict[str, dict[str, Any]] = {}
        for where, qid, question, title, context, answers in records:
            _expect("_" in qid, path, where, f"BioASQ ids look like <question id>_<n>, got {qid!r}",
                    "pass --format squad for plain SQuAD files")
            base = qid.rsplit("_", 1)[0]
            g = groups.setdefault(base, {"question": question, "contexts": {}, "answers": {}})
            if question.strip() != g["question"].strip():
                log.warning("%s: %s: question text differs from the first snippet of %s; keeping the first", path, where, base)
            doc_id = squad_doc_id(title, context)
            g["contexts"].setdefault(doc_id, GoldContext(doc_id, title, context))
            for a in answers:
                g["answers"].setdefault(a, None)  # ordered set: every span is a synonym
        for base, g in groups.items():
            if not g["answers"]:
                raise DatasetFormatError(f"{path}: question {base} has no gold answer in any snippet",
                                         "factoid/list evaluation needs gold spans")
            items.append(QAItem(base, g["question"], tuple(g["contexts"].values()), tuple(g["answers"])))
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
    out = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise DatasetFormatError(f"{path}: line {lineno}: invalid JSON ({exc.msg})", "one JSON object per line") from exc
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
