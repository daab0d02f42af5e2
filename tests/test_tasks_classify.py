"""Classification: dataset readers (CSV, JSONL, folder, tar.gz), stratified dev split,
metrics, tiny-model training (multi-class and multi-label) and evaluation."""
import json
import tarfile

import numpy as np
import pytest

from tasks.classify import (
    ClassDataset,
    ClassExample,
    ClassifyTrainConfig,
    Classifier,
    classification_metrics,
    confusion_matrix,
    decide,
    evaluate_classify,
    load_dataset,
    read_folder,
    stratified_split,
    train_classify,
    write_jsonl,
)
from common.datasets import DatasetFormatError
from tasks.errors import DataFormatError, TaskError
from tasks.testing import make_tiny_base

DOCS = {
    "C04": ["Breast carcinoma metastasis to bone.", "Lung adenocarcinoma treated with chemotherapy.", "Melanoma staging."],
    "C14": ["Myocardial infarction and coronary stenting.", "Atrial fibrillation anticoagulation.", "Heart failure outcomes."],
}


def _make_tree(root, split):
    for label, texts in DOCS.items():
        (root / split / label).mkdir(parents=True)
        for i, t in enumerate(texts):
            (root / split / label / f"{split}{i:04d}").write_text(f"{t}\n Abstract text {i}.\n")


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "corpus" / "data" / "ohsumed_like"
    _make_tree(root, "training")
    _make_tree(root, "test")
    return tmp_path / "corpus"


@pytest.mark.unit
def test_folder_and_tar_gz(tree, tmp_path):
    ds = read_folder(tree, subdir="training")
    assert len(ds.examples) == 6 and ds.labels == ["C04", "C14"] and not ds.multi_label
    assert all(e.id.startswith("training") for e in ds.examples)
    assert ds.examples[0].text.startswith("Breast carcinoma")

    tgz = tmp_path / "c.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(tree / "data", arcname="data")
    from_tar = load_dataset(tgz, subdir="test")
    assert sorted((e.id, e.labels) for e in from_tar.examples) == sorted(
        (e.id.replace("training", "test"), e.labels) for e in ds.examples)

    # Without a split the label folders sit under training/ and test/: refused, not mixed.
    with pytest.raises(DatasetFormatError, match="several parents"):
        read_folder(tgz)
    with pytest.raises(DatasetFormatError, match="no folder named 'dev'"):
        read_folder(tgz, subdir="dev")
    # A plain folder whose subfolders are the labels needs no subdir.
    assert len(read_folder(tree / "data" / "ohsumed_like" / "test").examples) == 6


@pytest.mark.unit
def test_csv_and_jsonl_single_and_multi_label(tmp_path):
    csv_p = tmp_path / "d.csv"
    csv_p.write_text('text,label\n"Chest pain, dyspnea",C14\nTumour,C04\n')
    ds = load_dataset(csv_p)
    assert [e.labels for e in ds.examples] == [("C14",), ("C04",)] and not ds.multi_label

    multi_csv = tmp_path / "m.csv"
    multi_csv.write_text('body,cats\nDiabetic nephropathy,C12|C19\nFever,"[""C01""]"\n')
    ds = load_dataset(multi_csv, text_key="body", label_key="cats", label_sep="|")
    assert ds.multi_label and [e.labels for e in ds.examples] == [("C12", "C19"), ("C01",)]

    jl = tmp_path / "d.jsonl"
    jl.write_text('{"text": "a", "label": ["x", "y"]}\n\n{"text": "b", "label": "x"}\n')
    ds = load_dataset(jl)
    assert ds.multi_label and ds.labels == ["x", "y"]
    # doccano text classification: label lists of length one stay single-label
    jl.write_text('{"text": "a", "label": ["x"]}\n{"text": "b", "label": ["y"]}\n')
    assert not load_dataset(jl).multi_label
    out = write_jsonl(tmp_path / "w.jsonl", load_dataset(jl))
    assert json.loads(out.read_text().splitlines()[0]) == {"id": "1", "text": "a", "label": "x"}


@pytest.mark.unit
@pytest.mark.parametrize(
    "name, content, line, fragment",
    [
        ("a.jsonl", '{"text": "ok", "label": "x"}\n{"text": "b", "label": "x"\n', 2, "invalid JSON"),
        ("b.jsonl", '{"text": "ok", "label": "x"}\n{"text": "b"}\n', 2, "missing or empty label"),
        ("c.jsonl", '{"body": "ok", "label": "x"}\n', 1, "no 'text' string"),
        ("d.csv", "text,label\nfine,x\n,y\n", 3, "empty text"),
        ("e.csv", "text,category\nfine,x\n", 1, "header has no column"),
    ],
)
def test_malformed_files_name_file_and_line(tmp_path, name, content, line, fragment):
    p = tmp_path / name
    p.write_text(content)
    # a line that is not JSON: the shared reader's error (common.datasets); a bad record: the task's
    with pytest.raises(DatasetFormatError if fragment == "invalid JSON" else DataFormatError) as ei:
        load_dataset(p)
    assert ei.value.line == line and f"{name}:{line}" in str(ei.value) and fragment in str(ei.value)


@pytest.mark.unit
def test_stratified_split_is_seeded_and_keeps_rare_classes():
    ex = [ClassExample(f"a{i}", ("A",), str(i)) for i in range(50)] + [ClassExample(f"b{i}", ("B",), f"b{i}") for i in range(3)]
    ds = ClassDataset(tuple(ex), False)
    tr, dv = stratified_split(ds, 0.1, seed=1)
    assert len(tr.examples) + len(dv.examples) == 53
    assert {e.text for e in tr.examples}.isdisjoint(e.text for e in dv.examples)
    assert sum(e.labels == ("A",) for e in dv.examples) == 5 and sum(e.labels == ("B",) for e in dv.examples) == 1
    assert stratified_split(ds, 0.1, seed=1) == (tr, dv)
    assert stratified_split(ds, 0.1, seed=2)[1] != dv
    with pytest.raises(TaskError):
        stratified_split(ds, 1.0, seed=1)


@pytest.mark.unit
def test_metrics_hand_made():
    gold = [["A"], ["A"], ["B"], ["C"]]
    pred = [["A"], ["B"], ["B"], ["A"]]
    m = classification_metrics(gold, pred, ["A", "B", "C"])
    assert m["accuracy"] == 50.0 and m["micro_f1"] == 50.0 and m["n"] == 4
    # A: P 1/2 R 1/2 F 50; B: P 1/2 R 1 F 66.7; C: 0
    assert m["per_class"]["B"]["f1"] == pytest.approx(200 / 3)
    assert m["macro_f1"] == pytest.approx((50 + 200 / 3 + 0) / 3)
    cm = confusion_matrix([g[0] for g in gold], [p[0] for p in pred], ["A", "B", "C"])
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 0]]
    multi = classification_metrics([["A", "B"], ["C"]], [["A"], ["C"]], ["A", "B", "C"])
    assert multi["accuracy"] == 50.0 and multi["micro_f1"] == pytest.approx(80.0)  # tp 2, fn 1


@pytest.mark.unit
def test_decide_threshold_and_fallback():
    id2label = {0: "A", 1: "B", 2: "C"}
    probs = np.array([[0.7, 0.6, 0.1], [0.2, 0.3, 0.1]])
    assert decide(probs, id2label, True, 0.5) == [["A", "B"], ["B"]]  # none above: top one
    assert decide(probs, id2label, False, 0.5) == [["A"], ["B"]]


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return str(make_tiny_base(tmp_path_factory.mktemp("cls") / "base"))


@pytest.mark.integration
def test_train_and_evaluate_multiclass_from_tar(base, tree, tmp_path):
    tgz = tmp_path / "c.tar.gz"
    with tarfile.open(tgz, "w:gz") as tf:
        tf.add(tree / "data", arcname="data")
    cfg = ClassifyTrainConfig(base=base, train=str(tgz), train_subdir="training", out_dir=str(tmp_path / "m"),
                              dev_fraction=0.34, epochs=2, lr=1e-3, batch_size=2, max_seq_len=32, threads=1,
                              progress=False)
    metrics = train_classify(cfg)
    assert metrics["select_key"] == "accuracy" and metrics["dev_documents"] == 2 and metrics["train_examples"] == 4
    info = json.loads((tmp_path / "m" / "task.json").read_text())
    assert info == {"task": "classify", "labels": ["C04", "C14"], "multi_label": False, "threshold": 0.5}
    res = evaluate_classify(tmp_path / "m", tgz, subdir="test", out=tmp_path / "ev")
    assert set(res) == {"accuracy", "macro_f1", "micro_f1", "n", "per_class"} and res["n"] == 6
    assert res["accuracy"] == pytest.approx(res["micro_f1"])
    png = tmp_path / "ev" / "confusion_matrix.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["n"] == 6


@pytest.mark.integration
def test_train_multilabel_resume_and_predict(base, tmp_path):
    rows = [("renal failure in diabetes", ["C12", "C19"]), ("thyroid nodule", ["C19"]), ("kidney stones", ["C12"]),
            ("insulin resistance", ["C19"]), ("nephrotic syndrome", ["C12"]), ("diabetic kidney disease", ["C12", "C19"])]
    train = tmp_path / "t.jsonl"
    train.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows))
    dev = tmp_path / "d.jsonl"
    dev.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows[:3]))
    kw = dict(base=base, train=str(train), dev=str(dev), epochs=2, lr=1e-3, batch_size=2, max_seq_len=16,
              threads=1, progress=False)
    full = train_classify(ClassifyTrainConfig(out_dir=str(tmp_path / "full"), **kw))
    assert full["select_key"] == "micro_f1" and full["total_steps"] == 6
    info = json.loads((tmp_path / "full" / "task.json").read_text())
    assert info["multi_label"] and 0.0 < info["threshold"] < 1.0
    assert train_classify(ClassifyTrainConfig(out_dir=str(tmp_path / "k"), **kw), interrupt_after=4) == {"interrupted_at": 4}
    resumed = train_classify(ClassifyTrainConfig(out_dir=str(tmp_path / "k"), resume=True, **kw))
    assert resumed["history"][-1]["micro_f1"] == pytest.approx(full["history"][-1]["micro_f1"])

    clf = Classifier(tmp_path / "full")
    assert clf.multi_label
    preds = clf.predict(["diabetic nephropathy", "goitre"])
    assert len(preds) == 2 and all(p and all(l in ("C12", "C19") and 0 <= s <= 1 for l, s in p) for p in preds)
    res = evaluate_classify(tmp_path / "full", dev, out=tmp_path / "ev")
    assert res["n"] == 3 and not (tmp_path / "ev" / "confusion_matrix.png").exists()  # single-label only
