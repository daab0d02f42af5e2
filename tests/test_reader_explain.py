"""Token attributions for an answer span (reader.explain) with a tiny random BERT."""
from __future__ import annotations

import pytest

from reader.errors import ReaderError

pytestmark = pytest.mark.integration

PASSAGE = "Gout is caused by uric acid crystals in the joints. Colchicine treats acute attacks."


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    from reader.testing import make_tiny_qa_model

    return str(make_tiny_qa_model(tmp_path_factory.mktemp("explain")))


def _check_offsets(tokens, text):
    for tok, s, e, w in tokens:
        assert text[s:e].lower() == tok.removeprefix("##")  # MiniLM's uncased word pieces
        assert -1.0 <= w <= 1.0


def test_question_and_passage_tokens_with_offsets_and_weights(model_dir):
    from reader.explain import explain_answer

    question = "What causes gout?"
    start = PASSAGE.index("uric")
    q, p = explain_answer(model_dir, question, PASSAGE, start, start + len("uric acid crystals"), n_steps=4)
    assert [t.token for t in q] == ["what", "causes", "go", "##ut", "?"]
    _check_offsets(q, question)
    _check_offsets(p, PASSAGE)
    assert p[0].char_start == 0 and p[-1].char_end == len(PASSAGE)
    assert max(abs(t.weight) for t in q + p) == pytest.approx(1.0)  # scaled to the largest
    again = explain_answer(model_dir, question, PASSAGE, start, start + 4, n_steps=4)
    assert again != (q, p)  # another span, another target


def test_answer_beyond_the_first_window(model_dir):
    from reader.explain import MAX_SEQ_LEN, explain_answer

    filler = "The patient was seen in clinic and advised to rest. " * 60  # > MAX_SEQ_LEN tokens
    passage = filler + PASSAGE
    start = passage.index("Colchicine")
    _, p = explain_answer(model_dir, "What treats attacks?", passage, start, start + len("Colchicine"), n_steps=2)
    assert len(p) < MAX_SEQ_LEN and p[-1].char_end == len(passage)  # the window that holds the answer
    _check_offsets(p, passage)


def test_span_outside_the_passage_is_refused(model_dir):
    from reader.explain import explain_answer

    with pytest.raises(ReaderError, match="outside the passage"):
        explain_answer(model_dir, "q?", PASSAGE, 10, len(PASSAGE) + 5)
    with pytest.raises(ReaderError, match="outside the passage"):
        explain_answer(model_dir, "q?", PASSAGE, 5, 5)


def test_missing_model_dir_says_what_to_do(tmp_path):
    from reader.errors import ReaderModelError
    from reader.explain import explain_answer

    with pytest.raises(ReaderModelError, match="PyTorch reader weights"):
        explain_answer(str(tmp_path / "none"), "q?", PASSAGE, 0, 4)


def test_a_reader_shipped_as_int8_onnx_only_is_explained_from_dequantised_weights(tmp_path):
    """models/reader-mpnet ships only model_int8.onnx (size budget): reader.onnx_weights rebuilds every
    weight within half a quantisation step (float-kept ones exactly, up to fp16 storage), and the
    explanation then attributes like the fp32 model's."""
    import numpy as np
    import torch
    from transformers import AutoModelForQuestionAnswering

    from reader.explain import _load, explain_answer
    from reader.export import export_reader
    from reader.onnx_weights import dequantized_state
    from reader.testing import make_tiny_qa_model

    d = make_tiny_qa_model(tmp_path / "m", seed=3)
    ref = AutoModelForQuestionAnswering.from_pretrained(d, dtype=torch.float32).state_dict()
    fp32_dir = str(d)
    question, start = "What causes gout?", PASSAGE.index("uric")
    q_ref, p_ref = explain_answer(fp32_dir, question, PASSAGE, start, start + 9, n_steps=4)
    _load.cache_clear()
    export_reader(d, torch_weights=False)
    assert not (d / "model.safetensors").exists()
    state = dequantized_state(d / "model_int8.onnx")
    params = {k for k, v in ref.items() if "position_ids" not in k}
    assert params <= set(state)
    for k in params:
        ref_k = ref[k].numpy()
        step = (ref_k.max() - ref_k.min()) / 255 + 1e-3 * np.abs(ref_k).max()
        assert np.abs(state[k] - ref_k).max() <= step, k
    q, p = explain_answer(str(d), question, PASSAGE, start, start + 9, n_steps=4)
    assert [t.token for t in p] == [t.token for t in p_ref]
    corr = np.corrcoef([t.weight for t in q + p], [t.weight for t in q_ref + p_ref])[0, 1]
    assert corr > 0.9
