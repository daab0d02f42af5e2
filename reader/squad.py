"""SQuAD v1.1 loading and the official SQuAD v1.1 metrics, as pure functions.

COVID-QA and BioASQ in shared/data are SQuAD-format, so one loader serves training,
evaluation and calibration; the file is parsed by `common.datasets.read_squad`. The normalisation and EM/F1 follow the official
`evaluate-v1.1.py` script exactly (lower-case, strip punctuation, drop English
articles a/an/the, collapse whitespace; score = max over gold answers), so numbers
here are comparable with published SQuAD-style results.

Public API (reused by the evaluation engineer):
    load_squad(path) -> list[SquadExample]
    normalize_answer(s) -> str
    exact_match_score(prediction, ground_truth) -> float   (0.0 or 1.0)
    f1_score(prediction, ground_truth) -> float            (0..1)
    metric_max_over_ground_truths(fn, prediction, ground_truths) -> float
    squad_metrics(predictions: dict[id, str], examples) -> {"exact_match", "f1", "n"}
"""
from __future__ import annotations

import collections
import logging
import re
import string
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

from common.datasets import read_squad

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SquadExample:
    """One question over one context, with all gold answers (SQuAD v1.1: never empty
    in these files, but an empty tuple is allowed for unanswerable items)."""

    id: str
    question: str
    context: str
    answers: tuple[str, ...]
    answer_starts: tuple[int, ...]
    title: str = ""


def load_squad(path: str | Path) -> list[SquadExample]:
    """Read a SQuAD v1.1-format JSON file (`common.datasets.read_squad`) into a flat list of
    examples. BioASQ yes/no items (a string answer) get no answers.

    Answers whose `answer_start` does not point at the answer text are kept for
    evaluation (the text is what is scored) but logged, because training needs the
    offset to be right. Raises `common.datasets.DatasetError` naming the file (and record).
    """
    squad = read_squad(path)
    examples: list[SquadExample] = []
    bad_offsets = 0
    for para, qa in squad.questions():
        texts = tuple(a.text for a in qa.answers)
        starts = tuple(a.start for a in qa.answers)
        bad_offsets += sum(para.context[s : s + len(t)] != t for t, s in zip(texts, starts))
        examples.append(SquadExample(id=qa.id, question=qa.question, context=para.context, answers=texts,
                                     answer_starts=starts, title=para.title))
    if bad_offsets:
        logger.warning("%s: %d answers whose answer_start does not match the text", path, bad_offsets)
    logger.info("loaded %d examples from %s", len(examples), path)
    return examples


def normalize_answer(s: str) -> str:
    """Official SQuAD v1.1 normalisation: lower, remove punctuation, articles, extra spaces."""

    def remove_articles(text: str) -> str:
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text: str) -> str:
        return " ".join(text.split())

    def remove_punc(text: str) -> str:
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def f1_score(prediction: str, ground_truth: str) -> float:
    """Token-level F1 (0..1) between normalised prediction and one gold answer."""
    prediction_tokens = normalize_answer(prediction).split()
    ground_truth_tokens = normalize_answer(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0.0
    precision = num_same / len(prediction_tokens)
    recall = num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def exact_match_score(prediction: str, ground_truth: str) -> float:
    """1.0 when the normalised strings are equal, else 0.0."""
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def metric_max_over_ground_truths(
    metric_fn: Callable[[str, str], float], prediction: str, ground_truths: Iterable[str]
) -> float:
    """Best score of `prediction` against any gold answer (0.0 when there is none)."""
    return max((metric_fn(prediction, gt) for gt in ground_truths), default=0.0)


def squad_metrics(predictions: Mapping[str, str], examples: Sequence[SquadExample]) -> dict:
    """Official SQuAD v1.1 EM/F1 in percent over `examples`.

    An example with no prediction scores 0 (as in the official script, which warns);
    examples without gold answers are skipped because v1.1 cannot score them.
    """
    em = f1 = 0.0
    n = 0
    missing = 0
    for ex in examples:
        if not ex.answers:
            continue
        n += 1
        pred = predictions.get(ex.id)
        if pred is None:
            missing += 1
            continue
        em += metric_max_over_ground_truths(exact_match_score, pred, ex.answers)
        f1 += metric_max_over_ground_truths(f1_score, pred, ex.answers)
    if missing:
        logger.warning("%d of %d examples have no prediction (scored 0)", missing, n)
    if n == 0:
        return {"exact_match": 0.0, "f1": 0.0, "n": 0}
    return {"exact_match": 100.0 * em / n, "f1": 100.0 * f1 / n, "n": n}
