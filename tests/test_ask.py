"""`ask` end to end: index -> hybrid retrieval -> reader -> ranked answers, CLI and JSON contract."""
import dataclasses
import json

import pytest

from indexer.writer import IndexWriter
from pipeline.engine import EngineConfig, QAEngine
from reader.config import ReaderConfig
from reader.testing import make_tiny_qa_model
from ui.cli import main

pytestmark = pytest.mark.integration

DOCS = [
    {"id": "gout", "title": "Gout", "source": "demo", "url": "https://example.org/gout", "license": "CC BY 4.0",
     "text": "Gout is caused by uric acid crystals in the joints. Colchicine and NSAIDs treat acute attacks."},
    {"id": "asthma", "title": "Asthma", "source": "demo",
     "text": "Asthma narrows the airways. Inhaled corticosteroids control airway inflammation."},
]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("ask")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    IndexWriter(root / "index", show_progress=False).build([src])
    reader_dir = make_tiny_qa_model(root / "reader")
    return root / "index", reader_dir


def test_engine_answers_with_offsets_into_passage_and_document(setup):
    index_dir, reader_dir = setup
    engine = QAEngine(EngineConfig(index_dir=index_dir, reader=ReaderConfig(model=str(reader_dir), backend="torch",
                                                                             no_answer_threshold=0.0)))
    result = engine.ask("What causes gout?", top_k=2)
    assert result.hits and result.answers and result.confident
    for r in result.answers:
        a, p = r.answer, r.answer.passage
        assert p.text[a.start:a.end] == a.text
        doc = engine.index.backend.document(p.doc_id)
        assert doc.text[a.doc_start:a.doc_end] == a.text
        assert 0.0 <= a.probability <= 1.0
    scores = [r.final_score for r in result.answers]
    assert scores == sorted(scores, reverse=True)
    assert set(result.timings_ms) == {"retrieve", "read", "total"}
    assert result.reranker is None and all(h.rerank_rank is None for h in result.hits)  # no reranker configured
    engine.close()


def test_threshold_above_one_means_no_confident_answer(setup):
    index_dir, reader_dir = setup
    engine = QAEngine(EngineConfig(index_dir=index_dir, reader=ReaderConfig(model=str(reader_dir), backend="torch",
                                                                             no_answer_threshold=1.0)))
    result = engine.ask("zxqv blorf?")
    assert not result.confident and result.hits
    engine.close()


def test_cli_ask_json_contract_and_batch(setup, tmp_path, capsys):
    index_dir, reader_dir = setup
    code = main(["ask", "--index", str(index_dir), "--reader", str(reader_dir), "--backend", "torch", "--json",
                 "What treats asthma?"])
    out = capsys.readouterr().out
    obj = json.loads(out)
    assert code == 0 and obj["question"] == "What treats asthma?"
    ans = obj["answers"][0]
    assert {"text", "score", "probability", "doc_id", "title", "url", "passage", "start", "end"} <= set(ans)
    assert ans["calibration"] == "uncalibrated"  # the tiny reader has no open-domain calibration
    assert ans["passage"][ans["start"]:ans["end"]] == ans["text"]
    assert {"retrieve", "read", "total"} <= set(obj["timings_ms"])
    assert obj["retriever"] == {"mode": "hybrid", "fusion": "convex", "dense_weight": 0.5, "normalisation": "absolute"}
    q = tmp_path / "q.jsonl"
    q.write_text('{"id": "x1", "question": "What causes gout?"}\n{"id": "x2", "question": "asthma airways"}\n')
    code = main(["ask", "--index", str(index_dir), "--reader", str(reader_dir), "--backend", "torch",
                 "--queries", str(q)])
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert code == 0 and [x["id"] for x in lines] == ["x1", "x2"]


def test_cli_names_the_reader_and_explains_a_missing_one(setup, tmp_path, capsys):
    index_dir, reader_dir = setup
    code = main(["ask", "--index", str(index_dir), "--reader", str(reader_dir), "--backend", "torch", "What causes gout?"])
    captured = capsys.readouterr()
    assert code == 0 and str(reader_dir) in captured.err and "not a diagnosis" in captured.out
    code = main(["ask", "--index", str(index_dir), "--reader", str(tmp_path / "no-reader"), "What causes gout?"])
    err = capsys.readouterr().err
    assert code == 1 and "clinqa train reader" in err


def test_list_questions_return_one_list_answer(setup, capsys):
    index_dir, reader_dir = setup
    engine = QAEngine(EngineConfig(index_dir=index_dir, reader=ReaderConfig(model=str(reader_dir), backend="torch",
                                                                             no_answer_threshold=0.0)))
    result = engine.ask("Which drugs treat gout attacks?", top_k=2)
    assert result.question_type == "list" and result.confident and len(result.list_answer) >= 2
    texts = [r.answer.text for r in result.list_answer]
    assert len(set(texts)) == len(texts)
    assert [r.final_score for r in result.list_answer] == sorted((r.final_score for r in result.list_answer), reverse=True)
    d = result.to_dict()
    assert [x["text"] for x in d["list_answer"]] == texts
    assert engine.ask("What causes gout?", top_k=2).to_dict()["list_answer"] is None  # factoid: no list
    engine.close()
    assert main(["ask", "--index", str(index_dir), "--reader", str(reader_dir), "--backend", "torch",
                 "--type", "list", "Which drugs treat gout attacks?"]) == 0
    out = capsys.readouterr().out
    assert "List answer:" in out or "No answer" in out


def test_cli_text_shows_the_best_candidate_when_nothing_is_confident(setup, capsys, monkeypatch):
    """Below the threshold the terminal still names the best guess, plainly marked, before
    the closest passages (a clinician may recognise it; JSON always had it)."""
    from pipeline import engine as engine_module

    index_dir, reader_dir = setup
    real = engine_module.QAEngine.ask

    def never_confident(self, *a, **kw):
        res = real(self, *a, **kw)
        return dataclasses.replace(res, confident=False)

    monkeypatch.setattr(engine_module.QAEngine, "ask", never_confident)
    code = main(["ask", "--index", str(index_dir), "--reader", str(reader_dir), "--backend", "torch",
                 "What treats asthma?"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.index("cleared the confidence threshold") < out.index("Best candidate (not confident, ") \
        < out.index("Closest passages:")


def test_cli_text_prints_an_answer_that_crosses_line_breaks_on_one_line(setup, capsys, monkeypatch):
    """A span across a bulleted page's lines ("Shortness of breath\n\nDizziness") stays on one
    terminal line, in the list and in the numbered answers."""
    from pipeline import engine as engine_module

    index_dir, reader_dir = setup
    real = engine_module.QAEngine.ask

    def multiline(self, *a, **kw):
        res = real(self, *a, **kw)
        top = res.answers[0]
        broken = dataclasses.replace(top, answer=dataclasses.replace(top.answer, text="Shortness of breath\n\nDizziness"))
        return dataclasses.replace(res, confident=True, answers=(broken,), list_answer=(broken,))

    monkeypatch.setattr(engine_module.QAEngine, "ask", multiline)
    assert main(["ask", "--index", str(index_dir), "--reader", str(reader_dir), "--backend", "torch",
                 "Which drugs treat gout attacks?"]) == 0
    out = capsys.readouterr().out
    assert "List answer: Shortness of breath Dizziness (" in out and "1. Shortness of breath Dizziness   (" in out


def test_models_read_the_american_spelling_while_the_user_sees_their_own(setup, monkeypatch):
    index_dir, reader_dir = setup
    engine = QAEngine(EngineConfig(index_dir=index_dir, reader=ReaderConfig(model=str(reader_dir), backend="torch")))
    engine.warm_up()
    read, embedded = [], []
    real_read, real_embed = engine.reader.read, engine.retriever.embed
    monkeypatch.setattr(engine.reader, "read", lambda q, *a, **kw: read.append(q) or real_read(q, *a, **kw))
    monkeypatch.setattr(engine.retriever, "embed", lambda q: embedded.append(q) or real_embed(q))
    result = engine.ask("What causes gout with oedema?")
    assert result.question == "What causes gout with oedema?"
    assert read == embedded == ["What causes gout with edema?"]
    assert engine.search("Gout and oedema").question == "Gout and oedema"
    assert embedded[-1] == "Gout and edema"
    engine.close()
