"""Yes/no questions end to end with a tiny random yes/no model: engine verdict, `ask --json`
contract, `--type` override, CLI text, the web page, and the fallback without a model."""
import json
import logging

import pytest

from indexer.writer import IndexWriter
from pipeline.engine import EngineConfig, QAEngine
from reader.config import ReaderConfig
from reader.testing import make_tiny_qa_model
from tasks.testing import make_tiny_yesno_model
from tasks.verdict import VerdictConfig
from ui.cli import main

pytestmark = pytest.mark.integration

EVIL = '<img src=x onerror="window.__xss=1">'
DOCS = [
    {"id": "metformin", "title": "Metformin in pregnancy", "source": "demo", "license": "CC BY 4.0",
     "text": "Metformin is widely used in pregnancy for gestational diabetes and appears safe for the fetus."},
    {"id": "metformin2", "title": "Metformin risks", "source": "demo",
     "text": f"Metformin crosses the placenta; long-term effects on children are uncertain. {EVIL}"},
    {"id": "asthma", "title": "Asthma", "source": "demo",
     "text": "Asthma narrows the airways. Inhaled corticosteroids control airway inflammation."},
]
QUESTION = "Is metformin safe during pregnancy?"


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("yesno-ask")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    IndexWriter(root / "index", show_progress=False).build([src])
    return root / "index", make_tiny_qa_model(root / "reader"), make_tiny_yesno_model(root / "yesno")


def _engine(setup, yesno="model", **kw):
    index_dir, reader_dir, yesno_dir = setup
    return QAEngine(EngineConfig(index_dir=index_dir, reader=ReaderConfig(model=str(reader_dir), backend="torch",
                                                                          no_answer_threshold=0.0),
                                 yesno_model=str(yesno_dir) if yesno == "model" else yesno, **kw))


def test_engine_gives_a_verdict_weighed_by_relevance(setup):
    engine = _engine(setup, verdict=VerdictConfig(min_probability=0.0, max_conflict=1.0), verdict_passages=2)
    try:
        res = engine.ask(QUESTION, top_k=3)
        assert res.question_type == "yesno" and res.verdict is not None and res.answers == ()
        v = res.verdict
        assert v.label in ("yes", "no", "maybe") and 0 <= v.probability <= 1 and not v.abstained and res.confident
        assert [e.chunk_id for e in v.evidence] == [h.passage.chunk_id for h in res.hits[:2]]
        assert [e.weight for e in v.evidence] == [pytest.approx(h.relevance) for h in res.hits[:2]]
        assert {"retrieve", "classify", "total"} <= set(res.timings_ms)
        # The same classifier on the same passages: the verdict is a function of them.
        probs = engine.yesno_classifier().predict(res.question, [h.passage.text for h in res.hits[:2]])
        w = [h.relevance for h in res.hits[:2]]  # the reranker probability (reranked by default)
        pooled = sum(wi * p[v.label] for wi, p in zip(w, probs)) / sum(w)
        assert v.probability == pytest.approx(pooled, abs=1e-6)
        factoid = engine.ask("What treats asthma?", top_k=2)
        assert factoid.question_type == "factoid" and factoid.verdict is None and factoid.answers
        forced = engine.ask(QUESTION, top_k=2, question_type="factoid")
        assert forced.verdict is None and forced.answers and forced.question_type == "factoid"
    finally:
        engine.close()


def test_strict_thresholds_abstain(setup):
    engine = _engine(setup, verdict=VerdictConfig(min_probability=1.0))
    try:
        res = engine.ask(QUESTION, top_k=3)
        assert res.verdict.abstained and not res.confident and res.verdict.reason in ("weak", "conflict")
    finally:
        engine.close()


def test_without_a_yesno_model_yes_no_questions_take_todays_path(setup, tmp_path, caplog):
    engine = _engine(setup, yesno=str(tmp_path / "no-such-model"))
    try:
        with caplog.at_level(logging.WARNING, logger="pipeline.yesno"):
            res = engine.ask(QUESTION, top_k=2)
        assert res.question_type == "yesno" and res.verdict is None and res.answers
        assert any("no-such-model" in r.getMessage() and "verdict" in r.getMessage() for r in caplog.records)
        assert res.to_dict()["verdict"] is None
    finally:
        engine.close()
    off = _engine(setup, yesno="none")
    try:
        assert off.ask(QUESTION, top_k=2).verdict is None
    finally:
        off.close()


def test_cli_json_contract_type_override_and_text(setup, capsys):
    index_dir, reader_dir, yesno_dir = setup
    base = ["ask", "--index", str(index_dir), "--reader", str(reader_dir), "--backend", "torch",
            "--yesno-model", str(yesno_dir)]
    assert main(base + ["--json", QUESTION]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["question_type"] == "yesno" and obj["answers"] == []
    v = obj["verdict"]
    assert {"label", "probability", "abstained", "evidence"} <= set(v)
    assert v["evidence"] and {"chunk_id", "label", "probability", "weight", "role"} <= set(v["evidence"][0])
    assert {e["chunk_id"] for e in v["evidence"]} <= {h["chunk_id"] for h in obj["hits"]}
    assert main(base + ["--json", "--type", "factoid", QUESTION]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert obj["question_type"] == "factoid" and obj["verdict"] is None and obj["answers"]
    assert main(base + ["--json", "--type", "yesno", "metformin pregnancy"]) == 0
    assert json.loads(capsys.readouterr().out)["verdict"] is not None
    assert main(base + [QUESTION]) == 0
    out = capsys.readouterr().out
    assert "Verdict:" in out and "not a diagnosis" in out
    assert ("Supporting passages:" in out or "Contradicting passages:" in out or "neutral" in out)
    with pytest.raises(SystemExit):
        main(base + ["--type", "summary", QUESTION])


def test_web_page_shows_the_verdict_above_marked_passages(setup):
    from ui.web import ServeConfig, WebApp

    index_dir = setup[0]
    engine = _engine(setup, verdict=VerdictConfig(min_probability=0.0, max_conflict=1.0)).warm_up()
    web = WebApp(engine, ServeConfig(index_dir=index_dir))
    try:
        html, targets = web.ask(QUESTION, 3, "hybrid", [], None)
        assert 'data-state="verdict"' in html and targets == []
        assert html.index("cq-verdict") < html.index("cq-evidence")  # verdict above the sources
        assert html.count('data-role="') == 3
        assert all(r in ("supports", "contradicts", "neutral") for r in
                   [part.split('"')[0] for part in html.split('data-role="')[1:]])
        assert EVIL not in html and "&lt;img" in html  # passage text escaped
        html, targets = web.ask("What treats asthma?", 2, "hybrid", [], None)
        assert 'data-state="answers"' in html and targets
    finally:
        engine.close()
