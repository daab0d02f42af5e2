"""tasks.export and the ONNX runtime of NerTagger / Classifier, on tiny random models:
files written, fp16 weights load back, ONNX (fp32 exactly, int8 closely) agrees with
PyTorch, and the public API gives the same spans / labels with either backend."""
import json

import numpy as np
import pytest

from tasks.classify import ClassDataset, ClassExample, Classifier, evaluate_classify
from tasks.errors import TaskError
from tasks.export import _compare, export_sequence_classifier, export_task_model, export_token_classifier, fp32_matmuls, main
from tasks.ner import NerSentence, NerTagger, evaluate_ner
from tasks.runtime import ONNX_FP32_FILE, ONNX_INT8_FILE, resolve_backend
from tasks.testing import make_tiny_sequence_classifier, make_tiny_token_classifier

pytestmark = pytest.mark.integration

TEXTS = [
    "Naloxone reverses the antihypertensive effect of clonidine in hypertensive rats.",
    "Cisplatin nephrotoxicity; ovarian cancer. Lithium toxicity presenting as tremor and ataxia.",
    "Fever.",
]
SENTS = [
    NerSentence(("Naloxone", "reverses", "hypertension", "."), ("B-Chemical", "O", "B-Disease", "O")),
    NerSentence(("Aspirin", "caused", "gastric", "bleeding", "."), ("B-Chemical", "O", "B-Disease", "I-Disease", "O")),
]


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    d = tmp_path_factory.mktemp("export")
    ner_run = make_tiny_token_classifier(d / "runs" / "ner", seed=1, head_scale=3.0)
    (ner_run / "metrics.json").write_text('{"best": {"f1": 1.0}}\n')
    (ner_run / "checkpoint").mkdir()
    (ner_run / "checkpoint" / "state.pt").write_bytes(b"x")
    cls_run = make_tiny_sequence_classifier(d / "runs" / "cls", seed=2, head_scale=3.0)
    ner_rep = export_token_classifier(ner_run, d / "models" / "ner")
    cls_rep = export_sequence_classifier(cls_run, d / "models" / "classifier")
    return {"ner_run": ner_run, "cls_run": cls_run, "ner": d / "models" / "ner", "cls": d / "models" / "classifier",
            "ner_rep": ner_rep, "cls_rep": cls_rep}


def _fp16_safetensors(path):
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return {str(f.get_tensor(k).dtype) for k in f.keys()}


def test_files_written_and_fp16_weights(exported):
    for key in ("ner", "cls"):
        out = exported[key]
        names = {p.name for p in out.iterdir()}
        assert {ONNX_INT8_FILE, "model.safetensors", "config.json", "tokenizer.json", "tokenizer_config.json",
                "task.json", "export.json"} <= names
        assert ONNX_FP32_FILE not in names and "checkpoint" not in names
        assert _fp16_safetensors(out / "model.safetensors") == {"torch.float16"}
        assert json.loads((out / "config.json").read_text())["dtype"] == "float16"
        assert not any(p.name.startswith(".") for p in out.parent.iterdir())  # staging folder removed
    assert (exported["ner"] / "metrics.json").is_file()
    assert json.loads((exported["ner"] / "task.json").read_text())["task"] == "ner"
    rep = json.loads((exported["ner"] / "export.json").read_text())
    assert rep["kind"] == "ner" and rep["quantization"]["per_channel"] is True
    assert "/m/classifier/MatMul" in rep["quantization"]["fp32_node_names"]
    assert exported["ner_rep"]["files_mb"][ONNX_INT8_FILE] > 0


@pytest.mark.parametrize("key", ["ner_rep", "cls_rep"])
def test_verification_report(exported, key):
    v = exported[key]["verify"]
    assert v["onnx_fp32"]["max_abs_logit_diff"] < 1e-3 and v["onnx_fp32"]["prediction_agreement"] == 1.0
    assert v["onnx_int8"]["prediction_agreement"] >= 0.9 and v["onnx_int8"]["max_abs_prob_diff"] < 0.2
    assert v["safetensors_fp16"]["max_abs_logit_diff"] < 0.05 and v["safetensors_fp16"]["prediction_agreement"] >= 0.95


def test_ner_tagger_onnx_matches_torch(exported):
    onnx = NerTagger(exported["ner"], max_seq_len=16, threads=1)  # short windows: several chunks per text
    torch_ = NerTagger(exported["ner"], max_seq_len=16, backend="torch")
    assert onnx.backend_used is None
    a, b = onnx.tag(TEXTS), torch_.tag(TEXTS)
    assert onnx.backend_used == f"onnx:{ONNX_INT8_FILE}" and torch_.backend_used == "torch"
    spans_a = {(i, e.start, e.end, e.label) for i, ents in enumerate(a) for e in ents}
    spans_b = {(i, e.start, e.end, e.label) for i, ents in enumerate(b) for e in ents}
    assert spans_b and len(spans_a & spans_b) >= 0.8 * len(spans_a | spans_b)
    for i, ents in enumerate(a):
        assert all(TEXTS[i][e.start : e.end] == e.text and 0 < e.score <= 1 for e in ents)
    # the original fp32 run directory has no ONNX file: torch by default
    plain = NerTagger(exported["ner_run"])
    plain.warm_up()
    assert plain.backend_used == "torch"
    assert [[(e.start, e.end, e.label) for e in x] for x in plain.tag(TEXTS)] == \
           [[(e.start, e.end, e.label) for e in x] for x in NerTagger(exported["ner"], backend="torch").tag(TEXTS)]


def test_evaluate_ner_backends_agree(exported):
    r_onnx = evaluate_ner(exported["ner"], SENTS, backend="onnx")
    r_torch = evaluate_ner(exported["ner"], SENTS, backend="torch")
    assert set(r_onnx) == {"precision", "recall", "f1", "n", "per_type"}
    assert abs(r_onnx["f1"] - r_torch["f1"]) <= 20.0  # 2 sentences: one entity is 10+ points


def test_classifier_onnx_matches_torch(exported):
    a = Classifier(exported["cls"], threads=1)
    b = Classifier(exported["cls"], backend="torch")
    pa, pb = a.predict(TEXTS), b.predict(TEXTS)
    assert a.backend_used == f"onnx:{ONNX_INT8_FILE}" and b.backend_used == "torch"
    assert [p[0][0] for p in pa] == [p[0][0] for p in pb]
    assert all(abs(x[0][1] - y[0][1]) < 0.05 for x, y in zip(pa, pb))
    assert a.labels == ["C04", "C14", "C23"] and a.multi_label is False
    ds = ClassDataset(tuple(ClassExample(t, (p[0][0],)) for t, p in zip(TEXTS, pb)), False)
    assert evaluate_classify(exported["cls"], ds, backend="onnx")["accuracy"] == 100.0
    assert evaluate_classify(exported["cls"], ds, backend="torch")["accuracy"] == 100.0


def test_backend_resolution_and_errors(exported, tmp_path):
    assert resolve_backend(exported["ner"], None) == "onnx"
    assert resolve_backend(exported["ner_run"], None) == "torch"
    with pytest.raises(TaskError, match="has no model_int8.onnx") as ei:
        resolve_backend(exported["ner_run"], "onnx")
    assert "tasks.export" in ei.value.hint
    with pytest.raises(TaskError, match="unknown backend"):
        NerTagger(exported["ner"], backend="tensorrt")
    with pytest.raises(TaskError, match="not a classifier"):
        Classifier(exported["ner"]).warm_up()
    with pytest.raises(TaskError, match="holds no model"):
        NerTagger(tmp_path).tag(["x"])


def test_export_refusals_leave_out_untouched(exported, tmp_path, monkeypatch):
    with pytest.raises(TaskError, match="holds no model"):
        export_task_model(tmp_path / "none", tmp_path / "out")
    with pytest.raises(TaskError, match="is a ner model, not classify"):
        export_sequence_classifier(exported["ner_run"], tmp_path / "out")
    with pytest.raises(TaskError, match="unknown fp32 node set"):
        export_task_model(exported["ner_run"], tmp_path / "out", fp32_nodes="some")
    assert not (tmp_path / "out").exists()

    import tasks.export as ex

    real = ex.OnnxTaskModel.logits
    monkeypatch.setattr(ex.OnnxTaskModel, "logits", lambda self, i, a: real(self, i, a) + 1.0)
    out = tmp_path / "broken"
    out.mkdir()
    (out / "MODEL_CARD.md").write_text("kept")
    with pytest.raises(TaskError, match="fp32 ONNX export disagrees"):
        export_task_model(exported["cls_run"], out)
    assert [p.name for p in out.iterdir()] == ["MODEL_CARD.md"]
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())


def test_cli_in_place_keep_fp32_and_fp32_node_sets(exported, tmp_path, capsys):
    import shutil

    run = tmp_path / "run"
    shutil.copytree(exported["cls_run"], run)
    assert main(["--model", str(run), "--keep-fp32-onnx", "--no-fp16", "--fp32-nodes", "head"]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["kind"] == "classify" and rep["out"] == str(run)
    assert (run / ONNX_FP32_FILE).is_file() and (run / ONNX_INT8_FILE).is_file()
    assert _fp16_safetensors(run / "model.safetensors") == {"torch.float32"}
    assert sorted(fp32_matmuls(run / ONNX_FP32_FILE, "head")) == ["/m/bert/pooler/dense/Gemm", "/m/classifier/Gemm"]
    assert fp32_matmuls(run / ONNX_FP32_FILE, "none") == []
    assert len(fp32_matmuls(run / ONNX_FP32_FILE, "ffn-head")) == 4  # 2 layers' FFN output + pooler + classifier
    probs = Classifier(run, backend="onnx").predict(TEXTS)  # the int8 file wins over the fp32 one
    assert len(probs) == 3 and Classifier(run).backend is None
    assert main(["--model", str(tmp_path / "nothing")]) == 1
    assert "holds no model" in capsys.readouterr().err


def test_onnx_logits_match_torch_on_padded_batch(exported):
    from tasks.runtime import batch_logits, load_task_model, pad_ids

    tok, onnx_model = load_task_model(exported["ner"], "ner")
    _, torch_model = load_task_model(exported["ner"], "ner", backend="torch")
    enc = tok(TEXTS)
    ids, am = pad_ids([{"input_ids": x} for x in enc["input_ids"]], tok.pad_token_id)
    a, b = batch_logits(onnx_model, ids, am), batch_logits(torch_model, ids, am)
    assert a.shape == b.shape == (3, ids.shape[1], 5) and a.dtype == np.float32
    sel = am.astype(bool)
    assert (a.argmax(-1) == b.argmax(-1))[sel].mean() >= 0.9


def test_cli_onnx_only_with_label_names(exported, tmp_path, capsys):
    names = tmp_path / "names.json"
    names.write_text(json.dumps({"C04": "Neoplasms", "C14": "Cardiovascular Diseases"}))
    out = tmp_path / "classifier"
    assert main(["--model", str(exported["cls_run"]), "--out", str(out), "--onnx-only", "--label-names", str(names)]) == 0
    capsys.readouterr()
    assert (out / ONNX_INT8_FILE).is_file() and not (out / "model.safetensors").exists()
    assert json.loads((out / "task.json").read_text())["label_names"]["C14"] == "Cardiovascular Diseases"
    # the shipped form runs on ONNX alone, and the index-time annotator shows the names
    from indexer.annotate import label_names

    assert label_names(out)["C04"] == "Neoplasms"
    assert Classifier(out).predict(["Aspirin after myocardial infarction."])[0]
    with pytest.raises(TaskError, match="model.safetensors|PyTorch|weights|no model"):
        Classifier(out, backend="torch").predict(["x"])
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    assert main(["--model", str(exported["cls_run"]), "--out", str(tmp_path / "c2"), "--label-names", str(bad)]) == 1
    assert "cannot read label names" in capsys.readouterr().err


def test_a_one_logit_model_is_compared_as_a_sigmoid():
    """A reranker's single relevance logit: the probability difference and the decision agreement are
    measured on sigmoid(logit); a softmax over one logit is always 1 and hid a 3.7-logit drift."""
    ref = np.array([[2.0], [-1.0], [0.5]])
    got = np.array([[2.0], [1.0], [0.5]])  # the second text crosses the 0.5 decision
    out = _compare(ref, got, np.ones((3, 4)), "classify", multi_label=False)
    assert out["max_abs_logit_diff"] == 2.0
    assert abs(out["max_abs_prob_diff"] - (1 / (1 + np.exp(-1.0)) - 1 / (1 + np.exp(1.0)))) < 1e-6
    assert abs(out["prediction_agreement"] - 2 / 3) < 1e-4
