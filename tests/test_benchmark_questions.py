"""benchmarks/data/*_questions.jsonl: the pattern-judged question sets load, every pattern accepts
the answer text of the bundled document it was written from and none accepts its own question
(a pattern that matches the question passes answers that merely repeat it), the fresh sets'
`annotated_topic` flags agree with the shipped consumer annotations, and the second fresh set asks
about other documents and conditions than the sets written before it."""
import re
from pathlib import Path

import pytest

from common.datasets import iter_jsonl
from pipeline.evaluation.datasets import load_pattern_questions

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[1]
DATA = ROOT / "benchmarks" / "data"
CORPUS = ROOT / "data" / "corpus" / "medquad.jsonl.gz"
ANNOTATIONS = ROOT / "data" / "train" / "consumer_reader.jsonl"
FRESH = ("clinician_fresh_questions.jsonl", "clinician_fresh2_questions.jsonl")
WITH_DOCUMENTS = (*FRESH, "consumer_dev_questions.jsonl")


@pytest.fixture(scope="module")
def corpus() -> dict[str, dict]:
    return {d["id"]: d for _, d in iter_jsonl(CORPUS)}


def _records(name: str) -> list[dict]:
    return [rec for _, rec in iter_jsonl(DATA / name)]


@pytest.mark.parametrize("name", ["clinician_questions.jsonl", *WITH_DOCUMENTS])
def test_question_sets_load(name):
    assert len(load_pattern_questions(DATA / name)) == len(_records(name))


@pytest.mark.parametrize("name", WITH_DOCUMENTS)
def test_patterns_accept_their_document_and_not_their_question(name, corpus):
    for rec in _records(name):
        doc = corpus[rec["doc_id"]]
        assert re.search(rec["answer_pattern"], doc["text"], re.I), rec["question"]
        assert not re.search(rec["answer_pattern"], rec["question"], re.I), rec["question"]


def _focus(corpus: dict[str, dict], doc_id: str) -> str:
    return corpus[doc_id]["metadata"].get("focus", "").lower().strip()


@pytest.mark.parametrize("name", FRESH)
def test_fresh_set_flags_the_topics_the_annotations_cover(name, corpus):
    """A question's topic counts as annotated when any consumer annotation comes from its page or
    from a page with the same MedQuAD focus; a new annotation round must update the flags."""
    records = [rec for _, rec in iter_jsonl(ANNOTATIONS)]
    # A page without a focus names no topic, so it covers only itself.
    covered_focus = {_focus(corpus, r["doc_id"]) for r in records} - {""}
    covered_docs = {r["doc_id"] for r in records}
    fresh = _records(name)
    assert [q["annotated_topic"] for q in fresh] == [
        q["doc_id"] in covered_docs or _focus(corpus, q["doc_id"]) in covered_focus for q in fresh]
    assert sum(not q["annotated_topic"] for q in fresh) >= 10


def test_second_fresh_set_is_disjoint_from_the_sets_before_it(corpus):
    """clinician_fresh2 was written as a held-out check of changes chosen on the other sets: no
    document, topic (MedQuAD focus) or question of theirs may reappear in it."""
    earlier = [rec for name in ("clinician_fresh_questions.jsonl", "consumer_dev_questions.jsonl") for rec in _records(name)]
    fresh2 = _records("clinician_fresh2_questions.jsonl")
    assert {q["doc_id"] for q in fresh2}.isdisjoint({q["doc_id"] for q in earlier})
    assert {_focus(corpus, q["doc_id"]) for q in fresh2}.isdisjoint({_focus(corpus, q["doc_id"]) for q in earlier})
    old_questions = {q["question"].lower() for q in earlier + _records("clinician_questions.jsonl")}
    assert not any(q["question"].lower() in old_questions for q in fresh2)
    assert len({q["doc_id"] for q in fresh2}) == len(fresh2)
