"""The default reranking (RerankerConfig's depth and first-stage weight) is never worse than
the first stage alone on any dev set (recorded dev runs over a realistic index:
tests/data/rerank_dev_runs.json, regenerated with the command inside it)."""
import json
from pathlib import Path

import pytest

from retriever.rerank import RerankerConfig

pytestmark = pytest.mark.unit

RUNS = json.loads((Path(__file__).parent / "data" / "rerank_dev_runs.json").read_text())
METRICS = ("recall@1", "recall@5", "ndcg@10")


def _default_run_name() -> str:
    cfg = RerankerConfig()
    return f"rerank@{cfg.depth}" + (f" w={cfg.first_stage_weight:g}" if cfg.first_stage_weight else "")


@pytest.mark.parametrize("dataset", sorted(RUNS["datasets"]))
def test_default_reranking_is_not_worse_than_the_first_stage(dataset):
    runs = RUNS["datasets"][dataset]["runs"]
    default = runs[_default_run_name()]
    for m in METRICS:
        assert default[m] >= runs["first stage"][m], (dataset, m)


def test_the_recorded_runs_cover_both_dev_sets_and_the_default():
    assert len(RUNS["datasets"]) >= 2
    assert all(_default_run_name() in d["runs"] for d in RUNS["datasets"].values())


LEGS = json.loads((Path(__file__).parent / "data" / "fusion_dev_runs.json").read_text())["datasets"]


@pytest.mark.parametrize("rerank_name,fusion_name", [("dev.json", "COVID-QA dev"),
                                                     ("BioASQ-val-factoid.json", "BioASQ factoid dev")])
def test_reranking_beats_each_single_leg_on_the_literature_dev_sets(rerank_name, fusion_name):
    """The reranked path (`--rerank`: hybrid first stage, reranked) against BM25 alone and dense alone,
    recorded over the same index (docs/decisions.md: on paraphrased MedQuAD questions the dense
    leg alone still leads on Recall@1 and nDCG@10)."""
    default = RUNS["datasets"][rerank_name]["runs"][_default_run_name()]
    legs = LEGS[fusion_name]["runs"]
    for m in METRICS:
        assert default[m] >= max(legs["bm25"][m], legs["dense"][m]), (rerank_name, m)
