"""`clinqa eval yesno` (gold evidence and open-domain) and the yes/no tables of `eval compare`,
with a tiny random yes/no model."""
import json

import pytest

from tasks.testing import make_tiny_yesno_model
from tasks.yesno import file_sha256, in_dev_split
from test_tasks_yesno import write_bioasq_jsonl, write_bioasq_squad, write_pubmedqa
from ui.cli import main

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("eval-yesno")
    pub = write_pubmedqa(d / "ori_pqal.json", n=60)
    model = make_tiny_yesno_model(d / "model")
    info = json.loads((model / "task.json").read_text())
    info["train_files"] = {str(pub): file_sha256(pub)}  # as `train yesno` records it
    (model / "task.json").write_text(json.dumps(info))
    other = make_tiny_yesno_model(d / "untrained-on-it", seed=1)
    return d, pub, model, other


def test_pubmedqa_scores_only_dev_pmids_of_a_model_trained_on_the_file(data, capsys):
    d, pub, model, other = data
    n_dev = sum(in_dev_split(str(10000 + i)) for i in range(60))
    assert main(["eval", "yesno", "--dataset", str(pub), "--model", str(model), "--json", "--backend", "torch"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["task"] == "yesno" and res["config"]["split"] == "dev" and res["metrics"]["n"] == n_dev
    m = res["metrics"]
    assert {"accuracy", "macro_f1", "per_class", "abstained", "answered_accuracy"} <= set(m)
    assert set(m["per_class"]) <= {"yes", "no", "maybe"} and 0 <= m["accuracy"] <= 100
    # A model that never saw the file is scored on all of it; --split overrides.
    assert main(["eval", "yesno", "--dataset", str(pub), "--model", str(other), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["metrics"]["n"] == 60
    assert main(["eval", "yesno", "--dataset", str(pub), "--model", str(model), "--split", "all", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["config"]["split"] == "all"


def test_bioasq_one_verdict_per_question_and_output_files(data, tmp_path, capsys):
    d, _, model, _ = data
    bio = write_bioasq_squad(d / "BioASQ-val-yesno.json", n=6)
    out = tmp_path / "run"
    assert main(["eval", "yesno", "--dataset", str(bio), "--model", str(model), "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "accuracy" in text and "macro F1" in text
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 6 and all(len(r["evidence"]) == 2 and r["label"] in ("yes", "no") for r in rows)
    assert (out / "confusion_matrix.png").stat().st_size > 1000
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["n"] == 6 and saved["config"]["format"] == "bioasq"
    acc = 100 * sum(r["correct"] for r in rows) / 6
    assert saved["metrics"]["accuracy"] == pytest.approx(acc)


def test_open_domain_over_an_index(data, tmp_path, capsys):
    d, _, model, _ = data
    docs = tmp_path / "docs.jsonl"
    docs.write_text("".join(json.dumps({"id": f"g{i}", "title": f"Gene {i}", "text": f"Gene {i} is mutated in tumours."}) + "\n"
                            for i in range(8)))
    assert main(["-q", "index", "build", "--index", str(tmp_path / "index"), str(docs)]) == 0
    capsys.readouterr()
    bio = write_bioasq_jsonl(tmp_path / "q.jsonl", n=4)
    assert main(["eval", "yesno", "--dataset", str(bio), "--model", str(model), "--index", str(tmp_path / "index"),
                 "--top-k", "3", "--passages", "2", "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["config"]["mode"] == "open domain" and res["metrics"]["n"] == 4
    assert "latency_ms_p50" in res["metrics"]


def test_missing_model_and_bad_dataset_say_what_to_do(data, tmp_path, capsys):
    d, pub, _, _ = data
    assert main(["eval", "yesno", "--dataset", str(pub), "--model", str(tmp_path / "nope")]) == 1
    err = capsys.readouterr().err
    assert "not found" in err and "hint:" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "Is it?", "answer": "perhaps", "snippets": ["x"]}\n')
    assert main(["eval", "yesno", "--dataset", str(bad), "--model", str(data[2])]) == 1
    assert "perhaps" in capsys.readouterr().err


def test_compare_rows_floor_shipped_models_and_anchors(data, capsys):
    d, pub, model, _ = data
    bio = write_bioasq_squad(d / "bio-compare.json", n=6)
    assert main(["eval", "compare", "--yesno-dataset", f"PubMedQA={pub}", "--yesno-dataset", f"BioASQ={bio}",
                 "--yesno-model", str(model), "--json"]) == 0
    tables = json.loads(capsys.readouterr().out)["yesno"]
    pubt, biot = tables
    assert pubt["split"] == "dev"  # the model row was trained on this file: every row scores dev PMIDs
    rows = {r["spec"]: r for r in pubt["rows"]}
    assert set(rows) == {"floor", "shipped", str(model)}
    n_dev = sum(in_dev_split(str(10000 + i)) for i in range(60))
    dev_yes = sum(in_dev_split(str(10000 + i)) and i % 3 == 0 for i in range(60))
    assert rows["floor"]["metrics"]["n"] == n_dev
    assert rows["floor"]["metrics"]["accuracy"] == pytest.approx(100 * dev_yes / n_dev)
    assert rows[str(model)]["metrics"]["n"] == n_dev
    from tasks.shipped import shipped_yesno

    if shipped_yesno() is None:
        assert rows["shipped"]["metrics"] is None and "not available" in rows["shipped"]["note"]
    anchors = {p["system"]: p for p in pubt["published"]}
    assert anchors["BioBERT"]["accuracy"] == 68.1 and anchors["BioBERT"]["macro_f1"] == 52.7
    assert anchors["majority class"]["accuracy"] == 55.2 and anchors["single human annotator"]["accuracy"] == 78.0
    assert biot["published"] == []  # PubMedQA anchors only on PubMedQA
    assert main(["eval", "compare", "--yesno-dataset", f"BioASQ={bio}", "--yesno-model", str(model)]) == 0
    md = capsys.readouterr().out
    assert "### Yes/no/maybe: BioASQ" in md and "floor: always" in md
