"""SQuAD v1.1 / v2.0 JSON, and BioASQ in BioBERT's SQuAD layout.

Layout: {"version", "data": [{"title", "paragraphs": [{"context", "qas": [{"id", "question",
"answers": [{"text", "answer_start"}], "is_impossible"?}]}]}]}. BioASQ yes/no files store
the answer as a string ("yes"/"no") instead of a list: it is kept as `verdict`.

`read_squad(path)` returns every paragraph with its questions, as written (no text
normalisation: each consumer applies its own), in file order. The layout is checked
record by record; a bad record raises `DatasetFormatError` naming the file and the record
(`data[0].paragraphs[3].qas[1]`).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.datasets._io import load_json
from common.datasets.errors import DatasetFormatError

SQUAD_LAYOUT = ('{"version": "1.1", "data": [{"title": ..., "paragraphs": [{"context": ..., "qas": '
                '[{"id", "question", "answers": [{"text", "answer_start"}]}]}]}]}')


@dataclass(frozen=True)
class SquadAnswer:
    """A gold span: `text` as written and its character offset in the context (-1 when the
    file gives none; the offset is not checked here)."""

    text: str
    start: int = -1


@dataclass(frozen=True)
class SquadQuestion:
    """One QA record. `answers` is empty for unanswerable items and for BioASQ yes/no items,
    whose string answer is `verdict`; `where` names the record ("data[0].paragraphs[1].qas[2]")."""

    id: str
    question: str
    answers: tuple[SquadAnswer, ...]
    verdict: str | None = None
    is_impossible: bool = False
    where: str = ""


@dataclass(frozen=True)
class SquadParagraph:
    """One context with its questions; `title` is its article's title ("" when none)."""

    article_index: int
    paragraph_index: int
    title: str
    context: str
    questions: tuple[SquadQuestion, ...]

    @property
    def where(self) -> str:
        return f"data[{self.article_index}].paragraphs[{self.paragraph_index}]"


@dataclass(frozen=True)
class SquadFile:
    path: Path
    version: str
    paragraphs: tuple[SquadParagraph, ...]

    def questions(self) -> list[tuple[SquadParagraph, SquadQuestion]]:
        """(paragraph, question) for every QA record, in file order."""
        return [(p, q) for p in self.paragraphs for q in p.questions]


def is_squad(data: Any) -> bool:
    """Whether parsed JSON has SQuAD's top-level "data" list."""
    return isinstance(data, dict) and isinstance(data.get("data"), list)


def _bad(path: Path, where: str, what: str) -> DatasetFormatError:
    return DatasetFormatError(path, f"record {where}: {what}", f"expected the SQuAD v1.1 layout {SQUAD_LAYOUT}")


def _question(path: Path, qa: Any, where: str) -> SquadQuestion:
    if not isinstance(qa, dict) or qa.get("id") in (None, ""):
        raise _bad(path, where, "QA needs an 'id'")
    where = f"{where} (id {qa['id']})"
    if not isinstance(qa.get("question"), str):
        raise _bad(path, where, "QA needs a 'question' string")
    raw = qa.get("answers", [])
    verdict = None
    if isinstance(raw, str):
        verdict, raw = raw, []
    if not isinstance(raw, list):
        raise _bad(path, where, f"'answers' must be a list of {{text, answer_start}}, got {type(raw).__name__}")
    answers = []
    for n, ans in enumerate(raw):
        if not isinstance(ans, dict) or not isinstance(ans.get("text"), str):
            raise _bad(path, f"{where}.answers[{n}]", "answer needs a 'text' string")
        try:
            start = int(ans.get("answer_start", -1))
        except (TypeError, ValueError):
            raise _bad(path, f"{where}.answers[{n}]", "'answer_start' must be an integer") from None
        answers.append(SquadAnswer(ans["text"], start))
    return SquadQuestion(str(qa["id"]), qa["question"], tuple(answers), verdict, bool(qa.get("is_impossible")), where)


def squad_from_json(data: Any, path: str | Path) -> SquadFile:
    """A SquadFile from already parsed JSON (see `read_squad`)."""
    path = Path(path)
    if not is_squad(data):
        raise _bad(path, "(top level)", "no top-level 'data' list")
    paragraphs = []
    for a_i, article in enumerate(data["data"]):
        where_a = f"data[{a_i}]"
        if not isinstance(article, dict) or not isinstance(article.get("paragraphs"), list):
            raise _bad(path, where_a, "article needs a 'paragraphs' list")
        title = str(article.get("title") or "")
        for p_i, para in enumerate(article["paragraphs"]):
            where_p = f"{where_a}.paragraphs[{p_i}]"
            if not isinstance(para, dict) or not isinstance(para.get("context"), str):
                raise _bad(path, where_p, "paragraph needs a 'context' string")
            qas = para.get("qas", [])
            if not isinstance(qas, list):
                raise _bad(path, where_p, "'qas' must be a list")
            questions = tuple(_question(path, qa, f"{where_p}.qas[{q_i}]") for q_i, qa in enumerate(qas))
            paragraphs.append(SquadParagraph(a_i, p_i, title, para["context"], questions))
    return SquadFile(path, str(data.get("version") or ""), tuple(paragraphs))


def read_squad(path: str | Path) -> SquadFile:
    """Read a SQuAD-layout JSON file.

    Returns a SquadFile: paragraphs in file order, each with its questions; texts as
    written. Raises DatasetFormatError (not found, not JSON, a record off the layout),
    DatasetEncodingError, DatasetLimitError (over `max_file_bytes`).
    """
    return squad_from_json(load_json(path), path)
