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


def test_an_int8_reader_warm_starts_training_as_a_float_model_directory(tmp_path):
    """`python -m reader.onnx_weights SRC --out DIR --word-embeddings-from BASE` writes a Hugging Face
    directory that `reader.train --base DIR` can load: its span logits match the int8 model's, and the
    word embeddings are the base's exactly (a reader trained with --freeze-embeddings kept them)."""
    import numpy as np
    import onnxruntime as ort
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    from reader.export import export_reader
    from reader.onnx_weights import main
    from reader.testing import make_tiny_qa_model

    base = make_tiny_qa_model(tmp_path / "base", seed=5)
    src = make_tiny_qa_model(tmp_path / "src", seed=5)
    export_reader(src, torch_weights=False)
    out = tmp_path / "warm"
    assert main([str(src), "--out", str(out), "--word-embeddings-from", str(base)]) == 0

    warm = AutoModelForQuestionAnswering.from_pretrained(out, dtype=torch.float32).eval()
    ref = AutoModelForQuestionAnswering.from_pretrained(base, dtype=torch.float32)
    assert torch.equal(warm.bert.embeddings.word_embeddings.weight, ref.bert.embeddings.word_embeddings.weight)
    enc = AutoTokenizer.from_pretrained(out)(["What causes gout?"], [PASSAGE], return_tensors="np")
    sess = ort.InferenceSession(str(src / "model_int8.onnx"))
    feeds = {i.name: enc[i.name].astype(np.int64) for i in sess.get_inputs()}
    onnx_start = sess.run(None, feeds)[0]
    with torch.no_grad():
        torch_start = warm(**{k: torch.from_numpy(v) for k, v in feeds.items()}).start_logits.numpy()
    assert np.abs(onnx_start - torch_start).max() < 0.1 * (np.abs(onnx_start).max() + 1e-6) + 0.05


def test_warm_start_errors_say_what_directory_is_needed(tmp_path, capsys):
    from reader.onnx_weights import main

    assert main([str(tmp_path / "none"), "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err
    assert "model_int8.onnx not found" in err and "python -m reader.export" in err
    assert not (tmp_path / "o").exists()
