"""tasks.paraphrase and the reranker's corpus questions: reworded MedQuAD titles, a stable
held-out share of documents for dev, groups read without titles (pure, no models)."""
import gzip
import json
import random
import re

import pytest

from tasks.paraphrase import _INTENTS, medquad_intent, paraphrase_question, typed_topic
from tasks.reranker import CorpusQuestions, _Pool, is_corpus_dev_document, load_sources
from tasks.errors import TaskError


@pytest.mark.unit
@pytest.mark.parametrize("title,intent,topic", [
    ("What are the treatments for Gout ?", "treatment", "Gout"),
    ("What is (are) Adult Acute Lymphoblastic Leukemia ?", "definition", "Adult Acute Lymphoblastic Leukemia"),
    ("Who is at risk for High Blood Pressure? ?", "risk", "High Blood Pressure"),
    ("Is Ehlers-Danlos syndrome inherited ?", "inheritance", "Ehlers-Danlos syndrome"),
    ("what research (or clinical trials) is being done for Holmes-Adie ?", "research", "Holmes-Adie"),
    ("What causes Causes of Diabetes ?", "cause", "Diabetes"),
    ("How many people are affected by DICER1 syndrome ?", "frequency", "DICER1 syndrome"),
])
def test_medquad_templates_are_recognised(title, intent, topic):
    assert medquad_intent(title) == (intent, topic)


@pytest.mark.unit
def test_paraphrases_keep_the_topic_and_never_repeat_the_title():
    rng = random.Random(1)
    title = "What are the treatments for Gout ?"
    seen = {paraphrase_question(title, rng) for _ in range(50)}
    assert len(seen) >= 4
    for q in seen:
        assert "gout" in q.lower() and q.rstrip(" ?").lower() != title.rstrip(" ?").lower()
    assert paraphrase_question("Where to find support for people with ALS?", rng) is None
    with pytest.raises(ValueError, match="split"):
        paraphrase_question(title, rng, "test")


@pytest.mark.unit
def test_dev_wordings_are_disjoint_from_training_wordings():
    for _, _, train, dev in _INTENTS:
        assert dev and not set(train) & set(dev)


@pytest.mark.unit
def test_typed_topic_lowercases_title_case_but_keeps_acronyms():
    assert typed_topic("Adult Acute Lymphoblastic Leukemia") == "adult acute lymphoblastic leukemia"
    assert typed_topic("COPD and Alzheimer's Disease") == "COPD and alzheimer's disease"
    assert typed_topic("DICER1 syndrome") == "DICER1 syndrome"


@pytest.mark.unit
def test_held_out_documents_are_stable_and_about_a_tenth():
    ids = [f"medquad:{i}" for i in range(4000)]
    held = [i for i in ids if is_corpus_dev_document(i)]
    assert held == [i for i in ids if is_corpus_dev_document(i)]
    assert 0.08 < len(held) / len(ids) < 0.12


def _corpus(tmp_path, n=300):
    rows = [{"id": f"d{i}", "title": f"What are the treatments for Disease{i} ?",
             "text": f"Disease{i} is treated with drug{i} tablets twice daily."} for i in range(n)]
    path = tmp_path / "corpus.jsonl.gz"
    with gzip.open(path, "wt") as f:
        f.write("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


class _Spans:
    """Whitespace word 'pieces' with offsets: what indexer.chunking needs from a tokenizer."""

    def __call__(self, text):
        import re
        return [(m.start(), m.end()) for m in re.finditer(r"\S+", text)]


@pytest.mark.unit
def test_corpus_training_questions_are_reworded_from_documents_outside_dev(tmp_path):
    path = _corpus(tmp_path)
    train = load_sources([str(path)], _Pool(_Spans()), 1000, 0, "train", CorpusQuestions(1.0, 0.5))
    dev = load_sources([str(path)], _Pool(_Spans()), 1000, 0, "dev", CorpusQuestions(1.0, 0.5))
    held = {f"d{i}" for i in range(300) if is_corpus_dev_document(f"d{i}")}
    assert len(train) + len(dev) == 300 and len(dev) == len(held)
    doc_of = lambda q: "d" + re.search(r"disease(\d+)", q.question, re.IGNORECASE).group(1)
    assert not {doc_of(q) for q in train} & held
    assert {doc_of(q) for q in dev} == held
    for q in train + dev:
        assert not q.question.startswith("What are the treatments for")
        assert q.title_exclude.startswith("what are the treatments for")
    assert not any(q.hide_titles for q in dev)
    assert 0.3 < sum(q.hide_titles for q in train) / len(train) < 0.7
    kept = load_sources([str(path)], _Pool(_Spans()), 1000, 0, "train", CorpusQuestions(0.0, 0.0))
    assert all(q.question.startswith("What are the treatments for") and not q.hide_titles for q in kept)


@pytest.mark.unit
def test_corpus_question_shares_are_validated():
    with pytest.raises(TaskError, match="paraphrase_share"):
        CorpusQuestions(1.5, 0.0)
