"""benchmarks/bench_answer_confidence.py: the scores of a question's top answer and how they are compared."""
import pytest

from pipeline.ranking import Candidate, Scored
from repo_scripts import load_script

bench = load_script("benchmarks/bench_answer_confidence.py")

pytestmark = pytest.mark.unit


def _scored(text: str, probability: float, reader_probability: float = 0.5) -> Scored:
    return Scored(Candidate(text, 1.0, reader_probability, 0, 0.5, 0.5), probability)


def test_top_answer_scores_take_the_most_probable_span_and_the_probability_that_agrees_with_it():
    text, scores = bench.top_answer_scores([_scored("taking a pill", 0.2), _scored("sildenafil", 0.4, 0.9),
                                            _scored("Sildenafil (Viagra)", 0.3), _scored("a pill", 0.1)])
    assert text == "sildenafil"
    assert scores["shown"] == 0.4 and scores["reader"] == 0.9
    # "Sildenafil (Viagra)" contains the top answer; "taking a pill" and "a pill" do not.
    assert scores["agreement"] == pytest.approx(0.7 / 1.0)
    assert bench.top_answer_scores([]) is None


def test_separation_counts_right_and_wrong_among_the_best_scored():
    rows = [{"right": True, "scores": {"shown": 0.9, "reader": 0.3, "agreement": 0.5}},
            {"right": False, "scores": {"shown": 0.8, "reader": 0.2, "agreement": 0.5}},
            {"right": True, "scores": {"shown": 0.1, "reader": 0.9, "agreement": 0.5}}]
    out = bench.separation(rows, keep=2)
    assert (out["n"], out["right"], out["keep"]) == (3, 2, 2)
    assert (out["shown"]["kept_right"], out["shown"]["kept_wrong"]) == (1, 1)
    assert (out["reader"]["kept_right"], out["reader"]["kept_wrong"]) == (2, 0)
    assert out["reader"]["auroc"] == 1.0 and out["shown"]["auroc"] == 0.5 and out["agreement"]["auroc"] == 0.5
    assert bench.separation(rows[:1], keep=5)["shown"]["auroc"] is None  # one class only
