"""BioASQ questions from BioBERT's SQuAD-layout files (BioASQ-val-{factoid,list,yesno}.json,
bioasq-train/train.json).

Those files hold one QA item per (question, snippet) with the id "<question id>_<n>".
`group_bioasq` groups them back into questions: one `BioASQQuestion` per question id, in
order of first appearance, with every snippet (in file order) and its gold spans, or for
yes/no files its verdict ("yes"/"no").
"""
from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from common.datasets.errors import DatasetFormatError
from common.datasets.squad import SquadAnswer, SquadFile, read_squad

log = logging.getLogger(__name__)

# BioASQ question ids are 24 hex digits (MongoDB ObjectIds); BioBERT appends _<snippet index>.
BIOASQ_ITEM_ID = re.compile(r"^[0-9a-f]{24}_\d+$")


@dataclass(frozen=True)
class BioASQSnippet:
    """One (question, snippet) item: the snippet as its context, its own gold spans or verdict."""

    item_id: str
    title: str
    context: str
    answers: tuple[SquadAnswer, ...]
    verdict: str | None
    where: str


@dataclass(frozen=True)
class BioASQQuestion:
    """One BioASQ question: the first item's question text and all its snippets."""

    id: str
    question: str
    snippets: tuple[BioASQSnippet, ...]

    @property
    def answers(self) -> tuple[str, ...]:
        """Distinct gold span texts over all snippets, in order of first appearance."""
        return tuple(dict.fromkeys(a.text for s in self.snippets for a in s.answers))

    @property
    def verdict(self) -> str | None:
        """The first snippet's yes/no answer (None in factoid/list files)."""
        return self.snippets[0].verdict if self.snippets else None


def question_id(item_id: str) -> str:
    """"<question id>_<n>" -> "<question id>"."""
    return item_id.rsplit("_", 1)[0]


def looks_like_bioasq(ids: list[str]) -> bool:
    """Whether every id is BioBERT's `<24 hex>_<n>` (a non-empty list)."""
    return bool(ids) and all(BIOASQ_ITEM_ID.match(i) for i in ids)


def group_bioasq(squad: SquadFile) -> tuple[BioASQQuestion, ...]:
    """Group a SQuAD-layout BioASQ file's items by question id.

    Raises DatasetFormatError for an item id without "_<n>". A question text that differs
    between snippets of one question is logged; the first is kept.
    """
    groups: dict[str, tuple[str, list[BioASQSnippet]]] = {}
    for para, qa in squad.questions():
        if "_" not in qa.id:
            raise DatasetFormatError(squad.path, f"record {qa.where}: BioASQ ids look like <question id>_<n>, got "
                                     f"{qa.id!r}", "pass --format squad for plain SQuAD files")
        base = question_id(qa.id)
        question, snippets = groups.setdefault(base, (qa.question, []))
        if qa.question.strip() != question.strip():
            log.warning("%s: %s: question text differs from the first snippet of %s; keeping the first",
                        squad.path, qa.where, base)
        snippets.append(BioASQSnippet(qa.id, para.title, para.context, qa.answers, qa.verdict, qa.where))
    return tuple(BioASQQuestion(q, text, tuple(snips)) for q, (text, snips) in groups.items())


def read_bioasq(path: str | Path) -> tuple[BioASQQuestion, ...]:
    """`group_bioasq(read_squad(path))`: the questions of a SQuAD-layout BioASQ file."""
    return group_bioasq(read_squad(path))
