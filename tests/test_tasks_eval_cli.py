"""`clinqa eval ner|classify` defaults and options, and the NER / classification tables of
`clinqa eval compare`, on tiny exported models (no real model is loaded)."""
import json

import pytest

import tasks.compare
import tasks.shipped
from tasks.compare import PUBLISHED_CLASSIFY, PUBLISHED_NER, TaskRow, TaskTable, render_table
from tasks.export import export_sequence_classifier, export_token_classifier
from tasks.ner import NerSentence, write_bio
from tasks.testing import make_tiny_base
from tasks.testing import make_tiny_sequence_classifier, make_tiny_token_classifier
from ui.cli import main

SENTS = [
    NerSentence(("Naloxone", "reverses", "hypertension", "."), ("B-Chemical", "O", "B-Disease", "O")),
    NerSentence(("Aspirin", "caused", "gastric", "bleeding", "."), ("B-Chemical", "O", "B-Disease", "I-Disease", "O")),
]
DOCS = [("chest pain and angina", "C14"), ("breast tumour", "C04"), ("heart failure", "C14"), ("lymphoma", "C04")]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalcli")
    base = make_tiny_base(d / "base")
    ner_run = make_tiny_token_classifier(d / "ner-run", seed=1, head_scale=3.0, base=base)
    cls_run = make_tiny_sequence_classifier(d / "cls-run", labels=("C04", "C14"), seed=2, head_scale=3.0, base=base)
    export_token_classifier(ner_run, d / "models" / "ner")
    export_sequence_classifier(cls_run, d / "models" / "classifier")
    bio = write_bio(d / "test.tsv", SENTS)
    docs = d / "docs.jsonl"
    docs.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in DOCS))
    return {"d": d, "base": base, "ner_run": ner_run, "cls_run": cls_run, "ner": d / "models" / "ner",
            "cls": d / "models" / "classifier", "bio": bio, "docs": docs}


@pytest.fixture
def nothing_shipped(tmp_path, monkeypatch):
    monkeypatch.setattr(tasks.shipped, "SHIPPED_NER_DIR", tmp_path / "models" / "ner")
    monkeypatch.setattr(tasks.shipped, "SHIPPED_CLASSIFIER_DIR", tmp_path / "models" / "classifier")


@pytest.fixture
def shipped(setup, monkeypatch):
    monkeypatch.setattr(tasks.shipped, "SHIPPED_NER_DIR", setup["ner"])
    monkeypatch.setattr(tasks.shipped, "SHIPPED_CLASSIFIER_DIR", setup["cls"])


@pytest.mark.unit
def test_shipped_locations(tmp_path, monkeypatch):
    root = tasks.shipped.MODELS_DIR.parent
    assert tasks.shipped.SHIPPED_NER_DIR == root / "models" / "ner"
    assert tasks.shipped.SHIPPED_CLASSIFIER_DIR == root / "models" / "classifier"
    assert (root / "tasks" / "shipped.py").is_file()
    monkeypatch.setattr(tasks.shipped, "SHIPPED_NER_DIR", tmp_path)
    assert tasks.shipped.shipped_ner() is None
    (tmp_path / "config.json").write_text("{}")
    assert tasks.shipped.shipped_ner() == tmp_path


@pytest.mark.integration
def test_eval_ner_dataset_backend_and_data_alias(setup, capsys):
    assert main(["eval", "ner", "--model", str(setup["ner"]), "--dataset", str(setup["bio"]), "--json",
                 "--threads", "1"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert {"precision", "recall", "f1", "per_type", "n"} <= set(res) and res["n"] == 2
    assert res["backend"] == "onnx:model_int8.onnx" and res["model"] == str(setup["ner"])
    assert main(["eval", "ner", "--model", str(setup["ner"]), "--data", str(setup["bio"]), "--backend", "torch",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "torch"
    assert main(["eval", "ner", "--model", str(setup["ner_run"]), "--dataset", str(setup["bio"])]) == 0
    assert "F1" in capsys.readouterr().out


@pytest.mark.integration
def test_eval_classify_dataset_and_keys(setup, tmp_path, capsys):
    assert main(["eval", "classify", "--model", str(setup["cls"]), "--dataset", str(setup["docs"]), "--json",
                 "--out", str(tmp_path / "ev")]) == 0
    res = json.loads(capsys.readouterr().out)
    assert {"accuracy", "macro_f1", "micro_f1", "per_class", "n"} <= set(res) and res["backend"].startswith("onnx")
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text()) == res
    assert main(["eval", "classify", "--model", str(setup["cls"]), "--data", str(setup["docs"]),
                 "--backend", "torch", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["backend"] == "torch"


@pytest.mark.integration
def test_default_model_is_the_shipped_one(setup, shipped, capsys):
    assert main(["eval", "ner", "--dataset", str(setup["bio"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == str(setup["ner"])
    assert main(["eval", "classify", "--dataset", str(setup["docs"]), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["model"] == str(setup["cls"])


@pytest.mark.integration
def test_no_shipped_model_is_a_clear_error(setup, nothing_shipped, capsys):
    assert main(["eval", "ner", "--dataset", str(setup["bio"])]) == 1
    err = capsys.readouterr().err
    assert "clinqa: error: no --model given and no shipped NER model" in err
    assert "clinqa: hint:" in err and "python -m tasks.export" in err
    assert main(["eval", "classify", "--dataset", str(setup["docs"])]) == 1
    err = capsys.readouterr().err
    assert "no shipped classifier" in err and "--out models/classifier" in err


@pytest.mark.unit
def test_render_tables_with_published_anchors():
    m = {"precision": 70.0, "recall": 80.0, "f1": 74.67, "n": 2,
         "per_type": {"Chemical": {"f1": 81.5}, "Disease": {"f1": 69.25}}}
    t = TaskTable("ner", "BC5CDR test", "/x/test.tsv", [
        TaskRow("shipped", "shipped: models/ner", m, "models/ner", "onnx:model_int8.onnx"),
        TaskRow("runs/y", "runs/y", None, note="not available: runs/y holds no model"),
    ], PUBLISHED_NER, ["Chemical", "Disease"])
    md = render_table(t)
    assert "| model | data | P | R | F1 | Chemical F1 | Disease F1 |" in md
    assert "| shipped: models/ner [onnx:model_int8.onnx] | BC5CDR test | 70.0 | 80.0 | 74.7 | 81.5 | 69.2 |" in md
    assert "| runs/y | BC5CDR test | n/a | n/a | n/a | n/a | n/a |" in md and "- runs/y: not available" in md
    assert "| published: BioBERT v1.1 | BC5CDR test (one model per type: BC5CDR-chem, BC5CDR-disease) | - | - | - | 93.5 | 87.2 |" in md
    assert "| published: BioBERT v1.1 | NCBI-disease test (Disease only) | - | - | 89.7 | - | 89.7 |" in md
    assert "Lee et al., 2020" in md and "2 sentences" in md
    c = TaskTable("classify", "Ohsumed test", "/x/o.tar.gz", [
        TaskRow("base", "base: MiniLM + untrained classification head (seed 0)",
                {"accuracy": 4.0, "macro_f1": 1.0, "micro_f1": 4.0, "n": 4043}, "minilm", "torch")], PUBLISHED_CLASSIFY,
        ["C01"], "test")
    md = render_table(c)
    assert "| published: TextGCN | Ohsumed, 23 categories (single-label, 3,357 train / 4,043 test) | 68.4 | - | - |" in md
    assert "| base: MiniLM + untrained classification head (seed 0) [torch] | Ohsumed test | 4.0 | 1.0 | 4.0 |" in md
    assert "/x/o.tar.gz (test), 4043 documents" in md and "Yao et al., 2019" in md
    j = c.to_json()
    assert j["published"][0]["label"] == "published: TextGCN" and j["rows"][0]["metrics"]["accuracy"] == 4.0


@pytest.mark.integration
def test_compare_task_tables_through_the_cli(setup, nothing_shipped, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(tasks.compare, "_base_encoder", lambda: str(setup["base"]))
    out = tmp_path / "compare.md"
    argv = ["-q", "eval", "compare", "--ner-dataset", f"tiny NER={setup['bio']}", "--ner-model", str(setup["ner"]),
            "--ner-model", str(setup["ner_run"]), "--classify-dataset", str(setup["docs"]),
            "--classifier", str(setup["cls"]), "--work", str(tmp_path / "work"), "--out", str(out)]
    assert main(argv) == 0
    md = out.read_text()
    assert md == capsys.readouterr().out.rstrip("\n") + "\n"
    assert "### NER: tiny NER" in md and "### Document classification: " in md
    assert "Retrieval" not in md and "Readers" not in md  # only the named datasets
    assert "| base: MiniLM + untrained token-classification head (seed 0) [torch] | tiny NER |" in md
    assert f"| {setup['ner']} [onnx:model_int8.onnx] | tiny NER |" in md and f"| {setup['ner_run']} [torch] |" in md
    assert "| shipped: models/ner | tiny NER | n/a |" in md and "not shipped yet" in md
    assert f"| {setup['cls']} [onnx:model_int8.onnx] |" in md and "| published: TextGCN |" in md
    assert "| published: BioBERT v1.1 |" in md

    assert main(argv[:-2] + ["--json", "--no-base"]) == 0
    j = json.loads(capsys.readouterr().out)
    assert [t["name"] for t in j["ner"]] == ["tiny NER"] and len(j["classification"]) == 1
    rows = {r["spec"]: r for r in j["ner"][0]["rows"]}
    assert set(rows) == {"shipped", str(setup["ner"]), str(setup["ner_run"])}
    assert rows["shipped"]["metrics"] is None and {"precision", "recall", "f1", "per_type"} <= set(rows[str(setup["ner"])]["metrics"])
    assert {"accuracy", "macro_f1", "micro_f1", "per_class"} <= set(j["classification"][0]["rows"][1]["metrics"])
    assert j["ner"][0]["published"][0]["per_type"] == {"Chemical": 93.5, "Disease": 87.2}
