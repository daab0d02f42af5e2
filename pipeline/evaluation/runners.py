"""The three evaluations: reader on gold contexts, retrieval over an index, end-to-end QA.

Each returns an `EvalResult` (metrics, per-question predictions, provenance, plot data);
`report.py` turns it into files and the CLI into JSON or text. Questions are processed in
file order and nothing is sampled, so the same inputs give the same numbers.
"""
from __future__ import annotations

import logging
import subprocess
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from tqdm.auto import tqdm

from common.paths import check_home, minilm_path
from indexer.dense import EncoderConfig
from indexer.manifest import read_manifest
from indexer.writer import IndexConfig, IndexWriter
from pipeline.batch import run_questions
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.datasets import QADataset, RetrievalDataset, beir_corpus_as_jsonl, beir_files
from pipeline.evaluation.errors import EvaluationError, MissingModelError
from pipeline.evaluation.metrics import (BIOASQ_MAX_ANSWERS, RECALL_CURVE_CUTOFFS, bioasq_key, distinct_answers,
    doc_ranking, expected_calibration_error, factoid_metrics, factoid_scores, hit_at, latency_percentiles, list_metrics,
    list_scores, mean_pct, reliability_bins, retrieval_metrics, squad_scores)
from pipeline.questions import model_question
from pipeline.ranking import Candidate, list_answer, score_candidates
from reader import config as reader_settings
from reader.config import ReaderConfig
from reader.reader import ExtractiveReader
from retriever import RetrieverConfig
from retriever.fusion import Fused
from retriever.rerank import blend_scores
from retriever.retriever import fuse
from store.types import Passage

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
CORRECT_F1 = 0.5  # an answer counts as correct at SQuAD F1 >= 0.5 (reader.calibration)
DENSE_WEIGHT_GRID = (0.3, 0.5, 0.7)
SINGLE_LEGS = ("bm25", "dense")


@dataclass
class EvalResult:
    task: str  # "reader" | "retrieval" | "e2e"
    metrics: dict[str, float]  # the primary run's metrics (stable JSON keys)
    config: dict[str, Any]  # provenance: models, index manifest hash, dataset sha256, git commit
    predictions: list[dict[str, Any]] = field(default_factory=list)
    runs: dict[str, dict[str, float]] = field(default_factory=dict)  # retrieval: every run evaluated
    curves: dict[str, dict[int, float]] = field(default_factory=dict)  # run -> {k: recall@k}
    reliability: list[dict[str, float]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"task": self.task, "metrics": self.metrics, "config": self.config}
        if self.runs:
            out["runs"] = self.runs
        return out


class ReaderLike(Protocol):
    def read(self, question: str, passages: Sequence[Passage], top_k: int | None = None) -> Any: ...


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:  # not a git checkout (e.g. an installed copy), or no commit yet
        return None
    return out.stdout.strip() or None


def _bar(items: Sequence[Any], desc: str, progress: bool):
    return tqdm(items, desc=desc, unit="q", disable=not progress, leave=False)


# -- readers -------------------------------------------------------------------------
def base_reader_dir(cache: Path) -> Path:
    """MiniLM with a freshly initialised QA head (seed 0): the 'untrained' baseline.

    Saved once so every run reads the same weights; a random head drawn per run would make
    the baseline non-deterministic.
    """
    out = cache / "minilm-fresh-qa-head"
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    torch.manual_seed(0)
    model = AutoModelForQuestionAnswering.from_pretrained(minilm_path())
    cache.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".base-reader-", dir=cache))  # same filesystem, so the rename is atomic
    model.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(minilm_path()).save_pretrained(tmp)
    tmp.rename(out)
    return out


def reader_config(spec: str | None, backend: str | None, cache: Path) -> Any:
    """`None`/"shipped" = models/reader-mpnet; "base" = untrained MiniLM + fresh QA head; else a local model directory."""

    if spec in (None, "shipped"):
        if not reader_settings.DEFAULT_MODEL_DIR.is_dir():
            check_home(MissingModelError, also="or pass --reader PATH")
            raise MissingModelError(
                f"the shipped reader is not there yet: {reader_settings.DEFAULT_MODEL_DIR} does not exist",
                "train it (clinqa train reader ...) or pass --reader PATH, or --reader base for the untrained baseline",
            )
        return ReaderConfig(**({"backend": backend} if backend else {}))
    if spec == "base":
        # No ONNX export exists for the fresh head; it runs in torch.
        return ReaderConfig(model=str(base_reader_dir(cache)), backend="torch")
    if not Path(spec).exists():  # offline: a reader must be a local directory
        raise MissingModelError(f"reader {spec!r} not found", "pass a model directory, 'shipped' or 'base'")
    return ReaderConfig(model=spec, **({"backend": backend} if backend else {}))


def load_reader(config: Any) -> Any:
    reader = ExtractiveReader(config)
    reader.warm_up()
    return reader


def describe_reader(reader: Any, fallback: str) -> str:
    describe = getattr(reader, "describe", None)
    return describe() if callable(describe) else fallback


# -- reader on gold contexts -----------------------------------------------------------
def gold_passages(item_id: str, contexts: Sequence[Any]) -> list[Passage]:
    return [
        Passage(chunk_id=f"{item_id}#{i}", doc_id=c.doc_id, order=i, text=c.text, start=0, end=len(c.text), title=c.title)
        for i, c in enumerate(contexts)
    ]


def evaluate_reader(
    ds: QADataset,
    reader: ReaderLike,
    reader_name: str,
    n_best: int = 20,
    list_threshold: float | None = None,
    progress: bool = True,
) -> EvalResult:
    """Read each question over its gold contexts (all snippets of a BioASQ question at once,
    so the reader ranks candidates from every snippet in one list).

    SQuAD: EM/F1 of the top answer. BioASQ factoid: strict/lenient/MRR over the top 5
    distinct answers (plus EM/F1 of the top one). BioASQ list: the distinct answers whose
    probability clears `list_threshold` (default: the reader's own no-answer threshold),
    at least the top one.
    """
    preds: list[dict[str, Any]] = []
    squad, factoid, lists, probs, correct, latency = [], [], [], [], [], []
    for item in _bar(ds.items, f"reader {ds.path.name}", progress):
        t0 = time.perf_counter()
        out = reader.read(item.question, gold_passages(item.id, item.contexts), top_k=n_best)
        latency.append((time.perf_counter() - t0) * 1000)
        answers = list(out.answers)
        # The reader's own order (support summed over snippets, see ReaderConfig.merge), with
        # each distinct answer's best calibrated probability alongside.
        order = distinct_answers(((a.text, a.support or a.probability) for a in answers), limit=None)
        best_p: dict[str, float] = {}
        for a in answers:
            best_p[bioasq_key(a.text)] = max(best_p.get(bioasq_key(a.text), 0.0), float(a.probability))
        ranked = [(t, best_p[bioasq_key(t)]) for t, _ in order]
        top_text = answers[0].text if answers else ""
        top_prob = float(answers[0].probability) if answers else 0.0
        em, f1 = squad_scores(top_text, item.answers)
        squad.append((em, f1))
        row: dict[str, Any] = {
            "id": item.id, "question": item.question, "gold": list(item.answers),
            "answers": [{"text": t, "probability": p} for t, p in ranked[:BIOASQ_MAX_ANSWERS]],
            "exact_match": em, "f1": f1,
        }
        ok = em == 1.0
        if ds.question_type == "factoid":
            s, l, rr = factoid_scores([t for t, _ in ranked], item.answers)
            factoid.append((s, l, rr))
            row.update(strict=s, lenient=l, rr=rr)
            ok = s == 1.0
        elif ds.question_type == "list":
            cut = out.no_answer_threshold if list_threshold is None else list_threshold
            # The product's list rule (pipeline.ranking.list_answer), on gold passages.
            cands = [Candidate(t, 0.0, p, i, 0.0, 1.0) for i, (t, p) in enumerate(ranked)]
            chosen = [x.candidate.text for x in list_answer(score_candidates(cands, None), cut)]
            chosen = chosen or [t for t, _ in ranked[:1]]
            p, r, f = list_scores(chosen, item.answers)
            lists.append((p, r, f))
            row.update(list=chosen, list_precision=p, list_recall=r, list_f1=f)
        probs.append(top_prob)
        correct.append(ok)
        preds.append(row)
    metrics: dict[str, float] = {
        "exact_match": mean_pct([e for e, _ in squad]),
        "f1": mean_pct([f for _, f in squad]),
        "n": len(ds.items),
    }
    if ds.question_type == "factoid":
        metrics.update(factoid_metrics(factoid))
    elif ds.question_type == "list":
        metrics.update(list_metrics(lists))
    metrics["ece"] = expected_calibration_error(probs, correct)
    metrics.update(latency_percentiles(latency))
    config = {
        "dataset": str(ds.path), "dataset_sha256": ds.sha256, "format": ds.format, "question_type": ds.question_type,
        "reader": reader_name, "n_best": n_best, "list_threshold": list_threshold, "git_commit": git_commit(),
    }
    return EvalResult("reader", metrics, config, preds, reliability=reliability_bins(probs, correct))


# -- retrieval ---------------------------------------------------------------------------
RERANK_SUFFIX = "+rerank"


def run_names(mode: str, fusion: str | None = None, dense_weight: float | None = None,
              grid: Sequence[float] = DENSE_WEIGHT_GRID, rerank: bool = False) -> list[str]:
    """Runs to evaluate. "hybrid" is exactly what `clinqa search --mode hybrid` ranks (the
    default RetrieverConfig), and `--fusion`/`--dense-weight` give what search ranks with the
    same flags (convex = "hybrid-abs-W", search's absolute normalisation; the min-max
    "hybrid-convex-W" runs are comparisons in `all` only); "+rerank" runs add the
    cross-encoder on top, as `clinqa search` does by default. `all` = both legs, hybrid RRF, hybrid convex over the weight grid, and
    the default hybrid with and without reranking."""
    if mode == "all":
        runs = ["bm25", "dense", "hybrid-rrf", *[f"hybrid-convex-{w:g}" for w in grid],
                *[f"hybrid-abs-{w:g}" for w in grid], "hybrid"]
    elif mode == "hybrid":
        if fusion is None and dense_weight is None:
            runs = ["hybrid"]
        elif (fusion or "convex") == "rrf":
            runs = ["hybrid-rrf"]
        else:  # search's own convex fusion (absolute normalisation) at that weight
            runs = [f"hybrid-abs-{RetrieverConfig().dense_weight if dense_weight is None else dense_weight:g}"]
    elif mode in SINGLE_LEGS:
        runs = [mode]
    else:
        raise EvaluationError(f"unknown retrieval mode {mode!r}", "use bm25, dense, hybrid or all")
    if rerank:
        runs.append(runs[-1] + RERANK_SUFFIX)
    return runs


def _run_config(name: str, depth: int) -> Any:
    name = name.removesuffix(RERANK_SUFFIX)
    if name in SINGLE_LEGS:
        return RetrieverConfig(mode=name, top_k=depth)
    if name == "hybrid":
        return RetrieverConfig(mode="hybrid", top_k=depth)  # the product's default fusion
    if name == "hybrid-rrf":
        return RetrieverConfig(mode="hybrid", top_k=depth, fusion="rrf")
    # hybrid-convex-W: min-max normalised legs; hybrid-abs-W: absolute normalisation (cosine, BM25 TMM)
    norm = "absolute" if name.startswith("hybrid-abs-") else "minmax"
    return RetrieverConfig(mode="hybrid", top_k=depth, fusion="convex", dense_weight=float(name.rsplit("-", 1)[1]),
                           normalisation=norm)


def describe_fusion(cfg: Any) -> dict[str, Any]:
    """The fusion a run used, for the JSON provenance."""
    if cfg.mode != "hybrid":
        return {"mode": cfg.mode}
    if cfg.fusion == "rrf":
        return {"mode": "hybrid", "fusion": "rrf", "rrf_k": cfg.rrf_k}
    return {"mode": "hybrid", "fusion": cfg.fusion, "dense_weight": cfg.dense_weight,
            "normalisation": cfg.normalisation}


def open_engine(index_dir: Path, reader: Any = None, depth: int = 10, mode: str = "hybrid",
                reranker: Any = None) -> Any:
    read_manifest(index_dir)  # a clear "no index here" error before any model loads
    return QAEngine(EngineConfig(index_dir=index_dir, retriever=RetrieverConfig(mode=mode, top_k=depth), reader=reader,
                                 reranker=reranker))


def rerank_blend_config(reranker: Any) -> dict[str, Any] | None:
    """How reranked hits were ordered, for the JSON provenance (RerankerConfig's blend)."""
    if reranker is None:
        return None
    return {"first_stage_weight": reranker.config.first_stage_weight,
            "blend_dense_weight": reranker.config.blend_dense_weight}


def rerank_ranking(reranker: Any, question: str, chunks: Sequence[str], passages: dict[str, Passage],
                   depth: int, first_stage: Sequence[Fused]) -> list[str]:
    """`chunks` with its first `depth` reordered by the cross-encoder (blended with the
    first stage as the reranker's config says: `blend_scores` of `first_stage`, the fused
    results of `chunks` in the same order, then CrossEncoderReranker.order) and the rest kept
    in first-stage order: its top k equals what `clinqa search --top-k k` returns for any
    k <= depth."""
    top = list(chunks[:depth])
    order, _, _, _ = reranker.order(question, [(passages[c].title, passages[c].text) for c in top],
                                    blend_scores(first_stage[:depth], reranker.config.blend_dense_weight))
    return [top[i] for i in order] + list(chunks[depth:])


def evaluate_retrieval(
    index_dir: Path, ds: RetrievalDataset, runs: Sequence[str], depth: int = 100, progress: bool = True,
    reranker: Any = None,
) -> EvalResult:
    """Each leg is searched once per query; every run (single legs, RRF, convex weights, the
    default hybrid) is fused from those lists with the retriever's own `fuse`, exactly as
    `clinqa search --top-k depth` would rank them; "+rerank" runs then reorder the top
    `reranker.depth` with the cross-encoder. Chunks map to their documents; a document
    ranks at its best chunk."""

    if any(r.endswith(RERANK_SUFFIX) for r in runs) and reranker is None:
        raise EvaluationError("a +rerank run needs a reranker", "pass a RerankerConfig, or use --no-rerank")
    engine = open_engine(index_dir, depth=depth, reranker=reranker).warm_up(with_reader=False)
    try:
        retriever, backend = engine.retriever, engine.index.backend
        gold = sorted({d for rel in ds.qrels.values() for d in rel})
        in_index = len(backend.existing(gold))
        if in_index < len(gold):
            log.warning(
                "%d of %d relevant documents are not in the index %s, so no retriever can find them; "
                "to evaluate on the dataset's own documents pass --build-index", len(gold) - in_index, len(gold), index_dir,
            )
        configs = {name: _run_config(name, depth) for name in runs}
        need = {leg for cfg in configs.values() for leg in (SINGLE_LEGS if cfg.mode == "hybrid" else (cfg.mode,))}
        leg_mode = "hybrid" if len(need) == 2 else next(iter(need))
        fetch = depth * next(iter(configs.values())).candidate_multiplier
        chunk_doc: dict[str, str] = {}
        passages: dict[str, Passage] = {}
        rankings: dict[str, dict[str, list[str]]] = {name: {} for name in runs}
        latency, rerank_latency, preds = [], [], []
        for qid, text in _bar(list(ds.queries.items()), f"retrieve {ds.path.name}", progress):
            t0 = time.perf_counter()
            q = model_question(text)
            legs = retriever.legs(q, fetch, leg_mode)
            latency.append((time.perf_counter() - t0) * 1000)
            row: dict[str, Any] = {"id": qid, "question": text, "gold": sorted(ds.qrels[qid])}
            for name, cfg in configs.items():
                sub = {leg: legs[leg] for leg in legs if cfg.mode == "hybrid" or leg == cfg.mode}
                fused = {f.id: f for f in fuse(sub, cfg)[:depth]}
                unknown = [c for c in fused if c not in passages]
                if unknown:
                    found = backend.passages(unknown)
                    passages.update(found)
                    chunk_doc.update({c: p.doc_id for c, p in found.items()})
                chunks = [c for c in fused if c in passages]
                if name.endswith(RERANK_SUFFIX):
                    t1 = time.perf_counter()
                    chunks = rerank_ranking(engine.reranker, q, chunks, passages, engine.reranker.config.depth,
                                            [fused[c] for c in chunks])
                    rerank_latency.append((time.perf_counter() - t1) * 1000)
                docs = doc_ranking(chunks, chunk_doc)
                rankings[name][qid] = docs
                row[name] = docs[:20]  # enough to inspect; the metrics use the full ranking
            preds.append(row)
        metrics_by_run = {name: retrieval_metrics(ds.qrels, rankings[name]) for name in runs}
        curves = {
            name: {int(k.split("@")[1]): v for k, v in retrieval_metrics(
                ds.qrels, rankings[name], cutoffs=RECALL_CURVE_CUTOFFS, extra=()).items() if k != "n"}
            for name in runs
        }
        primary = primary_run(runs)
        metrics = {**metrics_by_run[primary], **latency_percentiles(latency)}
        if rerank_latency:
            metrics.update({f"rerank_{k}": v for k, v in latency_percentiles(rerank_latency).items()})
        config = {
            "dataset": str(ds.path), "dataset_sha256": ds.sha256, "index": str(index_dir),
            "index_manifest_hash": engine.index.manifest_hash, "encoder": engine.index.encoder_model,
            "relevant_docs_in_index": f"{in_index}/{len(gold)}",
            "runs": list(runs), "primary_run": primary, "depth": depth, "git_commit": git_commit(),
            "fusion": {name: describe_fusion(cfg) for name, cfg in configs.items()},
            "reranker": engine.reranker.describe() if engine.reranker is not None else None,
            "rerank_depth": engine.reranker.config.depth if engine.reranker is not None else None,
            "rerank_blend": rerank_blend_config(engine.reranker),
        }
    finally:
        engine.close()
    return EvalResult("retrieval", metrics, config, preds, runs=metrics_by_run, curves=curves)


def primary_run(runs: Sequence[str]) -> str:
    """The run that stands for the product: the reranked default hybrid when evaluated, else
    the default hybrid, else the first hybrid run, else the first run."""
    for want in ("hybrid" + RERANK_SUFFIX, "hybrid"):
        if want in runs:
            return want
    return next((n for n in runs if n.endswith(RERANK_SUFFIX)), next((n for n in runs if n.startswith("hybrid")), runs[0]))


# -- end to end ------------------------------------------------------------------------
def evaluate_e2e(
    index_dir: Path, ds: QADataset, reader_cfg: Any, reader_name: str, top_k: int = 10, mode: str = "hybrid",
    top_answers: int = 5, progress: bool = True, reranker: Any = None, ray: Any = None,
) -> EvalResult:
    """Open-domain QA over the whole index, as `clinqa ask` answers: the top answer's EM/F1,
    whether any of the top answers matches, whether a gold document was retrieved, the
    expected calibration error of the shown probability (correct = F1 >= 0.5, the rule the
    calibration is fitted with), and latency. `ray` (an `indexer.distributed.RayConfig`)
    answers the questions on a Ray actor pool instead of one by one."""
    engine = open_engine(index_dir, reader=reader_cfg, depth=top_k, mode=mode, reranker=reranker).warm_up(
        with_reader=True)
    try:
        done = None
        if ray is not None:
            done = iter(run_questions(engine.config, [item.question for item in ds.items], "ask",
                                      {"top_k": top_k, "mode": mode, "top_answers": top_answers}, ray))
        em_f1, any_match, gold_hit, latency, probs, correct, factoid, preds = [], [], [], [], [], [], [], []
        for item in _bar(ds.items, f"e2e {ds.path.name}", progress):
            res = next(done) if done else engine.ask(item.question, top_k=top_k, mode=mode, top_answers=top_answers)
            texts = [r.answer.text for r in res.answers]
            em, f1 = squad_scores(texts[0] if texts else "", item.answers)
            em_f1.append((em, f1))
            any_match.append(any(squad_scores(t, item.answers)[0] == 1.0 for t in texts[:top_answers]))
            docs = list(dict.fromkeys(h.passage.doc_id for h in res.hits))
            gold = {c.doc_id for c in item.contexts}
            gold_hit.append(hit_at(docs, gold))
            latency.append(res.timings_ms["total"])
            probs.append(float(res.answers[0].final_score) if res.answers else 0.0)
            correct.append(f1 >= CORRECT_F1)
            row: dict[str, Any] = {
                "id": item.id, "question": item.question, "gold": list(item.answers), "gold_docs": sorted(gold),
                "retrieved": docs, "confident": res.confident,
                "answers": [{"text": r.answer.text, "probability": r.final_score, "reader_probability": r.answer.probability,
                             "relevance": r.relevance, "doc_id": r.answer.passage.doc_id} for r in res.answers],
                "exact_match": em, "f1": f1, "gold_doc_retrieved": gold_hit[-1], "latency_ms": latency[-1],
            }
            if ds.question_type == "factoid":
                scores = factoid_scores([t for t, _ in distinct_answers((r.answer.text, r.final_score) for r in res.answers)], item.answers)
                factoid.append(scores)
                row.update(strict=scores[0], lenient=scores[1], rr=scores[2])
            preds.append(row)
        metrics: dict[str, float] = {
            "exact_match": mean_pct([e for e, _ in em_f1]),
            "f1": mean_pct([f for _, f in em_f1]),
            f"answer_recall@{top_answers}": mean_pct(any_match),
            "gold_doc_retrieved": mean_pct(gold_hit),
            "n": len(ds.items),
        }
        if ds.question_type == "factoid":
            metrics.update(factoid_metrics(factoid))
        metrics["ece"] = expected_calibration_error(probs, correct)
        confident = [p["confident"] for p in preds]
        metrics["answered"] = mean_pct(confident)
        metrics["precision_when_confident"] = (
            mean_pct([ok for c, ok in zip(confident, correct) if c]) if any(confident) else 0.0)
        metrics.update(latency_percentiles(latency))
        config = {
            "dataset": str(ds.path), "dataset_sha256": ds.sha256, "format": ds.format, "question_type": ds.question_type,
            "index": str(index_dir), "index_manifest_hash": engine.index.manifest_hash, "encoder": engine.index.encoder_model,
            "reader": describe_reader(engine.reader, reader_name), "mode": mode, "top_k": top_k,
            "top_answers": top_answers, "git_commit": git_commit(), "correct_if": f"SQuAD F1 >= {CORRECT_F1}",
            "reranker": engine.reranker.describe() if engine.reranker is not None else None,
            "rerank_depth": engine.reranker.config.depth if engine.reranker is not None else None,
            "rerank_blend": rerank_blend_config(engine.reranker),
        }
    finally:
        engine.close()
    return EvalResult("e2e", metrics, config, preds, reliability=reliability_bins(probs, correct))


# -- evaluation indexes ------------------------------------------------------------------
def build_eval_index(dataset: Path, index_dir: Path, progress: bool = True, encoder: str | None = None) -> Path:
    """Index a dataset's own documents: a SQuAD-style file's distinct contexts (doc id =
    `squad_doc_id(title, context)`), or a BEIR folder's corpus.jsonl (its ids kept).
    `encoder` (a sentence-transformers path or name) replaces the default dense encoder."""

    config = IndexConfig(encoder=EncoderConfig(model=encoder)) if encoder else None
    writer = IndexWriter(index_dir, config=config, show_progress=progress)
    if dataset.is_dir():
        corpus = beir_files(dataset)[0]
        with tempfile.TemporaryDirectory() as tmp:
            report = writer.build([beir_corpus_as_jsonl(corpus, Path(tmp) / "corpus.jsonl")], format="jsonl")
    else:
        report = writer.build([dataset], format="squad")
    if report.failures:
        raise EvaluationError(
            f"{len(report.failures)} part(s) of {dataset} could not be indexed, first: {report.failures[0]}",
            "fix the dataset; evaluation needs every gold document in the index",
        )
    log.info("evaluation index: %s", report.summary())
    return index_dir
