"""Pure calibration fitting and BioASQ question-level metrics."""
import numpy as np
import pytest

from reader.bioasq import factoid_metrics, merge_candidates, question_id
from reader.calibration import (
    apply_platt,
    calibrate,
    expected_calibration_error,
    fit_platt,
    fit_threshold,
)
from reader.squad import SquadExample

pytestmark = pytest.mark.unit


def test_platt_recovers_known_parameters():
    rng = np.random.default_rng(0)
    s = rng.uniform(-5, 15, 20000)
    true_p = 1 / (1 + np.exp(-(s / 4.0 - 1.5)))
    y = (rng.uniform(size=s.size) < true_p).astype(int)
    T, b = fit_platt(s, y)
    assert T == pytest.approx(4.0, rel=0.1) and b == pytest.approx(-1.5, abs=0.15)
    p = apply_platt(s, T, b)
    assert expected_calibration_error(p, y) < 0.02


def test_platt_rejects_one_class_and_handles_no_signal():
    with pytest.raises(ValueError):
        fit_platt([1.0, 2.0], [1, 1])
    T, b = fit_platt([1.0, 2.0, 3.0, 4.0], [1, 1, 0, 0])  # decreasing: no usable signal
    assert T > 1e3


def test_ece_hand_computed():
    # bin [0.9,1): conf .9, acc 1/2 -> .4 * share 2/4; bin [0.1,.2): conf .1, acc 0 -> .1 * 2/4
    assert expected_calibration_error([0.9, 0.9, 0.1, 0.1], [1, 0, 0, 0]) == pytest.approx(0.25)
    assert expected_calibration_error([], []) == 0.0


def test_threshold_maximises_decision_accuracy():
    p = [0.1, 0.2, 0.6, 0.7, 0.9]
    y = [0, 0, 1, 0, 1]
    assert fit_threshold(p, y) == pytest.approx(0.6)  # 4 of 5 decisions right


def test_calibrate_reports_crossfit_ece():
    rng = np.random.default_rng(1)
    s = rng.normal(5, 3, 400)
    y = (rng.uniform(size=400) < 1 / (1 + np.exp(-(s - 5)))).astype(int)
    res = calibrate(s, y, [f"q{i % 50}" for i in range(400)], softmax_probs=np.full(400, 0.99))
    assert res["ece_after_crossfit"] < res["ece_before_softmax"]
    assert 0 <= res["no_answer_threshold"] <= 1 and res["temperature"] > 0


def test_bioasq_grouping_merge_and_mrr():
    assert question_id("587e1bfdfc7e8dd84f000002_012") == "587e1bfdfc7e8dd84f000002"
    lists = [[("ACE2", 3.0), ("TMPRSS2", 1.0)], [("ace2.", 5.0), ("furin", 2.0)]]
    # best score: furin (2.0) beats TMPRSS2 (1.0)
    assert merge_candidates(lists, k=2, merge="best") == ["ace2.", "furin"]
    # support: TMPRSS2 has 12% of its snippet's mass, furin 5% of its snippet's
    assert merge_candidates(lists, k=2) == ["ace2.", "TMPRSS2"]
    # an answer proposed by two snippets beats a stronger one proposed by one
    agree = [[("IL-6", 2.0), ("TNF", 1.9)], [("TNF", 2.0), ("CRP", 1.0)], [("IL-6", 9.0)]]
    assert merge_candidates(agree, k=1, merge="best") == ["IL-6"]
    assert merge_candidates([agree[0], agree[1]], k=1) == ["TNF"]
    exs = [
        SquadExample("qa_000", "q", "c", ("ACE2",), (0,)),
        SquadExample("qa_001", "q", "c", ("angiotensin converting enzyme 2",), (0,)),
        SquadExample("qb_000", "q", "c", ("fever",), (0,)),
        SquadExample("qc_000", "q", "c", ("cough",), (0,)),
    ]
    cands = {
        "qa_000": [("furin", 4.0), ("ACE2", 1.0)],
        "qa_001": [("Angiotensin converting enzyme 2", 5.0)],  # best overall, matches gold of qa_000's question
        "qb_000": [("rash", 3.0), ("headache", 2.0), ("fever", 1.0)],  # rank 3
        "qc_000": [("sneezing", 1.0)],  # miss
    }
    m = factoid_metrics(cands, exs, merge="best")
    assert m["n_questions"] == 3
    assert m["strict"] == pytest.approx(100 / 3)
    assert m["lenient"] == pytest.approx(200 / 3)
    assert m["mrr"] == pytest.approx(100 * (1 + 1 / 3) / 3)
