"""Question validation and batch query files: pure functions."""
from __future__ import annotations

import unicodedata
import re
from dataclasses import dataclass
from pathlib import Path

from common.datasets import iter_jsonl_lines
from indexer.tokenize import tokenize
from pipeline.errors import InvalidQuestionError, PipelineError

DEFAULT_MAX_QUESTION_CHARS = 2000


def clean_question(question: str, max_chars: int = DEFAULT_MAX_QUESTION_CHARS) -> str:
    """Return the question ready for search, or raise InvalidQuestionError saying what to change.

    Control characters become spaces (they carry no meaning and break tokenisers);
    whitespace is collapsed; any script is accepted.
    """
    if not isinstance(question, str):
        raise InvalidQuestionError("the question must be text", "pass the question as a string")
    cleaned = "".join(" " if unicodedata.category(ch)[0] == "C" else ch for ch in question)
    cleaned = " ".join(cleaned.split())
    if not cleaned:
        raise InvalidQuestionError(
            "the question is empty", 'type a question, e.g. clinqa ask "What are the symptoms of glaucoma?"'
        )
    if len(cleaned) > max_chars:
        raise InvalidQuestionError(
            f"the question is {len(cleaned):,} characters long; the limit is {max_chars:,}",
            "ask a shorter question (one clinical question, not a whole document); "
            "to search with a document, index it with `clinqa index add` instead",
        )
    if not tokenize(cleaned):
        # Only stop words ("what is the", "What is it?") or symbols: any passage would do, so
        # any answer would be a confident guess.
        raise InvalidQuestionError(
            f"the question {cleaned!r} has no content words to search for",
            "name the condition, drug, test or finding you are asking about, "
            'e.g. "What is the first-line treatment of gout?"',
        )
    return cleaned


# British -> American spellings of medical word parts, for the neural models' copy of a
# question. A narrower list than the BM25 rule (indexer.tokenize.us_spelling), which maps both
# sides and may over-reach harmlessly ("aerobic" -> "erobic", "malaise" -> "malaize"); a neural
# model reads what it is given. Checked against the 30k words of the bundled corpus: every
# rewrite there is a spelling pair (tests/test_pipeline_unit.py).
_MEDICAL_SPELLING = [
    # Latin binomials keep their spelling in American text (Haemophilus, S. haematobium).
    (re.compile(r"haem(?!ophilus|atobium)"), "hem"),  # haemoglobin, haemorrhage, haematology
    (re.compile(r"aemi"), "emi"),  # anaemia, leukaemia, ischaemic, hyperglycaemia
    (re.compile(r"paed"), "ped"),  # paediatric, orthopaedic
    (re.compile(r"aetiol"), "etiol"),
    (re.compile(r"anaesth"), "anesth"),
    (re.compile(r"gynaec"), "gynec"),
    (re.compile(r"^(oedem|oesoph|oestr|foet|coeli|amoeb)"), lambda m: m.group(1).replace("oe", "e", 1)),
    (re.compile(r"(rrh|pn)oea(?!e)"), r"\1ea"),  # diarrhoea, dyspnoea (not N. gonorrhoeae)
    (re.compile(r"^(tum|behavi|lab|col|od|hum|vig)our"), r"\1or"),  # tumour, behaviour, labour
    (re.compile(r"^((?:milli|centi|micro)?(?:lit|met)|cent|fib)re(s?)$"), r"\1er\2"),  # centre, fibre, litre
    (re.compile(r"sulph"), "sulf"),
]
_WORD = re.compile(r"[A-Za-z]{5,}")


def american_spelling(question: str) -> str:
    """The question with British medical spellings rewritten in American spelling, case kept
    ("oedema" -> "edema", "Haemoglobin" -> "Hemoglobin"), for the neural models (dense
    encoder, reranker, reader): they learnt mostly American text and do not equate the two
    ("symptoms of oedema" scored 0.06 relevance on the edema page, "edema" 0.68). Words in
    capitals or mixed case (acronyms) stay. Pure."""

    def fix(m: re.Match) -> str:
        word = m.group(0)
        if not (word.islower() or word[1:].islower()):  # acronyms and mixed case (RNAaemia) stay
            return word
        low = word.lower()
        us = low
        for pattern, repl in _MEDICAL_SPELLING:
            us = pattern.sub(repl, us)
        if us == low:
            return word
        return us.capitalize() if word[0].isupper() else us

    return _WORD.sub(fix, question)


def model_question(question: str, max_chars: int = DEFAULT_MAX_QUESTION_CHARS) -> str:
    """The question as the product's models read it: clean_question (raises
    InvalidQuestionError), then american_spelling. QAEngine.search/ask do the same and keep
    the cleaned text for display; evaluation and calibration call this."""
    return american_spelling(clean_question(question, max_chars))


@dataclass(frozen=True)
class Query:
    """One line of a batch file; a line that could not be read carries its `error` instead (the
    batch answers the other lines and reports this one in its place)."""

    id: str
    question: str
    error: PipelineError | None = None


_LINE_HINT = 'each line must be {"id": "...", "question": "..."}'


def read_queries(path: Path | str) -> list[Query]:
    """A JSONL file of {"id", "question"} objects. A malformed line becomes a Query with its
    `error` (naming file and line) so one bad line does not stop the batch; an empty file
    raises PipelineError, a file over a size limit `common.datasets.DatasetLimitError`."""
    path = Path(path)
    if not path.is_file():
        raise PipelineError(f"queries file not found: {path}", 'give a JSONL file with one {"id", "question"} per line')
    queries: list[Query] = []
    for rec in iter_jsonl_lines(path):  # common.datasets: the line and file-size limits of every reader
        n = rec.line
        if rec.error:
            queries.append(Query(f"line {n}", "", PipelineError(f"{path}:{n}: {rec.error}", _LINE_HINT)))
            continue
        obj = rec.value
        if not isinstance(obj, dict) or "question" not in obj:
            qid = str(obj.get("id", f"line {n}")) if isinstance(obj, dict) else f"line {n}"
            queries.append(Query(qid, "", PipelineError(f'{path}:{n}: expected an object with a "question" field',
                                                         _LINE_HINT)))
            continue
        queries.append(Query(id=str(obj.get("id", n)), question=str(obj["question"])))
    if not queries:
        raise PipelineError(f"{path} holds no queries", 'add lines like {"id": "q1", "question": "What causes gout?"}')
    return queries
