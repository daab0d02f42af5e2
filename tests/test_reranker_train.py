"""`clinqa train reranker`: negatives mining (pure), group building, metrics, and the shared
training loop on a tiny random-weight model (resume = uninterrupted)."""
import json
import random

import numpy as np
import pytest

from reader.testing import write_squad
from tasks.reranker import (
    PoolPassage, RerankQuestion, RerankTrainConfig, is_valid_negative, make_group, mine_negatives, rank_metrics,
    train_reranker,
)
from tasks.testing import make_tiny_base


def _p(pid, text, title="", lit=True):
    return PoolPassage(pid, title, text, lit)


@pytest.mark.unit
def test_a_passage_holding_the_answer_or_own_context_is_never_a_negative():
    q = RerankQuestion("q", "What treats gout?", ("p1",), frozenset({"p1", "p2"}), ("colchicine",))
    assert not is_valid_negative(q, _p("p2", "other part of the same article"))
    assert not is_valid_negative(q, _p("p3", "Colchicine is used in acute gout."))
    assert is_valid_negative(q, _p("p4", "Gout is an arthritis caused by urate."))
    corpus_q = RerankQuestion("m", "What is gout?", ("x",), frozenset({"x"}), (), "what is gout")
    assert not is_valid_negative(corpus_q, _p("y", "duplicate answer", "What is (are) gout?".replace("(are) ", "")))
    assert is_valid_negative(corpus_q, _p("z", "text", "What is asthma?"))


@pytest.mark.unit
def test_bm25_mining_finds_hard_negatives_not_positives():
    pool = {f"p{i}": _p(f"p{i}", t) for i, t in enumerate([
        "Colchicine treats acute gout attacks.", "Gout attacks are painful; urate crystals form in joints.",
        "Asthma is treated with inhaled steroids.", "Gout risk rises with alcohol intake."])}
    q = RerankQuestion("q", "What treats acute gout attacks?", ("p0",), frozenset({"p0"}), ("colchicine",))
    negs = mine_negatives([q], pool, depth=5, embed=None, progress=False)["q"]
    assert negs["bm25"][0] == "p1" and "p0" not in negs["bm25"] and negs["dense"] == []
    embed = lambda texts: np.eye(len(texts), 4)[:, :4] if len(texts) == 4 else np.ones((len(texts), 4)) / 2
    dense = mine_negatives([q], pool, depth=5, embed=embed, progress=False)["q"]["dense"]
    assert dense and "p0" not in dense


@pytest.mark.unit
def test_group_is_positive_first_then_distinct_negatives():
    q = RerankQuestion("q", "?", ("a",), frozenset({"a"}))
    rng = random.Random(0)
    g = make_group(q, {"bm25": ["b", "c"], "dense": ["c", "d"]}, ["a", "b", "c", "d", "e", "f"], 5, rng)
    assert g[0] == "a" and len(g) == len(set(g)) == 5 and "a" not in g[1:]


@pytest.mark.unit
def test_rank_metrics():
    m = rank_metrics([[True, False], [False, True], [False, False]])
    assert m["mrr"] == pytest.approx(100 * (1 + 0.5 + 0) / 3) and m["recall@1"] == pytest.approx(100 / 3)
    assert rank_metrics([])["mrr"] == 0.0


@pytest.mark.integration
def test_tiny_reranker_trains_resumes_identically_and_loads_as_reranker(tmp_path):
    from retriever.rerank import CrossEncoderReranker, RerankerConfig

    items = [(f"Condition {i} is treated with drug{i} tablets. Rest helps.", f"What treats condition {i}?", f"drug{i}")
             for i in range(12)]
    train = write_squad(tmp_path / "train.json", items)
    dev = write_squad(tmp_path / "dev.json", items[:4])
    base = make_tiny_base(tmp_path / "base")
    common = dict(base=str(base), train=(str(train),), dev=(str(dev),), group_size=3, batch_size=2, max_seq_len=64,
                  dense_negatives=False, epochs=1.0, lr=1e-3, progress=False, threads=1, seed=3)
    full = train_reranker(RerankTrainConfig(out_dir=str(tmp_path / "full"), **common))
    assert full["steps_done"] == 6 and full["best"]["mrr"] > 0
    half = train_reranker(RerankTrainConfig(out_dir=str(tmp_path / "resumed"), **common), interrupt_after=3)
    assert half == {"interrupted_at": 3}
    resumed = train_reranker(RerankTrainConfig(out_dir=str(tmp_path / "resumed"), resume=True, **common))
    assert resumed["steps_done"] == 6
    from safetensors.numpy import load_file

    a, b = load_file(tmp_path / "full" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys() and all(np.allclose(a[k], b[k], atol=1e-5) for k in a)
    assert json.loads((tmp_path / "full" / "task.json").read_text())["task"] == "reranker"
    rr = CrossEncoderReranker(RerankerConfig(model=str(tmp_path / "full"), backend="torch")).warm_up()
    assert rr.score("What treats condition 1?", [("", "Condition 1 is treated with drug1")]).shape == (1,)


@pytest.mark.unit
def test_a_title_shared_by_many_contexts_is_dropped(tmp_path):
    from tasks.reranker import GENERIC_TITLE_CONTEXTS, _Pool, _read_squad

    items = [(f"Drug{i} treats condition {i}.", f"What treats condition {i}?", f"Drug{i}")
             for i in range(GENERIC_TITLE_CONTEXTS + 1)]
    path = write_squad(tmp_path / "generic.json", items)  # one data-set title for every context
    pool = _Pool(lambda text: [(m.start(), m.end()) for m in __import__("re").finditer(r"\S+", text)])
    qs = _read_squad(path, pool, "g")
    assert qs and all(p.title == "" for p in pool.passages.values())


@pytest.mark.unit
def test_unusable_jsonl_files_are_refused_with_file_line_and_hint(tmp_path):
    import gzip

    from tasks.errors import DataFormatError
    from tasks.reranker import _Pool, load_sources

    pool = _Pool(lambda text: [(0, len(text))])
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    odd = tmp_path / "odd.jsonl.gz"
    with gzip.open(odd, "wt") as f:
        f.write('{"foo": 1}\n')
    for path, where in ((empty, "empty.jsonl: holds no records"), (odd, "odd.jsonl.gz:1: unknown JSONL records")):
        with pytest.raises(DataFormatError, match=where) as err:
            load_sources([str(path)], pool, 10, 0)
        assert err.value.hint


@pytest.mark.unit
def test_a_copy_of_the_positive_from_another_source_is_never_a_negative(tmp_path):
    """A SQuAD context cut from a corpus page that is in the pool too (our consumer-page
    annotations): the page's copy of the passage must not become its own hard negative, even
    when the answer is too short to be matched as a string ("5%")."""
    import gzip

    from tasks.reranker import _Pool, load_sources

    text = "About 5% of adults in the survey had gout."
    corpus = tmp_path / "pages.jsonl.gz"
    with gzip.open(corpus, "wt") as f:
        for i, (title, body) in enumerate([("What is Gout ?", text), ("What is Asthma ?", "Asthma narrows airways.")]):
            f.write(json.dumps({"id": f"d{i}", "title": title, "text": body}) + "\n")
    squad = write_squad(tmp_path / "annotated.json", [(text, "What share of adults had gout?", "5%")])
    pool = _Pool(lambda t: [(m.start(), m.end()) for m in __import__("re").finditer(r"\S+", t)])
    qs = [q for q in load_sources([str(corpus), str(squad)], pool, 10, 0) if q.question.startswith("What share")]
    assert len(qs) == 1 and qs[0].answers == ()  # too short to exclude by answer string
    copies = [p.pid for p in pool.passages.values() if p.text == text and p.pid not in qs[0].positives]
    assert copies and not is_valid_negative(qs[0], pool.passages[copies[0]])
    negs = mine_negatives(qs, pool.passages, depth=5, embed=None, progress=False)[qs[0].qid]
    assert copies[0] not in negs["bm25"]


@pytest.mark.unit
def test_dev_sources_sharing_a_file_stem_are_reported_apart():
    """covidqa/dev.json and consumer-squad/dev.json were merged into one "dev" row of the report."""
    from tasks.reranker import source_labels

    assert source_labels(["a/covidqa/dev.json", "b/consumer-squad/dev.json", "c/medquad.jsonl.gz"]) == [
        "covidqa/dev", "consumer-squad/dev", "medquad.jsonl"]
