"""The reranking stage: pure ordering, the cross-encoder runtime (torch and int8 ONNX), the
engine's rerank switch and depth, and the CLI/JSON contract."""
import json
from types import MappingProxyType

import numpy as np
import pytest

from indexer.writer import IndexWriter
from pipeline.engine import EngineConfig, QAEngine
from pipeline.errors import PipelineError
from reader.config import ReaderConfig
from reader.testing import make_tiny_qa_model
from retriever.errors import RetrieverError
from retriever.rerank import CrossEncoderReranker, RerankerConfig, blend_scores, rerank_order
from retriever.types import Hit
from store.types import Passage
from tasks.testing import make_tiny_reranker
from ui.cli import main


def _hit(i: int, text: str, score: float = 0.5) -> Hit:
    p = Passage(chunk_id=f"c{i}", doc_id=f"d{i}", order=0, text=text, start=0, end=len(text), title=f"T{i}")
    return Hit(p, score, MappingProxyType({"bm25": i + 1}), MappingProxyType({"bm25": score}), retrieval_rank=i + 1)


@pytest.mark.unit
def test_rerank_order_sorts_by_score_and_keeps_first_stage_order_on_ties():
    assert rerank_order([0.1, 0.9, 0.5], [1, 2, 3]) == [1, 2, 0]
    assert rerank_order([0.5, 0.5, 0.7], [2, 1, 3]) == [2, 1, 0]
    assert rerank_order([], []) == []


@pytest.mark.unit
def test_rerank_order_blends_the_first_stage_score_when_asked():
    # logits 0 and 0.4: sigmoid 0.5 and ~0.599; first-stage scores 1.0 and 0.2
    assert rerank_order([0.0, 0.4], [1, 2], [1.0, 0.2], 0.0) == [1, 0]  # reranker alone
    assert rerank_order([0.0, 0.4], [1, 2], [1.0, 0.2], 0.3) == [0, 1]  # 0.65 vs 0.479
    assert rerank_order([0.0, 0.4], [1, 2], None, 0.3) == [1, 0]  # no first-stage scores: reranker alone
    # calibrated probabilities replace sigmoid(logit): 0.7*0.1+0.3*1.0=0.37 vs 0.7*0.9+0.3*0.2=0.69
    assert rerank_order([0.0, 0.4], [1, 2], [1.0, 0.2], 0.3, probabilities=[0.1, 0.9]) == [1, 0]
    with pytest.raises(RetrieverError, match="first_stage_weight"):
        RerankerConfig(first_stage_weight=1.0)


@pytest.mark.unit
@pytest.mark.parametrize("kwargs, match", [
    ({"depth": 0}, "depth"), ({"backend": "tpu"}, "backend"), ({"max_seq_len": 4}, "max_seq_len"),
    ({"batch_size": 0}, "batch_size"), ({"blend_dense_weight": 1.2}, "blend_dense_weight"),
])
def test_reranker_config_refuses_bad_values_with_a_hint(kwargs, match):
    with pytest.raises(RetrieverError, match=match) as err:
        RerankerConfig(**kwargs)
    assert err.value.hint


@pytest.mark.unit
def test_blend_scores_use_the_fused_score_or_re_fuse_the_legs():
    hits = [Hit(_hit(0, "a").passage, 0.6, scores=MappingProxyType({"bm25": 8.0, "dense": 0.2})),
            Hit(_hit(1, "b").passage, 0.45, scores=MappingProxyType({"dense": 0.9}))]
    assert blend_scores(hits, None) == [0.6, 0.45]
    # dense weight 0.7: a = 0.3 * 8/8 + 0.7 * 0.2, b = 0.7 * 0.9; the dense-only hit now leads the blend
    assert blend_scores(hits, 0.7) == pytest.approx([0.44, 0.63])


@pytest.mark.unit
def test_missing_reranker_directory_says_how_to_get_one(tmp_path):
    with pytest.raises(RetrieverError, match="not found") as err:
        CrossEncoderReranker(RerankerConfig(model=str(tmp_path / "nope"))).warm_up()
    assert "clinqa train reranker" in err.value.hint and "--no-rerank" in err.value.hint


@pytest.fixture(scope="module")
def tiny_reranker(tmp_path_factory):
    return make_tiny_reranker(tmp_path_factory.mktemp("rr") / "reranker", head_scale=5.0)


@pytest.mark.integration
def test_rerank_reorders_by_cross_encoder_and_records_evidence(tiny_reranker):
    rr = CrossEncoderReranker(RerankerConfig(model=str(tiny_reranker), backend="torch", depth=3)).warm_up()
    hits = [_hit(i, t) for i, t in enumerate(["gout and uric acid", "asthma inhalers", "colchicine dosing", "late"])]
    logits = rr.score("What causes gout?", [(h.passage.title, h.passage.text) for h in hits[:3]])
    out = rr.rerank("What causes gout?", hits, top_k=2)
    assert len(out) == 2  # depth 3 considered, top_k 2 returned
    order = list(np.argsort(-logits, kind="stable"))
    assert [h.passage.chunk_id for h in out] == [f"c{order[0]}", f"c{order[1]}"]
    for rank, h in enumerate(out, 1):
        assert h.rerank_rank == rank and h.rerank_score == pytest.approx(float(logits[int(h.passage.chunk_id[1:])]))
        assert 0.0 < h.rerank_probability < 1.0 and h.relevance == h.rerank_probability
        assert h.retrieval_rank == int(h.passage.chunk_id[1:]) + 1
        d = h.to_dict()
        assert d["rerank"] == {"score": h.rerank_score, "probability": h.rerank_probability,
                               "blend": h.rerank_blend, "rank": rank}
        # Default blend: legs re-fused at dense weight 0.7; these hits hold BM25 only (all 0.5 -> 1.0 each,
        # at BM25's 0.3 share).
        w, bd = rr.config.first_stage_weight, rr.config.blend_dense_weight
        assert h.rerank_blend == pytest.approx((1 - w) * h.rerank_probability + w * (1 - bd) * 1.0)
        assert d["retrieval_rank"] == h.retrieval_rank
    assert rr.rerank("q", []) == []


@pytest.mark.integration
def test_int8_onnx_reranker_agrees_with_torch(tiny_reranker, tmp_path):
    from tasks.export import export_task_model

    out = tmp_path / "onnx"
    export_task_model(tiny_reranker, out, kind="classify", onnx_only=True)
    assert (out / "model_int8.onnx").is_file()
    texts = [("T", "gout is caused by uric acid"), ("T", "asthma narrows airways"), ("", "colchicine")]
    ref = CrossEncoderReranker(RerankerConfig(model=str(tiny_reranker), backend="torch")).score("gout?", texts)
    onnx = CrossEncoderReranker(RerankerConfig(model=str(out), backend="onnx"))
    got = onnx.score("gout?", texts)
    assert onnx.describe().endswith("[onnx:model_int8.onnx]")
    # int8 dynamic quantisation moves logits a little (a random tiny model's logits are close
    # together, so their order is not a fair check here; the benchmark checks ranking quality).
    assert np.allclose(ref, got, atol=0.25 * max(1.0, float(np.abs(ref).max())))


DOCS = [
    {"id": f"d{i}", "title": t, "source": "demo", "text": x}
    for i, (t, x) in enumerate([
        ("Gout", "Gout is caused by uric acid crystals in the joints. Colchicine treats acute attacks."),
        ("Asthma", "Asthma narrows the airways. Inhaled corticosteroids control inflammation."),
        ("Glaucoma", "Open-angle glaucoma is treated first with prostaglandin eye drops such as latanoprost."),
        ("Migraine", "Migraine attacks respond to triptans; propranolol prevents them."),
    ])
]


@pytest.fixture(scope="module")
def index_and_models(tmp_path_factory, tiny_reranker):
    root = tmp_path_factory.mktemp("rerank-engine")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    IndexWriter(root / "index", show_progress=False).build([src])
    return root / "index", make_tiny_qa_model(root / "reader"), tiny_reranker


@pytest.mark.integration
def test_engine_reranks_by_default_and_can_switch_off(index_and_models):
    index_dir, reader_dir, rr_dir = index_and_models
    engine = QAEngine(EngineConfig(index_dir=index_dir,
                                   reader=ReaderConfig(model=str(reader_dir), backend="torch"),
                                   reranker=RerankerConfig(model=str(rr_dir), backend="torch", depth=4)))
    on = engine.search("glaucoma eye drops", top_k=2)
    assert on.reranker and "cross-encoder" in on.reranker and "rerank" in on.timings_ms
    assert len(on.hits) == 2 and all(h.rerank_rank for h in on.hits)
    off = engine.search("glaucoma eye drops", top_k=2, rerank=False)
    assert off.reranker is None and all(h.rerank_score is None for h in off.hits)
    # depth decides the candidate pool: with depth 1 only the first-stage top hit can come back.
    shallow = engine.search("glaucoma eye drops", top_k=1, rerank_depth=1)
    assert shallow.hits[0].passage.chunk_id == off.hits[0].passage.chunk_id
    asked = engine.ask("What treats glaucoma first?", top_k=2)
    assert asked.reranker and all(h.rerank_rank for h in asked.hits)
    for r in asked.answers:
        assert r.relevance == pytest.approx(asked.hits[r.hit_rank - 1].rerank_probability)
    engine.close()


@pytest.mark.integration
def test_reader_reads_only_the_top_read_depth_reranked_hits(index_and_models):
    """EngineConfig.read_depth: reranked, the reader reads the top `read_depth` hits (all hits are
    still returned); first-stage hits are all read; calibrate reads through the same method."""
    index_dir, reader_dir, rr_dir = index_and_models
    read_counts = []

    def engine(read_depth):
        e = QAEngine(EngineConfig(index_dir=index_dir, read_depth=read_depth,
                                  reader=ReaderConfig(model=str(reader_dir), backend="torch"),
                                  reranker=RerankerConfig(model=str(rr_dir), backend="torch", depth=4))).warm_up()
        real = e.reader.read

        def counting(q, passages, **kw):
            read_counts.append(len(passages))
            return real(q, passages, **kw)

        e.reader.read = counting
        return e

    e = engine(2)
    asked = e.ask("What treats glaucoma first?", top_k=4)
    assert len(asked.hits) == 4 and read_counts[-1] == 2
    assert asked.answers and all(a.hit_rank <= 2 for a in asked.answers)
    e.ask("What treats glaucoma first?", top_k=4, rerank=False)
    assert read_counts[-1] == 4
    e.close()
    e = engine(None)
    e.ask("What treats glaucoma first?", top_k=4)
    assert read_counts[-1] == 4
    e.close()
    with pytest.raises(PipelineError, match="read_depth"):
        QAEngine(EngineConfig(index_dir=index_dir, read_depth=0))


@pytest.mark.integration
def test_calibrate_fits_both_features_and_can_keep_the_rerankers_calibration(index_and_models, tmp_path,
                                                                                monkeypatch):
    """python -m pipeline.calibrate end to end on tiny models: both relevance features get a
    candidate-level fit plus its top-answer rescaling, written into --out; with
    --keep-reranker-calibration the reranker's calibration.json is neither refitted nor rewritten."""
    import pipeline.calibrate as calibrate_mod

    index_dir, reader_dir, rr_dir = index_and_models
    qs = [("What treats glaucoma first?", "latanoprost"), ("What treats acute gout?", "Colchicine"),
          ("What prevents migraine?", "propranolol"), ("What controls asthma?", "Inhaled corticosteroids")] * 3
    data = {"data": [{"title": "t", "paragraphs": [{"context": DOCS[0]["text"], "qas": [
        {"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": 0}]} for i, (q, a) in enumerate(qs)]}]}]}
    dataset = tmp_path / "dev.json"
    dataset.write_text(json.dumps(data))
    # A random tiny reader is never right: label by span length instead, so both classes occur.
    monkeypatch.setattr(calibrate_mod, "squad_scores", lambda pred, golds: (0.0, float(len(pred) % 2 == 0)))
    rr_cal = (rr_dir / "calibration.json")
    before = rr_cal.read_text() if rr_cal.exists() else None
    out = tmp_path / "calibration.json"
    assert calibrate_mod.main(["--index", str(index_dir), "--dataset", str(dataset), "--reader", str(reader_dir),
                               "--reranker", str(rr_dir), "--keep-reranker-calibration", "--top-k", "4",
                               "--out", str(out)]) == 0
    block = json.loads(out.read_text())["open_domain"]
    for feature in ("rerank_blend", "retrieval"):
        assert {"span_weight", "relevance_weight", "bias", "threshold", "top_scale", "top_bias"} <= set(block[feature])
        assert block[feature]["top_scale"] > 0
    assert "reranker_calibration" not in block["fitted_on"]
    assert (rr_cal.read_text() if rr_cal.exists() else None) == before


@pytest.mark.integration
def test_calibrate_fits_a_source_collection_on_pattern_judged_questions(index_and_models, tmp_path, capsys):
    """--source-set PREFIX INDEX QUESTIONS fits a calibration for that collection's passages only
    (labels: the answer pattern matches the candidate); --source-sets-only keeps the literature
    fit in calibration.json, and the engine then scores that collection's answers by the new fit."""
    import pipeline.calibrate as calibrate_mod
    from pipeline.engine import load_answer_calibration

    index_dir, reader_dir, rr_dir = index_and_models
    questions = tmp_path / "consumer.jsonl"
    # A random tiny reader: a pattern of common letters makes both classes occur.
    questions.write_text("".join(json.dumps({"question": q, "answer_pattern": "[ae]s"}) + "\n" for q in (
        "What treats glaucoma first?", "What treats acute gout?", "What prevents migraine?",
        "What controls asthma?") * 3))
    out = tmp_path / "calibration.json"
    literature = {"rerank_blend": {"span_weight": 0.1, "relevance_weight": 1.0, "bias": -2.0, "threshold": 0.5}}
    out.write_text(json.dumps({"open_domain": literature}))
    assert calibrate_mod.main(["--source-sets-only", "--source-set", "demo", str(index_dir), str(questions),
                               "--reader", str(reader_dir), "--reranker", str(rr_dir), "--top-k", "4",
                               "--out", str(out)]) == 0
    block = json.loads(out.read_text())["open_domain"]
    assert block["rerank_blend"] == literature["rerank_blend"]
    fits = block["by_source"]["demo"]
    assert {"rerank_blend", "retrieval"} <= set(fits) and fits["fitted_on"]["questions"] == 12
    assert 0 < fits["fitted_on"]["rerank_blend"]["candidate_accuracy"] < 100
    assert fits["fitted_on"]["retrieval"]["questions"] == 12 and fits["fitted_on"]["retrieval"]["file"] == str(questions)
    cal_dir = tmp_path / "reader"
    cal_dir.mkdir()
    (cal_dir / "calibration.json").write_text(out.read_text())
    cals = load_answer_calibration(cal_dir, "rerank_blend")
    assert cals.named_for_source("demo")[1].to_dict() == fits["rerank_blend"]
    assert cals.named_for_source("PubMed")[1].to_dict()["bias"] == -2.0
    engine = calibrate_mod.QAEngine(calibrate_mod.EngineConfig(index_dir=index_dir, reader=calibrate_mod.ReaderConfig(
        model=str(reader_dir)))).warm_up()
    try:  # only passages of the named source become rows
        for qi, pq in enumerate(calibrate_mod.load_pattern_questions(questions)[:2]):
            assert calibrate_mod.collect(engine, pq.question, pq.judge, False, 4, qi, "other") == []
    finally:
        engine.close()
    # A prefix no passage has is refused with the way to list the index's sources, and nothing is written.
    before = out.read_text()
    assert calibrate_mod.main(["--source-sets-only", "--source-set", "other", str(index_dir), str(questions),
                               "--reader", str(reader_dir), "--top-k", "4", "--limit", "2", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "no answer candidate to fit on for source 'other'" in err and "clinqa index info" in err
    assert out.read_text() == before


@pytest.mark.integration
def test_cli_rerank_options_and_json(index_and_models, capsys):
    index_dir, reader_dir, rr_dir = index_and_models
    base = ["search", "--index", str(index_dir), "--json", "--top-k", "2", "glaucoma eye drops"]
    assert main(base + ["--reranker", str(rr_dir), "--rerank-depth", "4"]) == 0
    hits = json.loads(capsys.readouterr().out)["hits"]
    assert [h["rerank"]["rank"] for h in hits] == [1, 2]
    assert main(base + ["--no-rerank"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["reranker"] is None and all(h["rerank"] is None for h in out["hits"])
    # By default (and with --rerank) the shipped models/reranker reorders; hits past the rerank
    # depth follow in first-stage order.
    for on in ([], ["--rerank"]):
        assert main(base + on + ["--rerank-depth", "1"]) == 0
        out = json.loads(capsys.readouterr().out)
        assert "models/reranker" in out["reranker"] and len(out["hits"]) == 2
        assert out["hits"][0]["rerank"]["rank"] == 1 and out["hits"][1]["rerank"] is None
    assert main(base + ["--reranker", str(rr_dir), "--rerank-depth", "0"]) == 1
    assert "rerank depth" in capsys.readouterr().err


@pytest.mark.unit
def test_reranking_is_on_by_default_and_no_rerank_switches_it_off():
    import argparse

    from pipeline import cli_options

    parser = argparse.ArgumentParser()
    cli_options.add_rerank_args(parser)
    assert cli_options.reranker_config(parser.parse_args([])) == RerankerConfig()
    assert cli_options.reranker_config(parser.parse_args(["--no-rerank"])) is None
    assert cli_options.reranker_config(parser.parse_args(["--rerank"])) == RerankerConfig()
    assert cli_options.reranker_config(parser.parse_args(["--rerank-depth", "7"])).depth == 7
    assert cli_options.reranker_config(parser.parse_args(["--reranker", "x/y"])).model == "x/y"


@pytest.mark.integration
def test_int8_onnx_dequantises_back_to_a_trainable_torch_model(tiny_reranker, tmp_path):
    """tasks.dequantize rebuilds float32 weights from an --onnx-only export: the result
    scores like the ONNX model it came from and can be trained further (warm start)."""
    import torch
    from safetensors.numpy import load_file
    from transformers import AutoModelForSequenceClassification

    from tasks.dequantize import onnx_to_torch
    from tasks.export import export_task_model
    from tasks.errors import TaskError

    onnx_dir = tmp_path / "onnx"
    export_task_model(tiny_reranker, onnx_dir, kind="classify", onnx_only=True)
    report = onnx_to_torch(onnx_dir, tmp_path / "fp32")
    assert report["max_abs_diff"] < 0.05 * max(1.0, float(np.abs(report["onnx_int8"]).max()))
    weights = load_file(tmp_path / "fp32" / "model.safetensors")
    assert all(v.dtype == np.float32 for v in weights.values())
    ref = load_file(tiny_reranker / "model.safetensors")
    # Every linear layer lands in its own module: dequantised weights sit near the trained ones.
    for name in ("bert.encoder.layer.1.attention.self.query.weight", "bert.encoder.layer.0.output.dense.weight",
                 "classifier.weight", "bert.pooler.dense.weight"):
        w = ref[name].astype(np.float32)
        assert np.allclose(weights[name], w, atol=np.abs(w).max() / 100), name  # int8: half a step of 1/255
    model = AutoModelForSequenceClassification.from_pretrained(tmp_path / "fp32", num_labels=1)
    model.train()
    loss = model(input_ids=torch.tensor([[101, 2000, 102]])).logits.sum()
    loss.backward()
    assert model.classifier.weight.grad is not None
    with pytest.raises(TaskError, match="model_int8.onnx"):
        onnx_to_torch(tmp_path / "nowhere", tmp_path / "x")
