"""Faults a hospital deployment meets: re-indexing under load, a blocked network, random input."""
import json
import socket
import threading

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from indexer.writer import IndexWriter
from pipeline.engine import EngineConfig, QAEngine
from pipeline.errors import InvalidQuestionError
from pipeline.questions import clean_question
from reader.config import ReaderConfig
from reader.testing import make_tiny_qa_model

DOCS = [
    {"id": f"d{i}", "title": f"Topic {i}", "source": "demo",
     "text": f"Condition {i} is treated with drug {i}. Symptoms of condition {i} include fever and cough."}
    for i in range(6)
]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("rel")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS[:3]))
    IndexWriter(root / "index", show_progress=False).build([src])
    reader = make_tiny_qa_model(root / "reader")
    engine = QAEngine(EngineConfig(index_dir=root / "index",
                                   reader=ReaderConfig(model=str(reader), backend="torch", no_answer_threshold=0.0)))
    engine.warm_up()
    yield root, engine
    engine.close()


@pytest.mark.integration
def test_queries_keep_being_answered_while_the_index_changes(served):
    root, engine = served
    more = root / "more.jsonl"
    more.write_text("".join(json.dumps(d) + "\n" for d in DOCS[3:]))
    errors: list[BaseException] = []
    answered = 0
    done = threading.Event()

    def reindex():
        try:
            IndexWriter(root / "index", show_progress=False).add([more])
            IndexWriter(root / "index", show_progress=False).remove(["d0"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            done.set()

    t = threading.Thread(target=reindex)
    t.start()
    while not done.is_set() or answered < 3:
        result = engine.ask("How is condition 1 treated?", top_k=3)
        assert result.hits and result.answers
        answered += 1
    t.join()
    assert not errors and answered >= 3
    # the running engine still serves its loaded generation; reload picks up the new one
    assert engine.is_stale()
    engine.reload()
    assert not engine.is_stale()
    ids = {h.passage.doc_id for h in engine.search("condition 5 drug 5", top_k=10).hits}
    assert "d5" in ids and "d0" not in ids


@pytest.mark.integration
def test_nothing_leaves_the_machine(served):
    """conftest blocks every non-loopback connection; indexing and asking above ran under it."""
    _, engine = served
    with pytest.raises(RuntimeError, match="must not use the network"):
        socket.create_connection(("93.184.216.34", 443), timeout=1)
    assert engine.ask("What are the symptoms of condition 2?").answers


@pytest.mark.unit
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=3000))
def test_question_path_never_crashes_on_random_text(text):
    try:
        cleaned = clean_question(text)
    except InvalidQuestionError as err:
        assert err.hint
        return
    assert cleaned == cleaned.strip() and 0 < len(cleaned) <= 2000
    assert all(ch.isprintable() or ch == " " for ch in cleaned)


@pytest.mark.integration
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(st.text(min_size=1, max_size=400))
def test_search_and_read_never_crash_on_random_questions(served, text):
    _, engine = served
    try:
        result = engine.ask(text, top_k=2)
    except InvalidQuestionError:
        return
    for r in result.answers:
        assert r.answer.passage.text[r.answer.start:r.answer.end] == r.answer.text
