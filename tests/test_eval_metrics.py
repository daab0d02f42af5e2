"""Evaluation metrics against hand-computed cases and the official SQuAD v1.1 script's logic,
and reader scoring (SQuAD, BioASQ factoid/list) with a scripted reader instead of a model."""
import collections
import json
import math
import re
import string
from types import SimpleNamespace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.evaluation.datasets import load_qa_dataset
from pipeline.evaluation.metrics import (
    distinct_answers,
    doc_ranking,
    expected_calibration_error,
    factoid_metrics,
    factoid_scores,
    latency_percentiles,
    list_metrics,
    list_scores,
    reliability_bins,
    retrieval_metrics,
    squad_scores,
)
from pipeline.evaluation.runners import evaluate_reader
from reader.types import Answer

pytestmark = pytest.mark.unit


# The official SQuAD v1.1 evaluate-v1.1.py functions, transcribed independently of reader.squad.
def official_normalize(s):
    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


def official_f1(prediction, ground_truth):
    prediction_tokens = official_normalize(prediction).split()
    ground_truth_tokens = official_normalize(ground_truth).split()
    common = collections.Counter(prediction_tokens) & collections.Counter(ground_truth_tokens)
    num_same = sum(common.values())
    if num_same == 0:
        return 0
    precision = 1.0 * num_same / len(prediction_tokens)
    recall = 1.0 * num_same / len(ground_truth_tokens)
    return (2 * precision * recall) / (precision + recall)


def official_em(prediction, ground_truth):
    return official_normalize(prediction) == official_normalize(ground_truth)


def official_max(metric_fn, prediction, ground_truths):
    return max(metric_fn(prediction, gt) for gt in ground_truths)


def official_evaluate(dataset, predictions):
    f1 = exact_match = total = 0
    for article in dataset:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                total += 1
                if qa["id"] not in predictions:
                    continue
                ground_truths = [x["text"] for x in qa["answers"]]
                prediction = predictions[qa["id"]]
                exact_match += official_max(official_em, prediction, ground_truths)
                f1 += official_max(official_f1, prediction, ground_truths)
    return {"exact_match": 100.0 * exact_match / total, "f1": 100.0 * f1 / total}


@pytest.mark.parametrize(
    "pred, golds, em, f1",
    [
        ("The ACE2 receptor.", ["ACE2 receptor"], 1.0, 1.0),  # articles and punctuation ignored
        ("cat sat", ["the cat sat on a mat"], 0.0, 2 * 1.0 * 0.5 / 1.5),  # P=1, R=2/4
        ("dog", ["cat", "dog"], 1.0, 1.0),  # max over golds
        ("", ["cat"], 0.0, 0.0),
        ("x b b", ["b b c"], 0.0, 2 / 3),  # Counter intersection: 2 common tokens, P=R=2/3
    ],
)
def test_squad_scores_hand_computed(pred, golds, em, f1):
    got_em, got_f1 = squad_scores(pred, golds)
    assert got_em == em
    assert math.isclose(got_f1, f1, rel_tol=1e-9)


@settings(max_examples=200, deadline=None)
@given(
    st.text(alphabet="abc ,.-The", max_size=20),
    st.lists(st.text(alphabet="abc ,.-The", min_size=1, max_size=20), min_size=1, max_size=3),
)
def test_squad_scores_equal_the_official_script(pred, golds):
    em, f1 = squad_scores(pred, golds)
    assert em == float(official_max(official_em, pred, golds))
    assert math.isclose(f1, official_max(official_f1, pred, golds), abs_tol=1e-12)
    assert em <= f1 or f1 == 0.0 and official_normalize(pred) == ""  # EM=1 implies F1=1 unless both normalise to ""


def test_factoid_strict_lenient_mrr():
    assert factoid_scores(["IL-6", "TNF"], ["il-6"]) == (1.0, 1.0, 1.0)  # case-insensitive
    assert factoid_scores(["a", "B", "c"], ["x", "b "]) == (0.0, 1.0, 0.5)  # synonyms; whitespace trimmed
    assert factoid_scores(["a", "b", "c", "d", "e", "gold"], ["gold"]) == (0.0, 0.0, 0.0)  # only the top 5 count
    assert factoid_scores([], ["gold"]) == (0.0, 0.0, 0.0)
    m = factoid_metrics([(1.0, 1.0, 1.0), (0.0, 1.0, 0.5), (0.0, 0.0, 0.0), (0.0, 1.0, 0.25)])
    assert m == {"strict_accuracy": 25.0, "lenient_accuracy": 75.0, "mrr": pytest.approx(100 * 1.75 / 4), "n": 4}


def test_distinct_answers_merge_across_snippets():
    # Candidates from three snippets: duplicates (any case) keep their best probability.
    cands = [("IL-6", 0.2), ("tnf", 0.5), ("il-6", 0.7), ("", 0.9), ("CRP", 0.5), ("TNF", 0.1)]
    assert distinct_answers(cands) == [("il-6", 0.7), ("tnf", 0.5), ("CRP", 0.5)]  # tie: first seen first
    assert distinct_answers(cands, limit=1) == [("il-6", 0.7)]
    assert len(distinct_answers([(str(i), 1.0 / (i + 1)) for i in range(9)])) == 5


def test_list_precision_recall_f1():
    p, r, f = list_scores(["A", "b", "z", "a"], ["a", "B", "c", "d"])  # predictions deduplicated: a, b, z
    assert (p, r) == (2 / 3, 0.5) and f == pytest.approx(2 * (2 / 3) * 0.5 / (2 / 3 + 0.5))
    assert list_scores([], ["a"]) == (0.0, 0.0, 0.0)
    assert list_metrics([(1.0, 0.5, 2 / 3), (0.0, 0.0, 0.0)])["list_recall"] == 25.0


def test_doc_ranking_keeps_each_documents_best_chunk():
    chunk_doc = {"c1": "A", "c2": "B", "c3": "A", "c4": "C"}
    assert doc_ranking(["c3", "c2", "c1", "cX", "c4"], chunk_doc) == ["A", "B", "C"]


def test_retrieval_metrics_with_ranx_hand_computed():
    # q1: relevant d1 at rank 2; q2: relevant d2 at rank 1; q3: nothing retrieved.
    qrels = {"q1": {"d1": 1}, "q2": {"d2": 1}, "q3": {"d9": 1}}
    rankings = {"q1": ["d3", "d1"], "q2": ["d2", "d1"], "q3": []}
    m = retrieval_metrics(qrels, rankings)
    assert m["n"] == 3
    assert m["recall@1"] == pytest.approx(100 / 3)
    assert m["recall@5"] == m["recall@100"] == pytest.approx(200 / 3)
    assert m["mrr@10"] == pytest.approx(100 * 1.5 / 3)
    assert m["ndcg@10"] == pytest.approx(100 * (1 / math.log2(3) + 1) / 3)
    # Order, not score, decides: a query missing from the run scores 0 like an empty one.
    assert retrieval_metrics(qrels, {"q1": ["d3", "d1"], "q2": ["d2", "d1"]}) == m


def test_latency_and_calibration():
    assert latency_percentiles([10, 20, 30, 40, 50]) == {"latency_ms_p50": 30.0, "latency_ms_p95": 48.0}
    probs = [0.05, 0.15, 0.95, 0.9, 1.0]
    correct = [False, True, True, False, True]
    bins = reliability_bins(probs, correct)
    assert [(b["lo"], b["count"]) for b in bins] == [(0.0, 1), (0.1, 1), (0.9, 3)]  # p == 1.0 lands in the top bin
    assert bins[2]["accuracy"] == pytest.approx(2 / 3) and bins[2]["confidence"] == pytest.approx(0.95)
    # ECE = 1/5*|0-.05| + 1/5*|1-.15| + 3/5*|2/3-.95|
    assert expected_calibration_error(probs, correct) == pytest.approx(100 * (0.05 / 5 + 0.85 / 5 + 0.6 * (0.95 - 2 / 3)))


# -- scoring a reader's answers (scripted reader, no model) ---------------------------
QID1, QID2 = "5a6d186db750ff4455000031", "5a6d186db750ff4455000032"


class ScriptedReader:
    """Answers from a table {question: [(text, probability), ...]}; records what it was given."""

    def __init__(self, table, threshold=0.5):
        self.table, self.threshold, self.calls = table, threshold, []

    def read(self, question, passages, top_k=None):
        self.calls.append((question, [p.text for p in passages]))
        answers = tuple(Answer(t, 0.0, p, passages[0], 0, len(t)) for t, p in self.table.get(question, []))
        return SimpleNamespace(answers=answers[:top_k], no_answer_threshold=self.threshold)


SQUAD = [{"title": "covid", "paragraphs": [
    {"context": "The virus binds the ACE2 receptor on host cells.",
     "qas": [{"id": "a", "question": "What does the virus bind?", "answers": [{"text": "ACE2 receptor", "answer_start": 20}]},
             {"id": "b", "question": "Where is it?", "answers": [{"text": "on host cells", "answer_start": 34},
                                                                  {"text": "host cells", "answer_start": 37}]}]},
    {"context": "Masks reduce transmission.",
     "qas": [{"id": "c", "question": "What reduces transmission?", "answers": [{"text": "Masks", "answer_start": 0}]}]},
]}]


@pytest.mark.unit
def test_squad_scoring_matches_the_official_script(tmp_path):
    f = tmp_path / "dev.json"
    f.write_text(json.dumps({"version": "1.1", "data": SQUAD}))
    reader = ScriptedReader({
        "What does the virus bind?": [("the ACE2 receptor", 0.9)],
        "Where is it?": [("cells", 0.3), ("host cells", 0.2)],
        "What reduces transmission?": [],
    })
    result = evaluate_reader(load_qa_dataset(f), reader, "scripted", progress=False)
    official = official_evaluate(SQUAD, {"a": "the ACE2 receptor", "b": "cells", "c": ""})
    assert result.metrics["exact_match"] == pytest.approx(official["exact_match"])
    assert result.metrics["f1"] == pytest.approx(official["f1"])
    assert result.metrics["n"] == 3 and "strict_accuracy" not in result.metrics
    assert [p["id"] for p in result.predictions] == ["a", "b", "c"]


def bioasq_file(path):
    paras = [
        ("IL-6 rises in sepsis.", f"{QID1}_001", "Which cytokine rises?", "IL-6"),
        ("Interleukin 6 is elevated in sepsis.", f"{QID1}_002", "Which cytokine rises?", "Interleukin 6"),
        ("Aspirin inhibits COX.", f"{QID2}_001", "What does aspirin inhibit?", "COX"),
    ]
    path.write_text(json.dumps({"version": "BioASQ6b", "data": [{"title": "BioASQ6b", "paragraphs": [
        {"context": c, "qas": [{"id": i, "question": q, "answers": [{"text": a, "answer_start": c.find(a)}]}]}
        for c, i, q, a in paras]}]}))
    return path


@pytest.mark.unit
def test_bioasq_factoid_reads_all_snippets_once_and_merges_answers(tmp_path):
    f = bioasq_file(tmp_path / "BioASQ-val-factoid.json")
    reader = ScriptedReader({
        # duplicates across snippets collapse; the gold synonym "interleukin 6" is at rank 2
        "Which cytokine rises?": [("TNF", 0.6), ("tnf", 0.5), ("interleukin 6", 0.4), ("IL-6", 0.1)],
        "What does aspirin inhibit?": [("platelets", 0.7), ("a", 0.1), ("b", 0.1), ("c", 0.1), ("d", 0.1), ("COX", 0.05)],
    })
    result = evaluate_reader(load_qa_dataset(f), reader, "scripted", progress=False)
    assert [len(c[1]) for c in reader.calls] == [2, 1]  # one call per question with all its snippets
    m = result.metrics
    assert (m["strict_accuracy"], m["lenient_accuracy"], m["mrr"], m["n"]) == (0.0, 50.0, 25.0, 2)
    assert result.predictions[0]["answers"][:2] == [{"text": "TNF", "probability": 0.6},
                                                    {"text": "interleukin 6", "probability": 0.4}]


@pytest.mark.unit
def test_bioasq_list_uses_the_threshold(tmp_path):
    f = bioasq_file(tmp_path / "BioASQ-val-list.json")
    reader = ScriptedReader({"Which cytokine rises?": [("IL-6", 0.8), ("Interleukin 6", 0.6), ("TNF", 0.3)],
                             "What does aspirin inhibit?": [("platelets", 0.2)]}, threshold=0.5)
    result = evaluate_reader(load_qa_dataset(f), reader, "scripted", progress=False)
    assert result.predictions[0]["list"] == ["IL-6", "Interleukin 6"]
    assert result.predictions[1]["list"] == ["platelets"]  # nothing clears it: the top answer is kept
    assert result.metrics["list_recall"] == 50.0 and result.metrics["list_precision"] == 50.0
