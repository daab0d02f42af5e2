"""Official SQuAD v1.1 normalisation and EM/F1, checked against hand-computed cases."""
import json

import pytest

from common.datasets import DatasetError
from reader.squad import (
    exact_match_score,
    f1_score,
    load_squad,
    metric_max_over_ground_truths,
    normalize_answer,
    squad_metrics,
    SquadExample,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "raw, norm",
    [
        ("The Cat!", "cat"),
        ("  an   apple, a pear ", "apple pear"),
        ("theory", "theory"),  # "the" only removed as a whole word
        ("ACE-2", "ace2"),  # punctuation removed, not replaced by a space
        ("", ""),
    ],
)
def test_normalize_answer(raw, norm):
    assert normalize_answer(raw) == norm


def test_exact_match():
    assert exact_match_score("the ACE2 receptor.", "ACE2 receptor") == 1.0
    assert exact_match_score("ACE2", "ACE2 receptor") == 0.0


def test_f1_hand_computed():
    # pred tokens: [ace2, receptor, in, lung]; gold: [ace2, receptor]; common 2
    # precision 2/4, recall 2/2 -> F1 = 2*0.5*1/(1.5) = 2/3
    assert f1_score("ACE2 receptor in lung", "the ACE2 receptor") == pytest.approx(2 / 3)
    assert f1_score("fever", "cough") == 0.0
    assert f1_score("", "cough") == 0.0
    # repeated tokens count with multiplicity: pred [a1, a1], gold [a1]: common 1, P=.5 R=1
    assert f1_score("a1 a1", "a1") == pytest.approx(2 / 3)


def test_max_over_ground_truths():
    golds = ["14 days", "two weeks"]
    assert metric_max_over_ground_truths(exact_match_score, "two weeks", golds) == 1.0
    assert metric_max_over_ground_truths(f1_score, "about 14 days", golds) == pytest.approx(0.8)
    assert metric_max_over_ground_truths(f1_score, "x", []) == 0.0


def test_squad_metrics_percentages_and_missing():
    exs = [
        SquadExample("1", "q", "c", ("14 days", "two weeks"), (0, 0)),
        SquadExample("2", "q", "c", ("fever",), (0,)),
        SquadExample("3", "q", "c", ("cough",), (0,)),  # no prediction -> 0
        SquadExample("4", "q", "c", (), ()),  # unanswerable: skipped in v1.1
    ]
    m = squad_metrics({"1": "two weeks", "2": "high fever"}, exs)
    assert m["n"] == 3
    assert m["exact_match"] == pytest.approx(100 / 3)
    assert m["f1"] == pytest.approx(100 * (1 + 2 / 3) / 3)


def test_load_squad(tmp_path):
    data = {
        "version": "1.1",
        "data": [
            {
                "title": "T",
                "paragraphs": [
                    {
                        "context": "Fever is common.",
                        "qas": [{"id": "a", "question": "What?", "answers": [{"text": "Fever", "answer_start": 0}]}],
                    }
                ],
            }
        ],
    }
    p = tmp_path / "s.json"
    p.write_text(json.dumps(data))
    (ex,) = load_squad(p)
    assert ex.id == "a" and ex.answers == ("Fever",) and ex.answer_starts == (0,) and ex.title == "T"
    with pytest.raises(DatasetError, match="missing.json: not found") as err:
        load_squad(tmp_path / "missing.json")
    assert err.value.hint
