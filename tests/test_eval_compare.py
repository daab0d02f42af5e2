"""`clinqa eval compare`: the Markdown table, from hand-made results and through the CLI."""
import json
from pathlib import Path

import pytest

from pipeline.evaluation.compare import Comparison, best_convex, render
from pipeline.evaluation.runners import EvalResult


def runs(ndcg: dict[str, float]) -> dict[str, dict[str, float]]:
    keys = ("recall@5", "recall@20", "recall@100", "mrr@10")
    return {name: {**{k: 50.0 for k in keys}, "ndcg@10": v, "n": 10} for name, v in ndcg.items()}


@pytest.mark.unit
def test_render_marks_the_dev_chosen_weight_and_the_hybrid_gain():
    r = runs({"bm25": 70.0, "dense": 60.0, "hybrid-rrf": 71.0, "hybrid-convex-0.3": 74.0,
              "hybrid-convex-0.5": 74.0, "hybrid-convex-0.7": 72.0})
    result = EvalResult("retrieval", r["hybrid-rrf"], {}, runs=r)
    assert best_convex(result) == "hybrid-convex-0.3"  # a tie goes to the lower dense weight
    comp = Comparison({"dev": Path("dev.json")}, retrieval={"dev": result}, question_types={"dev": "extractive"},
                      readers={"base": {"dev": {"exact_match": 1.0, "f1": 10.94}},
                               "shipped": {"dev": "not available: no models/reader-mpnet (train it)"}})
    md = render(comp)
    assert "| hybrid convex, dense weight 0.3 | 50.0 | 50.0 | 50.0 | 50.0 | **74.0** |" in md
    assert "best hybrid (hybrid convex, dense weight 0.3) 74.0 vs best single leg (BM25) 70.0 nDCG@10: +4.0 points" in md
    assert "| base: MiniLM + untrained QA head | 1.0 | 10.9 |" in md
    assert "| shipped: models/reader-mpnet | n/a | n/a |" in md and md.count("no models/reader-mpnet") == 1


@pytest.mark.slow
@pytest.mark.integration
def test_compare_cli_on_a_tiny_dataset(tmp_path, capsys, monkeypatch):
    import reader.config
    from reader.testing import make_tiny_qa_model
    from ui.cli import main

    monkeypatch.setattr(reader.config, "DEFAULT_MODEL_DIR", tmp_path / "no-reader")
    data = [{"title": t, "paragraphs": [{"context": c, "qas": [
        {"id": f"q{i}", "question": q, "answers": [{"text": c.split()[0], "answer_start": 0}]}]}]}
        for i, (t, c, q) in enumerate([("Gout", "Urate crystals cause gout attacks.", "What causes gout?"),
                                       ("Asthma", "Salbutamol relieves asthma symptoms.", "What relieves asthma?")])]
    f = tmp_path / "tiny.json"
    f.write_text(json.dumps({"version": "1.1", "data": data}))
    model = make_tiny_qa_model(tmp_path / "tiny-reader")
    out = tmp_path / "compare.md"
    assert main(["-q", "eval", "compare", "--dataset", f"tiny={f}", "--no-base", "--reader", str(model),
                 "--work", str(tmp_path / "work"), "--out", str(out)]) == 0
    md = out.read_text()
    assert md == capsys.readouterr().out.rstrip("\n") + "\n"
    assert "| BM25 |" in md and "| hybrid RRF (k=60) |" in md
    assert f"| {model} |" in md and "shipped reader is not there yet" in md
