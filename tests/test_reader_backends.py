"""ExtractiveReader on a tiny random BERT: ONNX == torch, windows over long passages,
errors with hints, calibration file use. No downloads."""
import json

import numpy as np
import pytest

from reader.config import ReaderConfig
from reader.errors import ReaderConfigError, ReaderModelError
from reader.export import export_reader
from reader.reader import ExtractiveReader, ReaderOutput
from reader.testing import make_tiny_qa_model
from store.types import Passage

pytestmark = pytest.mark.integration


def _p(i, text):
    return Passage(chunk_id=f"c{i}", doc_id=f"d{i}", order=0, text=text, start=100 * i, end=100 * i + len(text))


PASSAGES = [
    _p(0, "Fever and dry cough are the most common symptoms of the disease."),
    _p(1, "The incubation period is about five days in most patients, up to fourteen."),
    _p(2, "ACE2 is the receptor used by the virus to enter human cells."),
]
QUESTIONS = ["What are common symptoms?", "How long is the incubation period?", "Which receptor?"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = make_tiny_qa_model(tmp_path_factory.mktemp("reader") / "m", seed=1)
    info = export_reader(d, keep_fp32_onnx=True)
    assert {"model.onnx", "model_int8.onnx"} <= set(info["files_mb"])
    return d


def test_int8_graph_keeps_sensitive_matmuls_fp32(model_dir):
    import onnx

    ops = {n.name: n.op_type for n in onnx.load(str(model_dir / "model_int8.onnx")).graph.node}
    assert any("qa_outputs" in k and v == "MatMul" for k, v in ops.items())
    assert any("/output/dense/" in k and "/attention/" not in k and v == "MatMul" for k, v in ops.items())
    assert sum(v == "MatMulInteger" for v in ops.values()) >= 8  # q, k, v, o, ffn-in of 2 layers


def test_float_attention_export_quantises_only_the_ffn_input(model_dir, tmp_path):
    import onnx

    from common.onnx_int8 import quantize_dynamic_int8
    from reader.export import sensitive_matmuls

    out = quantize_dynamic_int8(model_dir / "model.onnx", tmp_path / "af.onnx",
                                sensitive_matmuls(model_dir / "model.onnx", float_attention=True))
    ops = {n.name: n.op_type for n in onnx.load(str(out)).graph.node}
    quantised = [k for k, v in ops.items() if v == "MatMulInteger"]
    assert len(quantised) == 2 and all("/intermediate/" in k for k in quantised)  # ffn-in of 2 layers
    assert any("/attention/" in k and v == "MatMul" for k, v in ops.items())


def test_onnx_matches_torch(model_dir):
    torch_r = ExtractiveReader(ReaderConfig(model=str(model_dir), backend="torch", top_k=3))
    onnx_r = ExtractiveReader(ReaderConfig(model=str(model_dir), backend="onnx", quantized=False, top_k=3))
    torch_r.warm_up()
    onnx_r.warm_up()
    assert "onnx:model.onnx" in onnx_r.describe() and "torch" in torch_r.describe()
    for q in QUESTIONS:
        a, b = torch_r.read(q, PASSAGES), onnx_r.read(q, PASSAGES)
        assert [x.text for x in a.answers] == [x.text for x in b.answers]
        assert [x.passage.chunk_id for x in a.answers] == [x.passage.chunk_id for x in b.answers]
        # fp16 weights on disk vs fp32 ONNX graph: tiny numeric drift only
        np.testing.assert_allclose([x.score for x in a.answers], [x.score for x in b.answers], atol=1e-2)
    # int8 runs and returns well-formed answers
    q8 = ExtractiveReader(ReaderConfig(model=str(model_dir), backend="onnx", top_k=2))
    out = q8.read(QUESTIONS[0], PASSAGES)
    assert "model_int8.onnx" in q8.describe() and len(out.answers) == 2


def test_answers_are_well_formed(model_dir):
    r = ExtractiveReader(ReaderConfig(model=str(model_dir), backend="torch", top_k=5))
    out = r.read(QUESTIONS[1], PASSAGES)
    assert isinstance(out, ReaderOutput) and 0 < len(out.answers) <= 5
    for a in out.answers:
        assert a.passage.text[a.start : a.end] == a.text
        assert a.doc_start == a.passage.start + a.start
        assert 0.0 <= a.probability <= 1.0
    # default merge="support": ordered by evidence summed over passages
    assert all(x.support >= y.support for x, y in zip(out.answers, out.answers[1:]))
    assert all(0.0 < a.support <= len(PASSAGES) for a in out.answers)
    best = ExtractiveReader(ReaderConfig(model=str(model_dir), backend="torch", top_k=5, merge="best"))
    ranked = best.read(QUESTIONS[1], PASSAGES).answers
    assert all(x.score >= y.score for x, y in zip(ranked, ranked[1:]))
    assert {a.text for a in ranked} <= {c.text for c in best.read(QUESTIONS[1], PASSAGES, top_k=50).answers}
    assert r.read("   ", PASSAGES).answers == () and r.read("q", []).answers == ()


def test_long_passage_read_in_windows_answer_near_end(model_dir, monkeypatch):
    r = ExtractiveReader(ReaderConfig(model=str(model_dir), backend="torch", max_seq_len=64, doc_stride=16))
    r.warm_up()
    tok = r._tokenizer
    fever_id = tok.convert_tokens_to_ids("fever")
    text = " ".join(["the patient was stable overnight"] * 60) + " and then developed fever ."
    long_p = _p(7, text)
    seen_windows = []
    real = r._logits_fn

    def favour_fever(batch):
        s, e = real(batch)
        seen_windows.append(batch["input_ids"].shape[0])
        hit = batch["input_ids"] == fever_id
        return np.where(hit, 50.0, s), np.where(hit, 50.0, e)

    monkeypatch.setattr(r, "_logits_fn", favour_fever)
    out = r.read("What developed?", [PASSAGES[2], long_p])
    assert sum(seen_windows) > 5  # the long passage was split, not truncated
    best = out.answers[0]
    assert best.text == "fever" and best.passage.chunk_id == "c7"
    assert best.start == text.index("fever")


def test_missing_model_and_non_qa_model_errors(tmp_path):
    with pytest.raises(ReaderModelError) as err:
        ExtractiveReader(ReaderConfig(model=str(tmp_path / "nope"))).warm_up()
    assert "train reader" in err.value.hint
    (tmp_path / "empty").mkdir()
    with pytest.raises(ReaderModelError):
        ExtractiveReader(ReaderConfig(model=str(tmp_path / "empty"))).warm_up()
    from reader.testing import minilm_path

    with pytest.raises(ReaderModelError) as err:  # a base encoder, no QA head
        ExtractiveReader(ReaderConfig(model=minilm_path(), backend="torch")).warm_up()
    assert "span head" in err.value.hint
    with pytest.raises(ReaderConfigError):
        ReaderConfig(backend="tf")
    with pytest.raises(ReaderConfigError):
        ReaderConfig(max_seq_len=128, doc_stride=100)


def test_onnx_falls_back_to_torch_and_calibration_file(tmp_path, caplog):
    d = make_tiny_qa_model(tmp_path / "m2")
    (d / "calibration.json").write_text(json.dumps({"temperature": 2.0, "bias": -1.0, "no_answer_threshold": 0.3}))
    r = ExtractiveReader(ReaderConfig(model=str(d), backend="onnx"))
    r.warm_up()
    assert "torch" in r.describe() and any("falling back" in m for m in caplog.messages)
    out = r.read(QUESTIONS[0], PASSAGES)
    assert out.no_answer_threshold == 0.3
    a = out.answers[0]
    assert a.probability == pytest.approx(1 / (1 + np.exp(-(a.score / 2.0 - 1.0))))
    assert out.confident == (a.probability >= 0.3)


def test_fp32_weights_stored_as_fp16_compute_the_same(model_dir, tmp_path):
    """common.onnx_int8.store_fp32_weights_as_fp16: the int8 file's fp32 weights become fp16 + Cast;
    the answers and scores stay those of the fp32-stored graph (fp16 rounding only)."""
    import shutil

    import onnx

    from common.onnx_int8 import store_fp32_weights_as_fp16

    d = tmp_path / "m"
    shutil.copytree(model_dir, d)
    (d / "model.onnx").unlink()
    before = ExtractiveReader(ReaderConfig(model=str(d), backend="onnx", top_k=3))
    ref = [before.read(q, PASSAGES).answers for q in QUESTIONS]
    assert store_fp32_weights_as_fp16(d / "model_int8.onnx", min_elements=1) > 0
    graph = onnx.load(str(d / "model_int8.onnx")).graph
    assert not [i.name for i in graph.initializer if i.data_type == onnx.TensorProto.FLOAT and len(i.dims) > 1]
    assert any(n.op_type == "Cast" for n in graph.node)
    after = ExtractiveReader(ReaderConfig(model=str(d), backend="onnx", top_k=3))
    for q, a in zip(QUESTIONS, ref):
        b = after.read(q, PASSAGES).answers
        assert [x.text for x in a] == [x.text for x in b]
        np.testing.assert_allclose([x.score for x in a], [x.score for x in b], atol=1e-2)


def test_export_without_torch_weights_ships_only_onnx_and_still_reads(tmp_path):
    d = make_tiny_qa_model(tmp_path / "m", seed=2)
    info = export_reader(d, torch_weights=False)
    assert "model_int8.onnx" in info["files_mb"] and "model.safetensors" not in info["files_mb"]
    r = ExtractiveReader(ReaderConfig(model=str(d), backend="onnx", top_k=2))
    assert len(r.read(QUESTIONS[0], PASSAGES).answers) == 2
