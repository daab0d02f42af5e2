"""BioASQ factoid evaluation (strict / lenient accuracy, MRR over the top 5).

The BioASQ dev files hold one SQuAD item per (question, snippet); the item id is
"<question id>_<snippet index>". BioASQ scores questions, not snippets, so:
1. items are grouped by question id (the prefix before the last "_");
2. candidates from all snippets of a question are merged into one ranked list of
   distinct answers (by normalised text): by default by support, the sum over snippets of
   the answer's softmax probability within that snippet's list (the same rule as the
   reader's merge="support"), or with merge="best" by each answer's best score;
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

from reader.postprocess import MERGES, softmax
from reader.squad import SquadExample, normalize_answer


def question_id(item_id: str) -> str:
    return item_id.rsplit("_", 1)[0]


def merge_candidates(
    ranked_lists: Sequence[Sequence[tuple[str, float]]], k: int = 5, merge: str = "support", temperature: float = 1.0
) -> list[str]:
    """Merge per-snippet (text, score) lists into the top-k distinct answers."""
    if merge not in MERGES:
        raise ValueError(f"merge must be one of {MERGES}, got {merge!r}")
    best: dict[str, tuple[float, str]] = {}
    support: dict[str, float] = {}
    for lst in ranked_lists:
        own: dict[str, tuple[float, str]] = {}
        for text, score in lst:
            norm = normalize_answer(text)
            if norm and (norm not in own or score > own[norm][0]):
                own[norm] = (score, text)
        for norm, p in zip(own, softmax([v[0] for v in own.values()], temperature)):
            support[norm] = support.get(norm, 0.0) + p
            if norm not in best or own[norm][0] > best[norm][0]:
                best[norm] = own[norm]
    if merge == "support":
        order = sorted(best, key=lambda n: (-support[n], -best[n][0]))
    else:
        order = sorted(best, key=lambda n: -best[n][0])
    return [best[n][1] for n in order[:k]]


def factoid_metrics(
    candidates: Mapping[str, Sequence[tuple[str, float]]], examples: Sequence[SquadExample], k: int = 5,
    merge: str = "support", temperature: float = 1.0,
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
        top = merge_candidates(lists[q], k, merge, temperature)
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
