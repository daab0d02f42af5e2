"""Span selection from hand-made logits (no model)."""
import math

import numpy as np
import pytest

from reader.postprocess import null_score, select_spans, softmax

pytestmark = pytest.mark.unit

NEG = -10.0


def _window(n, starts=None, ends=None):
    s = np.full(n, NEG)
    e = np.full(n, NEG)
    for k, v in (starts or {}).items():
        s[k] = v
    for k, v in (ends or {}).items():
        e[k] = v
    return s, e


# passage "fever and dry cough" -> tokens: [CLS] q [SEP] fever and dry cough [SEP]
TEXT = "fever and dry cough"
OFFS = [None, None, None, (0, 5), (6, 9), (10, 13), (14, 19), None]


def test_best_span_and_score():
    s, e = _window(8, {5: 3.0, 3: 1.0}, {6: 2.0, 3: 0.5})
    cands = select_spans([s], [e], [OFFS], [0], [TEXT], n_best=5)
    assert cands[0].text == "dry cough"
    assert cands[0].score == pytest.approx(5.0)
    assert (cands[0].start, cands[0].end) == (10, 19)
    # sorted best first
    assert all(a.score >= b.score for a, b in zip(cands, cands[1:]))


def test_never_in_question_or_special_tokens():
    s, e = _window(8, {1: 50.0, 0: 40.0, 4: 1.0}, {2: 50.0, 0: 40.0, 4: 1.0})
    cands = select_spans([s], [e], [OFFS], [0], [TEXT])
    assert cands and cands[0].text == "and"


def test_end_before_start_and_max_length():
    s, e = _window(8, {6: 5.0, 3: 1.0}, {3: 5.0, 6: 0.0})
    cands = select_spans([s], [e], [OFFS], [0], [TEXT], max_answer_tokens=30)
    texts = [c.text for c in cands]
    assert "cough" in texts and "fever" in texts
    assert all(c.end > c.start for c in cands)
    # the long span fever..cough (4 tokens) is dropped when max_answer_tokens=3
    s, e = _window(8, {3: 5.0}, {6: 5.0, 4: 0.0})
    texts = [c.text for c in select_spans([s], [e], [OFFS], [0], [TEXT], max_answer_tokens=3)]
    assert "fever and dry cough" not in texts and texts[0] == "fever and"


def test_across_windows_and_passages_with_dedupe():
    # Two overlapping windows over passage 0 both contain "dry cough"; passage 1 also
    # says "Dry cough." (same normalised text): only the best occurrence is kept.
    offs_b = [None, None, (10, 13), (14, 19), None]
    w1 = _window(8, {5: 2.0}, {6: 2.0})
    w2 = _window(5, {2: 3.0}, {3: 3.0})
    text2 = "Dry cough."
    offs_c = [None, None, (0, 3), (4, 10), None]
    w3 = _window(5, {2: 1.0}, {3: 1.0})
    cands = select_spans(
        [w1[0], w2[0], w3[0]], [w1[1], w2[1], w3[1]], [OFFS, offs_b, offs_c], [0, 0, 1], [TEXT, text2]
    )
    top = cands[0]
    assert (top.passage_index, top.start, top.end, top.score) == (0, 10, 19, 6.0)
    assert top.window_index == 1
    norm_texts = [c.text.lower().strip(".") for c in cands]
    assert norm_texts.count("dry cough") == 1


def test_answer_in_later_window_wins_when_logits_favour_it():
    offs_late = [None, None, (100, 104), (105, 110), None]
    w1 = _window(8, {3: 1.0}, {3: 1.0})
    w2 = _window(5, {3: 4.0}, {3: 4.0})
    text = TEXT + " " * 81 + "late answer"
    cands = select_spans([w1[0], w2[0]], [w1[1], w2[1]], [OFFS, offs_late], [0, 0], [text], n_best=3)
    assert cands[0].start == 105 and cands[0].window_index == 1


def test_n_best_limit_and_padding_ignored():
    s = np.arange(12, dtype=float)  # logits longer than offsets (padding) are ignored
    e = np.arange(12, dtype=float)
    # top-3 starts/ends are tokens 7 (None: [SEP]), 6, 5 -> spans (6,6), (5,6), (5,5)
    cands = select_spans([s], [e], [OFFS], [0], [TEXT], n_best=3)
    assert [c.text for c in cands] == ["cough", "dry cough", "dry"]


def test_null_score_and_softmax():
    s1, e1 = _window(4, {0: 2.0}, {0: 1.0})
    s2, e2 = _window(4, {0: -1.0}, {0: 0.0})
    assert null_score([s1, s2], [e1, e2]) == -1.0
    assert null_score([], []) == -math.inf
    p = softmax([1.0, 1.0, 1.0])
    assert p == pytest.approx([1 / 3] * 3)
    assert softmax([]) == []
    assert sum(softmax([1000.0, 0.0], temperature=2.0)) == pytest.approx(1.0)


def test_mismatched_inputs_raise():
    with pytest.raises(ValueError):
        select_spans([np.zeros(3)], [], [OFFS], [0], [TEXT])


@pytest.mark.unit
def test_support_merge_prefers_answers_several_passages_agree_on():
    # passage 0 proposes "alpha" strongly; passages 1 and 2 both propose "beta" (less strongly).
    texts = ["alpha x", "gamma y", "gamma z"]
    offs = [(0, 5), (6, 7)]
    s0, e0 = [9.0, 0.0], [9.0, 0.0]
    s1, e1 = [3.0, 2.9], [3.0, 2.9]
    best = select_spans([s0, s1, s1], [e0, e1, e1], [offs] * 3, [0, 1, 2], texts, n_best=5, max_answer_tokens=1)
    assert [c.text for c in best][:2] == ["alpha", "gamma"]
    sup = select_spans([s0, s1, s1], [e0, e1, e1], [offs] * 3, [0, 1, 2], texts, n_best=5, max_answer_tokens=1,
                       merge="support")
    assert [c.text for c in sup][:2] == ["gamma", "alpha"]
    assert sup[0].support == pytest.approx(2 / (1 + math.exp(-0.2)))  # 2 passages x softmax(6.0, 5.8)[0]
    assert sup[1].support == pytest.approx(1.0, abs=1e-6)
    # one passage: support gives the same order as best score
    one = select_spans([s1], [e1], [offs], [0], ["gamma y"], n_best=5, max_answer_tokens=1, merge="support")
    assert [c.text for c in one] == [c.text for c in select_spans([s1], [e1], [offs], [0], ["gamma y"], n_best=5,
                                                                max_answer_tokens=1)]
    with pytest.raises(ValueError, match="merge"):
        select_spans([s1], [e1], [offs], [0], ["gamma y"], merge="vote")
