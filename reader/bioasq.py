"""BioASQ factoid evaluation (strict / lenient accuracy, MRR over the top 5).

The BioASQ dev files hold one SQuAD item per (question, snippet); the item id is
"<question id>_<snippet index>". BioASQ scores questions, not snippets, so:
1. items are grouped by question id (the prefix before the last "_");
2. candidates from all snippets of a question are merged into one ranked list of
   distinct answers (by normalised text, keeping each answer's best score);
3. gold = every answer span of every snippet of that question.
An answer matches a gold string when their SQuAD-normalised forms are equal
(lower-case, no punctuation/articles; the official BioASQ script lower-cases and
compares exact strings, so this is slightly more lenient about punctuation).

strict  = share of questions whose top answer matches;
lenient = share with a match in the top k (5);
MRR     = mean of 1/rank of the first match in the top k (0 when none).
Pure functions: the eval engineer may reuse them with any reader.
"""
from __future__ import annotations

from typing import Mapping, Sequence

from reader.squad import SquadExample, normalize_answer


def question_id(item_id: str) -> str:
    return item_id.rsplit("_", 1)[0]


def merge_candidates(ranked_lists: Sequence[Sequence[tuple[str, float]]], k: int = 5) -> list[str]:
    """Merge (text, score) lists into the top-k distinct answers by best score."""
    best: dict[str, tuple[float, str]] = {}
    for lst in ranked_lists:
        for text, score in lst:
            norm = normalize_answer(text)
            if not norm:
                continue
            if norm not in best or score > best[norm][0]:
                best[norm] = (score, text)
    ranked = sorted(best.values(), key=lambda v: -v[0])
    return [t for _, t in ranked[:k]]


def factoid_metrics(
    candidates: Mapping[str, Sequence[tuple[str, float]]], examples: Sequence[SquadExample], k: int = 5
) -> dict:
    """Question-level strict/lenient accuracy and MRR in percent.

    candidates: item id -> that item's (text, score) candidates (any order).
    """
    golds: dict[str, set[str]] = {}
    lists: dict[str, list] = {}
    for ex in examples:
        q = question_id(ex.id)
        golds.setdefault(q, set()).update(normalize_answer(a) for a in ex.answers)
        lists.setdefault(q, []).append(candidates.get(ex.id, ()))
    strict = lenient = rr = 0.0
    for q, gold in golds.items():
        top = merge_candidates(lists[q], k)
        for rank, text in enumerate(top, 1):
            if normalize_answer(text) in gold:
                strict += rank == 1
                lenient += 1
                rr += 1.0 / rank
                break
    n = len(golds)
    if n == 0:
        return {"strict": 0.0, "lenient": 0.0, "mrr": 0.0, "n_questions": 0}
    return {"strict": 100 * strict / n, "lenient": 100 * lenient / n, "mrr": 100 * rr / n, "n_questions": n}
