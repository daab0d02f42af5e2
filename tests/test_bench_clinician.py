"""benchmarks/bench_clinician.py: the counts it reports and the unannotated-topic subset."""
import importlib.util
import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))  # bench_clinician imports its sibling bench_ask
_spec = importlib.util.spec_from_file_location("bench_clinician", ROOT / "benchmarks" / "bench_clinician.py")
bench = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(bench)

pytestmark = pytest.mark.unit


def test_counts_separate_right_confident_and_confidently_wrong():
    rows = [{"right": True, "confident": True}, {"right": False, "confident": True},
            {"right": True, "confident": False}, {"right": False, "confident": False}]
    assert bench.counts(rows) == {"right": 2, "right_and_confident": 1, "confident_wrong": 1,
                                  "not_confident": 2, "n": 4}
    assert bench.counts([])["n"] == 0


def test_unannotated_topics_reads_only_records_flagged_false(tmp_path):
    f = tmp_path / "q.jsonl"
    f.write_text("\n".join(json.dumps(r) for r in [
        {"question": " How is gout treated? ", "answer_pattern": "NSAID", "annotated_topic": False},
        {"question": "What causes gout?", "answer_pattern": "uric", "annotated_topic": True},
        {"question": "Who gets gout?", "answer_pattern": "men"}]) + "\n")
    assert bench.unannotated_topics(f) == {"How is gout treated?"}


def test_the_fresh_set_has_an_unannotated_subset():
    flagged = bench.unannotated_topics(ROOT / "benchmarks" / "data" / "clinician_fresh_questions.jsonl")
    assert flagged and flagged <= {q.question for q in bench.load_pattern_questions(
        ROOT / "benchmarks" / "data" / "clinician_fresh_questions.jsonl")}
