"""benchmarks/bench_clinician.py: the counts it reports and the unannotated-topic subset."""
import json

import pytest

from repo_scripts import ROOT, load_script

bench = load_script("benchmarks/bench_clinician.py")

pytestmark = pytest.mark.unit


def test_counts_separate_right_confident_and_confidently_wrong():
    rows = [{"right": True, "confident": True}, {"right": False, "confident": True},
            {"right": True, "confident": False}, {"right": False, "confident": False}]
    assert bench.counts(rows) == {"right": 2, "first_item_right": 2, "first_item_right_and_confident": 1,
                                  "right_and_confident": 1, "confident_wrong": 1, "not_confident": 2, "n": 4}
    assert bench.counts([])["n"] == 0


def test_a_list_whose_first_item_is_wrong_is_right_only_as_a_whole():
    """README's glaucoma list ("open-angle glaucoma; one or both eyes; slowly lose their peripheral
    vision") passes the pattern through its third item; judged by the first item it is wrong."""
    rows = [{"right": True, "first_right": False, "confident": True},
            {"right": True, "first_right": True, "confident": True},
            {"right": False, "first_right": False, "confident": True}]
    c = bench.counts(rows)
    assert (c["right"], c["first_item_right"], c["first_item_right_and_confident"], c["confident_wrong"]) == (2, 1, 1, 1)


def test_summarize_adds_the_unannotated_subset_only_when_asked():
    rows = [{"question": "How is gout treated?", "right": True, "confident": True, "probability": 0.9},
            {"question": "What causes gout?", "right": False, "confident": True, "probability": 0.8},
            {"question": "Who gets gout?", "right": False, "confident": False, "probability": None}]
    whole = bench.summarize(rows)
    assert "unannotated_topics" not in whole and whole["n"] == 3 and whole["confident_wrong"] == 1
    assert whole["rows"] == rows and whole["ece"] > 0
    sub = bench.summarize(rows, frozenset({"What causes gout?", "Who gets gout?"}))["unannotated_topics"]
    assert sub == {"right": 0, "first_item_right": 0, "first_item_right_and_confident": 0, "right_and_confident": 0,
                   "confident_wrong": 1, "not_confident": 1, "n": 2}


def test_unannotated_questions_reads_only_records_flagged_false(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"question": " How is gout treated? ", "answer_pattern": "NSAID", "annotated_topic": False},
        {"question": "What causes gout?", "answer_pattern": "uric", "annotated_topic": True},
        {"question": "Who gets gout?", "answer_pattern": "men"}]) + "\n")
    assert bench.unannotated_questions(f) == {"How is gout treated?"}


def test_the_fresh_set_subset_is_exactly_its_unflagged_questions():
    path = ROOT / "benchmarks" / "data" / "clinician_fresh_questions.jsonl"
    expected = {r["question"].strip() for _, r in bench.iter_jsonl(path) if not r["annotated_topic"]}
    assert len(expected) == 17 and bench.unannotated_questions(path) == expected
    assert expected <= {q.question for q in bench.load_pattern_questions(path)}
