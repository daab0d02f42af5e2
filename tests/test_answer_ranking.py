"""Answers ranked across passages with passage relevance (pipeline.ranking), spans that come
out whole (reader.postprocess.snap_span), long questions (reader.features.fit_question) and
content-free questions: the cases a clinician reported, as our own examples of each kind."""
import pytest

from pipeline.errors import InvalidQuestionError
from pipeline.questions import clean_question
from pipeline.ranking import AnswerCalibration, Candidate, best_distinct, list_answer, score_candidates
from reader.postprocess import select_spans, snap_span

pytestmark = pytest.mark.unit


def _cand(text, span, rel_feature, rel, hit, reader_p=0.9):
    return Candidate(text, span, reader_p, hit, rel_feature, rel)


CAL = AnswerCalibration(span_weight=0.3, relevance_weight=1.0, bias=-4.0, threshold=0.5)


def test_a_strong_span_in_an_irrelevant_passage_does_not_beat_the_relevant_passage():
    # "first-line treatment of open-angle glaucoma?": the reader likes "Paracetamol" in a
    # fever passage (span 12) more than "latanoprost" in the glaucoma passage (span 9), but
    # the reranker says the fever passage is irrelevant.
    cands = [_cand("Paracetamol", 12.0, -6.0, 0.01, 0), _cand("latanoprost", 9.0, 5.0, 0.97, 1)]
    for cal in (CAL, None):
        ranked = best_distinct(score_candidates(cands, cal), 5)
        assert ranked[0].candidate.text == "latanoprost"
    probs = {s.candidate.text: s.probability for s in score_candidates(cands, CAL)}
    assert probs["Paracetamol"] < CAL.threshold <= probs["latanoprost"]


def test_best_distinct_keeps_one_entry_per_answer_and_breaks_ties_by_passage_rank():
    cands = [_cand("Colchicine", 5.0, 1.0, 0.5, 2), _cand("colchicine.", 5.0, 1.0, 0.5, 0),
             _cand("NSAIDs", 4.0, 1.0, 0.5, 1)]
    ranked = best_distinct(score_candidates(cands, CAL), 5)
    assert [s.candidate.text for s in ranked] == ["colchicine.", "NSAIDs"]
    assert best_distinct(score_candidates(cands, CAL), 1)[0].candidate.hit_index == 0


def test_list_answer_keeps_distinct_items_above_threshold():
    cands = [_cand("fever", 9.0, 4.0, 0.9, 0), _cand("dry cough", 8.5, 4.0, 0.9, 0),
             _cand("cough", 8.0, 4.0, 0.9, 1), _cand("fatigue", 7.0, 3.0, 0.8, 2),
             _cand("weather", 1.0, -3.0, 0.1, 3)]
    ranked = best_distinct(score_candidates(cands, CAL), 10)
    items = [s.candidate.text for s in list_answer(ranked, CAL.threshold)]
    assert items == ["fever", "dry cough", "fatigue"]  # "cough" is inside "dry cough"; "weather" is below
    assert list_answer(ranked, 1.01) == []


def test_calibration_round_trips_and_is_monotone():
    assert AnswerCalibration.from_dict(CAL.to_dict()) == CAL
    assert CAL.probability(10, 2) > CAL.probability(5, 2) and CAL.probability(5, 3) > CAL.probability(5, 2)


T = ("the in vivo elimination half-life of drug X (t1/2 = 6.02 h) was about 2.8-fold longer than that of Y. "
     "Give 10-20 mg/kg daily; 45% respond. Allopurinol lowers urate.")


@pytest.mark.parametrize("piece, cut, expected", [
    ("6.02", 0, "6.02 h"), ("6.0", 0, "6.02 h"), ("10", 0, "10-20 mg/kg"), ("2.8", 0, "2.8-fold"),
    ("45", 0, "45%"), ("Allopurinol", 1, "Allopurinol"), ("llopurinol", 0, "Allopurinol"),
    ("(t1/2 = 6.02", 0, "(t1/2 = 6.02 h)"), ("drug X", 0, "drug X"), ("urate.", 0, "urate."),
])
def test_spans_snap_to_whole_words_numbers_units_and_brackets(piece, cut, expected):
    i = T.index(piece)
    s, e = snap_span(T, i, i + len(piece) - cut)
    assert T[s:e] == expected


def test_select_spans_never_returns_word_fragments():
    text = "Treat with allopurinol daily."
    offsets = [None, (0, 5), (6, 10), (11, 16), (16, 22), (23, 28), (28, 29)]  # "allop" + "urinol" pieces
    start = [0, 0, 0, 9, 0, 0, 0]
    end = [0, 0, 0, 9, 0, 0, 0]  # best span: the piece "allop" alone
    cands = select_spans([start], [end], [offsets], [0], [text], n_best=3)
    assert cands[0].text == "allopurinol"
    assert all(text[c.start:c.end] == c.text for c in cands)


@pytest.mark.parametrize("q", ["what is the", "What is it?", "???", "Why?", "  who ?  "])
def test_questions_without_content_words_are_refused_with_a_hint(q):
    with pytest.raises(InvalidQuestionError, match="no content words") as err:
        clean_question(q)
    assert "e.g." in err.value.hint


def test_short_real_questions_still_pass():
    for q in ["IL-6?", "What about vitamin D?", "HbA1c target?", "Что такое подагра?"]:
        assert clean_question(q)


@pytest.mark.unit
def test_calibration_learns_the_first_stage_score_for_reranked_hits():
    """pipeline.calibrate: for reranked hits (relevance = reranker logit) the fused first-stage
    score is a third feature; it is fitted when it carries signal and ranks the right answer
    first, and old calibrations without it read as weight 0."""
    import random

    from pipeline.calibrate import Row, fit_logistic, top1, with_first_stage

    rng = random.Random(0)
    rows = []
    for q in range(300):
        for k in range(4):
            correct = k == 0
            # the reranker logit is noise here; the first-stage score tells right from wrong
            rows.append(Row(q, rng.gauss(5, 1), rng.gauss(0, 1), correct, rng.gauss(0.8 if correct else 0.3, 0.1)))
    assert with_first_stage(rows)
    cal = fit_logistic(rows)
    assert cal.first_stage_weight > 5 * abs(cal.relevance_weight)
    _, right = top1(rows, cal)
    assert sum(right) / len(right) > 0.9
    same = [Row(r.question, r.span_score, r.first_stage, r.correct, r.first_stage) for r in rows]
    assert not with_first_stage(same) and fit_logistic(same).first_stage_weight == 0.0
    old = AnswerCalibration.from_dict({"span_weight": 0.3, "relevance_weight": 1.0, "bias": -4.0, "threshold": 0.5})
    assert old.first_stage_weight == 0.0 and old.probability(10, 1) == old.probability(10, 1, 0.9)
    assert AnswerCalibration.from_dict(cal.to_dict()) == cal


@pytest.mark.unit
def test_fragments_of_a_better_answer_from_the_same_passage_are_dropped():
    cands = [Candidate("excessive tiredness", 9.0, 0.6, 0, 0.5, 0.5),
             Candidate("excessive", 8.5, 0.5, 0, 0.5, 0.5),
             Candidate("tiredness", 8.4, 0.5, 1, 0.5, 0.5),  # another passage: its own mention stays
             Candidate("weight gain", 8.0, 0.4, 0, 0.5, 0.5)]
    texts = [s.candidate.text for s in best_distinct(score_candidates(cands, CAL), 5)]
    assert texts == ["excessive tiredness", "tiredness", "weight gain"]
