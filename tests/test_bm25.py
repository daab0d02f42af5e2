import numpy as np
import pytest
from rank_bm25 import BM25Okapi

from indexer.bm25 import BM25Config, TermIndex

pytestmark = pytest.mark.unit

CORPUS = [
    "metformin lowers blood glucose in type 2 diabetes",
    "insulin therapy for type 1 diabetes",
    "beta blockers reduce heart rate and blood pressure",
    "aspirin prevents platelet aggregation after myocardial infarction",
    "statins lower ldl cholesterol and cardiovascular risk",
    "ace inhibitors treat hypertension and heart failure",
    "covid 19 vaccines reduce severe disease",
    "influenza vaccination each season",
    "glaucoma raises intraocular pressure and damages the optic nerve",
    "cataract clouds the lens of the eye",
]
QUERIES = ["blood pressure", "type diabetes insulin", "optic nerve pressure", "vaccines covid", "unknownword"]


def test_scores_agree_with_rank_bm25():
    tokens = [d.split() for d in CORPUS]
    ours = TermIndex(BM25Config(k1=1.5, b=0.75, method="robertson"))
    ours.build([f"c{i}" for i in range(len(CORPUS))], tokens)
    ref = BM25Okapi(tokens, k1=1.5, b=0.75)
    for q in QUERIES:
        # bm25s leaves out BM25's constant (k1 + 1) numerator factor: same ranking, scaled scores.
        np.testing.assert_allclose(ours.scores(q.split()) * (1.5 + 1), ref.get_scores(q.split()), rtol=1e-5, atol=1e-6)


def test_search_top_k_order_mask_and_roundtrip(tmp_path):
    tokens = [d.split() for d in CORPUS]
    ids = [f"c{i}" for i in range(len(CORPUS))]
    index = TermIndex(BM25Config())
    index.build(ids, tokens)
    hits = index.search("blood pressure".split(), 3)
    assert hits[0][0] in {"c2", "c0"} and all(a[1] >= b[1] for a, b in zip(hits, hits[1:]))
    assert index.search(["unknownword"], 3) == []
    mask = np.array([i == 8 for i in range(len(CORPUS))])
    assert [h[0] for h in index.search("pressure".split(), 5, mask=mask)] == ["c8"]
    index.save(tmp_path / "bm25")
    assert not list((tmp_path / "bm25").rglob("*.pkl"))
    loaded = TermIndex.load(tmp_path / "bm25")
    assert loaded.search("blood pressure".split(), 3) == hits
    assert loaded.config == index.config
