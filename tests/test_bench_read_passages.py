"""benchmarks/bench_read_passages.py: answer recall@k of the passages the reader would get."""
import json
from pathlib import Path

import pytest

from reader.testing import write_squad
from repo_scripts import load_script

bench = load_script("benchmarks/bench_read_passages.py")


@pytest.mark.unit
def test_answer_recall_counts_the_first_hit_holding_an_answer():
    hits = [["Gout is painful.", "Colchicine treats gout."],  # found at rank 2
            ["NSAIDs help.", "x"],                            # found at rank 1, case-folded
            ["nothing here", "nor here"]]                     # never
    r = bench.answer_recall(hits, [("colchicine",), ("nsaids", "ib"), ("allopurinol",)], [1, 2])
    assert r["recall@1"] == pytest.approx(100 / 3) and r["recall@2"] == pytest.approx(200 / 3)
    assert r["mrr"] == pytest.approx(100 * (0.5 + 1) / 3)
    assert bench.answer_recall([["ib is here"]], [("ib",)], [1])["recall@1"] == 0.0  # too short to judge


@pytest.mark.unit
def test_passage_recall_counts_only_the_gold_passage():
    hits = [["Colchicine treats gout.", "Gout   attacks hurt.\nColchicine helps."],  # gold at rank 2 (spacing differs)
            ["Part two of the article.", "x"]]                                       # a passage of a gold article
    ctxs = [("Gout attacks hurt. Colchicine helps.",), ("Part one. Part two of the article. Part three.",)]
    r = bench.passage_recall(hits, ctxs, [1, 2])
    assert r["passage_recall@1"] == 50.0 and r["passage_recall@2"] == 100.0
    assert r["passage_mrr"] == pytest.approx(100 * (0.5 + 1) / 2)
    # the lenient measure finds "colchicine" at rank 1 of the first question
    assert bench.answer_recall(hits[:1], [("colchicine",)], [1])["recall@1"] == 100.0


@pytest.mark.unit
def test_config_specs():
    assert bench.parse_config("first-stage=") == ("first-stage", None)
    name, rr = bench.parse_config("c2=:rerank=runs/c2")
    assert name == "c2" and rr.model == "runs/c2"
    for spec in ("x=models/reader-mpnet:rerank=runs/c2", "x=:rerank=:read=3"):  # nothing is read here
        with pytest.raises(SystemExit, match="no reader here"):
            bench.parse_config(spec)


@pytest.mark.integration
def test_run_over_an_index(tmp_path):
    from ui.cli import main

    docs = [{"id": "gout", "title": "Gout", "text": "Colchicine and NSAIDs treat acute gout attacks."},
            {"id": "asthma", "title": "Asthma", "text": "Salbutamol relieves acute bronchospasm in asthma."}]
    src = tmp_path / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in docs))
    assert main(["-q", "index", "build", "--index", str(tmp_path / "idx"), str(src)]) == 0
    data = write_squad(tmp_path / "qs.json", [("Colchicine and NSAIDs treat acute gout attacks.",
                                               "What treats acute gout attacks?", "Colchicine")])
    res = bench.run(tmp_path / "idx", [data], [("first-stage", None)], [1, 2])
    r = res["configs"]["first-stage"]["qs"]
    assert r["n"] == 1 and r["recall@1"] == 100.0 and r["mrr"] == 100.0 and r["passage_recall@1"] == 100.0


@pytest.mark.unit
def test_dataset_label_names_generic_files_by_their_folder():
    assert bench.dataset_label(Path("x/bioasq/BioASQ-val-list.json")) == "BioASQ-val-list"
    assert bench.dataset_label(Path("runs/consumer-squad/dev.json")) == "consumer-squad/dev"
    assert bench.dataset_label(Path("covidqa/train.json")) == "covidqa/train"
