"""The tasks CLI handlers end to end on tiny models: train, eval, import, pre-annotate."""
import argparse
import json

import pytest

from tasks.annotations import read_brat, read_doccano_ner
from tasks.cli import cmd_train_ner, register_annotations, register_eval, register_train, run_handler
from tasks.errors import TaskError
from tasks.ner import NerSentence, read_bio
from tasks.testing import make_tiny_base

pytestmark = pytest.mark.integration


def _parser():
    parser = argparse.ArgumentParser(prog="clinqa")
    sub = parser.add_subparsers(dest="command")
    register_train(sub.add_parser("train").add_subparsers(dest="train_command"))
    register_eval(sub.add_parser("eval").add_subparsers(dest="eval_command"))
    register_annotations(sub)
    return parser


def _run(*argv):
    args = _parser().parse_args([str(a) for a in argv])
    return args.func(args)


SENTS = [
    NerSentence(("Naloxone", "reverses", "hypertension", "."), ("B-Chemical", "O", "B-Disease", "O")),
    NerSentence(("Aspirin", "caused", "gastric", "bleeding", "."), ("B-Chemical", "O", "B-Disease", "I-Disease", "O")),
]


def test_ner_train_eval_import_export(tmp_path, capsys):
    base = make_tiny_base(tmp_path / "base")
    doccano = tmp_path / "ann.jsonl"
    doccano.write_text(json.dumps({"text": "Naloxone reverses hypertension. Aspirin caused gastric bleeding.",
                                   "label": [[0, 8, "Chemical"], [18, 30, "Disease"], [32, 39, "Chemical"],
                                             [47, 63, "Disease"], [50, 52, "Disease"]]}) + "\n")
    train = tmp_path / "train.tsv"
    assert _run("annotations", "import", doccano, "--format", "doccano", "--out", train,
                "--report", tmp_path / "rep.json") == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["sentences"] == 2 and summary["spans_written"] == 4 and summary["problems"] == 1
    assert read_bio(train) == SENTS
    assert json.loads((tmp_path / "rep.json").read_text())["problems"][0]["text"] == "tr"

    model = tmp_path / "ner"
    assert _run("train", "ner", "--base", base, "--train", train, "--dev", train, "--out", model, "--epochs", 1,
                "--batch-size", 1, "--lr", "1e-3", "--threads", 1, "--max-seq-len", 32, "--no-progress") == 0
    assert json.loads(capsys.readouterr().out)["best"]["step"] == 2

    assert _run("eval", "ner", "--model", model, "--data", train, "--json", "--out", tmp_path / "ev") == 0
    res = json.loads(capsys.readouterr().out)
    assert res["n"] == 2 and json.loads((tmp_path / "ev" / "metrics.json").read_text()) == res

    texts = tmp_path / "notes.txt"
    texts.write_text("Naloxone reverses hypertension.\nAspirin caused bleeding.\n")
    assert _run("annotations", "export", texts, "--model", model, "--format", "doccano", "--out", tmp_path / "pre.jsonl") == 0
    docs = read_doccano_ner(tmp_path / "pre.jsonl")
    assert [d.text for d in docs] == ["Naloxone reverses hypertension.", "Aspirin caused bleeding."]
    assert _run("annotations", "export", texts, "--model", model, "--format", "brat", "--out", tmp_path / "brat") == 0
    assert [d.spans for d in read_brat(tmp_path / "brat")] == [d.spans for d in docs]

    # without a model: a BIO file to doccano for correction
    assert _run("annotations", "export", train, "--format", "doccano", "--out", tmp_path / "bio.jsonl") == 0
    back = read_doccano_ner(tmp_path / "bio.jsonl")
    assert [back[1].text[s.start : s.end] for s in back[1].spans] == ["Aspirin", "gastric bleeding"]


def test_classify_train_eval_export(tmp_path, capsys):
    base = make_tiny_base(tmp_path / "base")
    data = tmp_path / "docs.jsonl"
    rows = [("chest pain and angina", "C14"), ("breast tumour", "C04"), ("heart failure", "C14"), ("lymphoma", "C04")] * 2
    data.write_text("".join(json.dumps({"text": t, "label": [l]}) + "\n" for t, l in rows))
    conv = tmp_path / "conv.jsonl"
    assert _run("annotations", "import", data, "--format", "doccano-class", "--out", conv) == 0
    assert json.loads(capsys.readouterr().out) == {"out": str(conv), "documents": 8, "labels": 2, "multi_label": False}
    model = tmp_path / "cls"
    assert _run("train", "classify", "--base", base, "--train", conv, "--dev-fraction", "0.25", "--out", model,
                "--epochs", 1, "--batch-size", 2, "--threads", 1, "--max-seq-len", 16, "--no-progress") == 0
    assert json.loads(capsys.readouterr().out)["best"]["n"] == 2
    assert _run("eval", "classify", "--model", model, "--data", conv, "--out", tmp_path / "ev") == 0
    assert "accuracy" in capsys.readouterr().out and (tmp_path / "ev" / "confusion_matrix.png").is_file()
    assert _run("annotations", "export", conv, "--model", model, "--format", "doccano", "--out", tmp_path / "p.jsonl") == 0
    lines = [json.loads(l) for l in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert len(lines) == 8 and all(len(l["label"]) == 1 and l["label"][0] in ("C04", "C14") for l in lines)
    with pytest.raises(TaskError, match="BRAT holds entity spans"):
        _run("annotations", "export", conv, "--model", model, "--format", "brat", "--out", tmp_path / "b")


def test_run_handler_prints_error_and_hint(tmp_path, capsys):
    args = _parser().parse_args(["train", "ner", "--base", str(tmp_path), "--train", str(tmp_path / "none.tsv"),
                                 "--out", str(tmp_path / "o"), "--no-progress"])
    assert run_handler(cmd_train_ner, args) == 1
    err = capsys.readouterr().err
    assert "none.tsv: not found" in err and "hint:" in err
