"""A question longer than the reader's budget is read as head + tail, and the output says so."""
import pytest

from reader.features import fit_question, make_windows, question_budget
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
    assert fit.text.endswith("what is the most likely causative organism?")  # uncased tokenizer
    assert fit.text.startswith("day 0")
    windows = make_windows(tok, [q], ["Mycoplasma pneumoniae is the most likely organism."], 384, 128)
    n_question = sum(1 for o in windows[0].offsets if o is None) - 3  # [CLS] and two [SEP]
    assert n_question <= question_budget(384)
