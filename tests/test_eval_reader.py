"""`clinqa eval reader` through the CLI with a tiny random QA model (no download)."""
import json

import pytest

SQUAD = [{"title": "covid", "paragraphs": [
    {"context": "The virus binds the ACE2 receptor on host cells.",
     "qas": [{"id": "a", "question": "What does the virus bind?", "answers": [{"text": "ACE2 receptor", "answer_start": 20}]},
             {"id": "b", "question": "Where is it?", "answers": [{"text": "host cells", "answer_start": 37}]}]},
    {"context": "Masks reduce transmission.",
     "qas": [{"id": "c", "question": "What reduces transmission?", "answers": [{"text": "Masks", "answer_start": 0}]}]},
]}]

@pytest.fixture(scope="module")
def tiny_reader(tmp_path_factory):
    from reader.testing import make_tiny_qa_model

    return make_tiny_qa_model(tmp_path_factory.mktemp("tiny-reader"))


@pytest.mark.integration
def test_cli_reader_json_and_out_dir(tmp_path, tiny_reader, capsys):
    from ui.cli import main

    f = tmp_path / "dev.json"
    f.write_text(json.dumps({"version": "1.1", "data": SQUAD}))
    out = tmp_path / "run"
    argv = ["-q", "eval", "reader", "--dataset", str(f), "--reader", str(tiny_reader), "--backend", "torch", "--json"]
    assert main(argv + ["--out", str(out)]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["task"] == "reader"
    assert {"exact_match", "f1", "n", "latency_ms_p50", "latency_ms_p95"} <= set(first["metrics"])
    assert first["metrics"]["n"] == 3 and 0.0 <= first["metrics"]["f1"] <= 100.0
    cfg = first["config"]
    assert cfg["dataset_sha256"] and str(tiny_reader) in cfg["reader"] and "git_commit" in cfg
    assert sorted(p.name for p in out.iterdir()) == ["metrics.json", "predictions.jsonl", "reliability.png", "report.md"]
    assert len((out / "predictions.jsonl").read_text().splitlines()) == 3
    assert (out / "reliability.png").read_bytes()[:4] == b"\x89PNG"
    # Deterministic: a second run gives the same quality numbers.
    assert main(argv) == 0
    second = json.loads(capsys.readouterr().out)
    drop = ("latency_ms_p50", "latency_ms_p95")
    assert {k: v for k, v in second["metrics"].items() if k not in drop} == {
        k: v for k, v in first["metrics"].items() if k not in drop}


@pytest.mark.integration
def test_cli_reports_a_bad_dataset_and_exits_1(tmp_path, capsys):
    from ui.cli import main

    f = tmp_path / "bad.json"
    f.write_text(json.dumps({"data": [{"title": "t", "paragraphs": [{"context": "c", "qas": [{"id": "x1", "question": "q"}]}]}]}))
    assert main(["-q", "eval", "reader", "--dataset", str(f), "--reader", "base"]) == 1
    err = capsys.readouterr().err
    assert str(f) in err and "qas[0] (id x1)" in err and "QA has no gold answer" in err and "hint:" in err


@pytest.mark.integration
def test_missing_shipped_reader_has_a_clear_message(monkeypatch, tmp_path):
    import reader.config
    from pipeline.evaluation.errors import MissingModelError
    from pipeline.evaluation.runners import reader_config

    monkeypatch.setattr(reader.config, "DEFAULT_MODEL_DIR", tmp_path / "models" / "reader-mpnet")
    with pytest.raises(MissingModelError, match="shipped reader") as err:
        reader_config("shipped", None, tmp_path)
    assert "--reader" in err.value.hint
