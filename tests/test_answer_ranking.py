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


def test_list_items_from_a_much_less_relevant_other_document_are_dropped():
    # "What are the symptoms of glaucoma?": two items from the glaucoma page (relevance 0.86 and,
    # in a later chunk, 0.40), then "Autosomal dominant inheritance" from a page on another condition
    # that mentions glaucoma (0.60 < 0.8 x 0.86), and "eye pain" from another page about as relevant (0.75).
    def c(text, span, rel, hit, doc):
        return Candidate(text, span, 0.9, hit, 4.0, rel, doc_id=doc)
    cands = [c("slowly lose their side vision", 9.0, 0.86, 0, "glaucoma"), c("halos", 8.0, 0.40, 2, "glaucoma"),
             c("Autosomal dominant inheritance", 8.5, 0.60, 1, "tetralogy-and-glaucoma"),
             c("eye pain", 7.5, 0.75, 3, "angle-closure")]
    ranked = best_distinct(score_candidates(cands, CAL), 10)
    assert [s.candidate.text for s in list_answer(ranked, CAL.threshold)] == [
        "slowly lose their side vision", "halos", "eye pain"]
    everything = [s.candidate.text for s in list_answer(ranked, CAL.threshold, min_relative_relevance=0.0)]
    assert "Autosomal dominant inheritance" in everything
    # Without document ids (gold passages in `eval reader --question-type list`), equal relevance keeps all.
    plain = [Candidate(t, 0.0, 0.9, i, 0.0, 1.0) for i, t in enumerate(["a1", "b2", "c3"])]
    assert len(list_answer(score_candidates(plain, None), 0.5)) == 3


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
def test_reranked_answers_are_calibrated_on_the_key_the_hits_were_ordered_by():
    """pipeline.calibrate: for reranked hits the relevance feature is Hit.rerank_blend (the
    reranker's calibrated relevance interpolated with the first-stage score), fitted with the
    span score; the right answer ranks first when that key carries the signal, and the
    calibration round-trips through its JSON form."""
    import random

    from pipeline.calibrate import Row, fit_logistic, top1
    from pipeline.engine import answer_candidates
    from reader.types import Answer
    from retriever.types import Hit
    from store.types import Passage

    p = Passage("c", "d", 0, "text", 0, 4)
    hit = Hit(p, 0.4, rerank_score=3.0, rerank_probability=0.9, rerank_blend=0.75)
    (cand,) = answer_candidates([(Answer("a", 7.0, 0.5, p, 0, 1),)], [hit])
    assert cand.relevance_feature == 0.75 and cand.relevance == 0.9
    assert cand.doc_id == "d"  # list_answer's same-document rule needs it
    rng = random.Random(0)
    rows = []
    for q in range(300):
        for k in range(4):
            correct = k == 0
            rows.append(Row(q, rng.gauss(5, 1), rng.gauss(0.8 if correct else 0.3, 0.1), correct))
    cal = fit_logistic(rows)
    assert cal.relevance_weight > 0
    _, right = top1(rows, cal)
    assert sum(right) / len(right) > 0.9
    assert AnswerCalibration.from_dict(cal.to_dict()) == cal


@pytest.mark.unit
def test_fragments_of_a_better_answer_from_the_same_passage_are_dropped():
    cands = [Candidate("excessive tiredness", 9.0, 0.6, 0, 0.5, 0.5),
             Candidate("excessive", 8.5, 0.5, 0, 0.5, 0.5),
             Candidate("tiredness", 8.4, 0.5, 1, 0.5, 0.5),  # another passage: its own mention stays
             Candidate("weight gain", 8.0, 0.4, 0, 0.5, 0.5)]
    texts = [s.candidate.text for s in best_distinct(score_candidates(cands, CAL), 5)]
    assert texts == ["excessive tiredness", "tiredness", "weight gain"]


@pytest.mark.unit
def test_reranker_relevance_labels_for_qa_and_judged_document_sets(tmp_path):
    """pipeline.calibrate pools two kinds of relevance for the reranker's Platt fit: a QA item's
    passage is relevant when it holds a gold answer, a BEIR query's when its document is judged."""
    from pipeline.calibrate import answer_relevance, document_relevance
    from pipeline.evaluation.datasets import QAItem, RetrievalDataset
    from retriever.types import Hit
    from store.types import Passage

    def hit(doc: str, text: str) -> Hit:
        return Hit(Passage(f"{doc}#0", doc, 0, text, 0, len(text)), 0.5)

    item = QAItem(id="q1", question="What treats gout?", answers=("Colchicine",), contexts=())
    ((question, relevant),) = answer_relevance([item])
    assert question == "What treats gout?"
    assert relevant(hit("a", "colchicine and NSAIDs treat attacks")) and not relevant(hit("b", "asthma inhalers"))
    ds = RetrievalDataset(tmp_path, "0" * 64, {"m1": "How is gout treated?"}, {"m1": {"gout-doc": 1, "other": 0}})
    ((question, relevant),) = document_relevance(ds)
    assert question == "How is gout treated?"
    assert relevant(hit("gout-doc", "x")) and not relevant(hit("other", "x")) and not relevant(hit("z", "x"))


@pytest.mark.unit
def test_overlapping_spans_of_one_passage_keep_only_the_best():
    # "How is shingles treated?": the reader's n-best of one passage holds "Treatment with numbing
    # patches", "with numbing patches" and "numbing patches relieve pain" (overlapping variants of one
    # answer); only the best is listed; a span elsewhere in the passage and the same words in another
    # passage stay.
    cands = [Candidate("Treatment with numbing patches", 9.0, 0.6, 0, 0.5, 0.5, start=10, end=40),
             Candidate("with numbing patches", 8.9, 0.5, 0, 0.5, 0.5, start=20, end=40),
             Candidate("numbing patches relieve pain", 8.8, 0.5, 0, 0.5, 0.5, start=28, end=56),
             Candidate("antiviral drugs", 8.5, 0.5, 0, 0.5, 0.5, start=80, end=95),
             Candidate("numbing patches relieve pain", 8.0, 0.5, 1, 0.5, 0.5, start=0, end=28)]
    texts = [(s.candidate.text, s.candidate.hit_index) for s in best_distinct(score_candidates(cands, CAL), 5)]
    assert texts == [("Treatment with numbing patches", 0), ("antiviral drugs", 0),
                     ("numbing patches relieve pain", 1)]
    # Offsets unknown (-1): nothing is suppressed as overlapping.
    assert not Candidate("a", 1, 0.5, 0, 0.5, 0.5).overlaps(Candidate("b", 1, 0.5, 0, 0.5, 0.5))


@pytest.mark.unit
def test_top_answer_probability_is_rescaled_on_top_answers_without_changing_their_order():
    """The candidate-level fit overstates the shown (maximum) answer's probability; fit_top1
    Platt-rescales the logit on each question's top candidate: the top answers' ECE drops, the
    order of every candidate stays, and old calibration files (no top_* keys) read as before."""
    import random

    from pipeline.calibrate import Row, fit_logistic, fit_top1, top1
    from pipeline.evaluation.metrics import expected_calibration_error

    rng = random.Random(1)
    rows = []
    for q in range(400):
        right = rng.random() < 0.4  # 40 % of questions have their right answer among 6 candidates
        for k in range(6):
            rows.append(Row(q, rng.gauss(6 if (right and k == 0) else 5, 1.2), rng.gauss(0.5, 0.2), right and k == 0))
    base = fit_logistic(rows)
    rescaled = fit_top1(rows, base)
    assert rescaled.top_scale > 0 and (rescaled.top_scale, rescaled.top_bias) != (1.0, 0.0)
    p0, c0 = top1(rows, base)
    p1, c1 = top1(rows, rescaled)
    assert c0 == c1  # same top answers
    assert expected_calibration_error(p1, c1) < expected_calibration_error(p0, c0)
    pairs = [(r.span_score, r.relevance) for r in rows[:50]]
    order = sorted(range(50), key=lambda i: base.probability(*pairs[i]))
    assert order == sorted(range(50), key=lambda i: rescaled.probability(*pairs[i]))
    assert AnswerCalibration.from_dict(rescaled.to_dict()) == rescaled
    old = {k: v for k, v in base.to_dict().items() if not k.startswith("top_")}
    assert AnswerCalibration.from_dict(old) == base
    with pytest.raises(Exception, match="top_scale"):
        AnswerCalibration(1.0, 1.0, 0.0, 0.5, top_scale=-1.0)


def test_each_candidate_is_scored_by_the_calibration_of_its_passage_source():
    """Session 10: on consumer-health pages the literature-fitted probability said ~0.35 where
    answers were right 3 times in 4, so MedQuAD passages get their own fit; other sources keep
    the literature one, and a prefix covers the collections below it."""
    from pipeline.ranking import CalibrationSet

    consumer = AnswerCalibration(span_weight=0.3, relevance_weight=1.0, bias=-1.0, threshold=0.5)
    cals = CalibrationSet(CAL, (("MedQuAD", consumer),))
    fit = lambda src: cals.named_for_source(src)[1]  # noqa: E731
    assert fit("MedQuAD/CDC") is consumer and fit("MedQuAD") is consumer
    assert fit("MedQuADx/CDC") is CAL and fit("") is CAL
    gard = AnswerCalibration(span_weight=0.3, relevance_weight=1.0, bias=0.0, threshold=0.5)
    nested = CalibrationSet(CAL, (("MedQuAD", consumer), ("MedQuAD/GARD", gard)))
    assert nested.named_for_source("MedQuAD/GARD") == ("MedQuAD/GARD", gard)  # the most specific prefix
    assert nested.named_for_source("MedQuAD/CDC") == ("MedQuAD", consumer)
    same = dict(text="x", span_score=8.0, reader_probability=0.5, hit_index=0, relevance_feature=1.0, relevance=0.5)
    lit, med = (Candidate(**same, source=s) for s in ("PubMed", "MedQuAD/NIDDK"))
    assert [s.probability for s in score_candidates([med], cals)] == [consumer.probability(8.0, 1.0)]
    assert [s.probability for s in score_candidates([lit], cals)] == [CAL.probability(8.0, 1.0)]
    assert CAL.probability(8.0, 1.0) < 0.5 < consumer.probability(8.0, 1.0)
    assert [s.calibration for s in score_candidates([med], cals)] == ["MedQuAD"]
    assert [s.calibration for s in score_candidates([lit], cals)] == ["literature"]
    assert [s.calibration for s in score_candidates([lit], None)] == ["uncalibrated"]
    assert score_candidates([lit], CalibrationSet(None, (("MedQuAD", consumer),)))[0].probability == 0.5 * 0.5


def test_calibration_sets_read_from_calibration_json_blocks():
    from pipeline.ranking import CalibrationSet

    block = {"rerank_blend": CAL.to_dict(), "by_source": {"MedQuAD": {"rerank_blend": CAL.to_dict(), "fitted_on": {}}}}
    cals = CalibrationSet.from_dict(block, "rerank_blend")
    assert cals.default == CAL and [p for p, _ in cals.by_source] == ["MedQuAD"] and cals.threshold == 0.5
    assert CalibrationSet.from_dict(block, "retrieval") is None
    assert CalibrationSet.from_dict({}, "rerank_blend") is None


def test_pattern_questions_load_judge_and_name_a_bad_line(tmp_path):
    from pipeline.evaluation.datasets import load_pattern_questions
    from pipeline.evaluation.errors import DatasetFormatError

    good = tmp_path / "q.jsonl"
    good.write_text('{"question": "What treats gout?", "answer_pattern": "colchicine|NSAID", "kind": "treatment"}\n\n')
    [q] = load_pattern_questions(good)
    assert q.judge("Colchicine tablets") and not q.judge("rest") and not q.judge("") and q.kind == "treatment"
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "What treats gout?", "answer_pattern": "colchicine|NSAID"}\n'
                   '{"question": "What causes gout?", "answer_pattern": "uric (acid"}\n')
    with pytest.raises(DatasetFormatError, match="line 2.*not a valid regular expression"):
        load_pattern_questions(bad)
    bad.write_text('{"question": "What causes gout?"}\n')
    with pytest.raises(DatasetFormatError, match="line 1.*answer_pattern"):
        load_pattern_questions(bad)


def test_one_fit_scores_all_of_a_question_s_answers_chosen_by_where_the_best_one_comes_from():
    """Fresh-clone check, session 10: in an index of MedQuAD plus a user's own guideline, scoring each
    answer by its own source's fit put "open-angle glaucoma has no symptoms" (MedQuAD, relevance
    feature 0.1) above "sudden severe eye pain" (the guideline, 0.9) on the MedQuAD fit's higher base
    rate. Now the literature fit ranks the guideline's answer first, so its fit scores every answer:
    the order and the probabilities agree."""
    from pipeline.ranking import CalibrationSet

    consumer = AnswerCalibration(span_weight=0.3, relevance_weight=1.0, bias=-2.0, threshold=0.5)
    cals = CalibrationSet(CAL, (("MedQuAD", consumer),))
    medquad = Candidate("open-angle glaucoma has no symptoms", 12.0, 0.6, 1, 0.1, 0.12, source="MedQuAD/NEI")
    guideline = Candidate("sudden severe eye pain", 10.0, 0.6, 0, 0.9, 0.45, source="local")
    assert consumer.probability(12.0, 0.1) > CAL.probability(10.0, 0.9)  # per-source scoring would invert them
    ranked = best_distinct(score_candidates([medquad, guideline], cals), 5)
    assert [s.candidate.text for s in ranked] == ["sudden severe eye pain", "open-angle glaucoma has no symptoms"]
    assert {s.calibration for s in ranked} == {"literature"}
    assert ranked[0].probability > ranked[1].probability
    # Where the best answer is a MedQuAD one, the MedQuAD fit scores them all.
    weak = Candidate("eye pain", 6.0, 0.6, 0, 0.2, 0.2, source="local")
    scored = score_candidates([medquad, weak], cals)
    assert [s.calibration for s in scored] == ["MedQuAD", "MedQuAD"]
    assert scored[1].probability == consumer.probability(6.0, 0.2)


def test_a_calibration_refit_keeps_what_it_did_not_refit():
    """Fresh-clone check, session 10: a literature refit dropped every source's fit, and a
    --source-set fit without --reranker dropped that source's rerank_blend fit."""
    from pipeline.calibrate import merge_open_domain

    old = {"rerank_blend": {"bias": 1}, "retrieval": {"bias": 2}, "fitted_on": {"q": 450},
           "by_source": {"MedQuAD": {"rerank_blend": {"bias": 3}, "retrieval": {"bias": 4},
                                     "fitted_on": {"questions": 100, "rerank_blend": {"ece": 6}}}}}
    lit = merge_open_domain(old, {"rerank_blend": {"bias": 5}, "retrieval": {"bias": 6}}, {"q": 451})
    assert lit["rerank_blend"] == {"bias": 5} and lit["fitted_on"] == {"q": 451}
    assert lit["by_source"] == old["by_source"]
    src = merge_open_domain(old, {"by_source": {"MedQuAD": {"retrieval": {"bias": 7}, "fitted_on": {"questions": 90}}}},
                            None)
    assert src["rerank_blend"] == {"bias": 1} and src["fitted_on"] == {"q": 450}
    assert src["by_source"]["MedQuAD"]["rerank_blend"] == {"bias": 3}
    assert src["by_source"]["MedQuAD"]["retrieval"] == {"bias": 7}
    assert src["by_source"]["MedQuAD"]["fitted_on"] == {"questions": 90, "rerank_blend": {"ece": 6}}
    assert "by_source" not in merge_open_domain({}, {"rerank_blend": {}}, {})
