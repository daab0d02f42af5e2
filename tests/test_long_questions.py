"""A question longer than the reader's budget is read as its last sentence (or head + tail when
that sentence alone is too long), and the output says so."""
import pytest

from reader.features import make_windows
from store.questions import fit_question, question_budget
from reader.testing import minilm_path

pytestmark = pytest.mark.unit


@pytest.fixture(scope="module")
def tok():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(minilm_path())


def test_short_question_is_read_whole(tok):
    fit = fit_question(tok, "What causes gout?", 384)
    assert not fit.truncated and fit.text == "What causes gout?" and fit.head == fit.tokens


def test_case_history_keeps_the_question_at_its_end(tok):
    history = " ".join(f"Day {i}: the patient had fever, cough and a normal chest film." for i in range(40))
    q = history + " What is the most likely causative organism?"
    fit = fit_question(tok, q, 384)
    assert fit.truncated and fit.tokens > question_budget(384)
    assert fit.head + fit.tail <= question_budget(384)
    assert fit.text == "What is the most likely causative organism?" and fit.head == 0


def test_a_short_last_sentence_takes_the_one_before_it(tok):
    history = " ".join(f"Day {i}: the patient had fever, cough and a normal chest film." for i in range(40))
    fit = fit_question(tok, history + " Day 41: a rash appeared on both hands. Why?", 384)
    assert fit.text == "Day 41: a rash appeared on both hands. Why?"


def test_one_long_sentence_is_read_as_head_and_tail(tok):
    q = "Given " + ", ".join(f"finding {i} of the examination" for i in range(60)) + ", what is the diagnosis?"
    fit = fit_question(tok, q, 384)
    assert fit.truncated and fit.head > 0 and fit.text.endswith("what is the diagnosis?")
    assert fit.head + fit.tail <= question_budget(384)
    windows = make_windows(tok, [q], ["Mycoplasma pneumoniae is the most likely organism."], 384, 128)
    n_question = sum(1 for o in windows[0].offsets if o is None) - 3  # [CLS] and two [SEP]
    assert n_question <= question_budget(384)
