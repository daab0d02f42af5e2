"""Fit the open-domain answer probability on dev questions answered over a dev index.

    python -m pipeline.calibrate --index DEV_INDEX --dataset FILE... [--reader DIR] [--reranker DIR]
                                 [--relevance-set INDEX BEIR_DIR] [--out models/reader/calibration.json]
                                 [--plot FILE.png]

For every dev question the engine retrieves (with and without the reranker), the reader
proposes each passage's n-best spans, and every candidate becomes one training row:
(span score, passage relevance feature) -> correct (SQuAD F1 >= 0.5 against the gold
answers). A logistic regression (scikit-learn) per relevance feature ("rerank_blend": the key
the reranker orders hits by, its calibrated relevance interpolated with the first-stage score;
"retrieval": fused first-stage score) gives P(correct), its logit then Platt-rescaled on each
question's top candidate (fit_top1: the shown answer is a maximum, which the candidate-level
fit overstates); the confidence threshold is 0.5, so "confident" means "more likely right than
wrong" on retrieved passages. ECE of the top answer is reported with 2-fold cross-fitting over
questions (the fold's own question's rows are never used to fit its probability). The result
is merged into the reader's calibration.json under "open_domain", next to the gold-passage
calibration. First, the
reranker's logit is Platt-scaled to P(passage relevant) on the first-stage candidates (the
rerank depth) of every dev question (models/reranker/calibration.json): that probability is
the passage relevance users see. Relevant = holds a gold answer for the QA dev sets; with
`--relevance-set INDEX BEIR_DIR` also consumer-health questions over the bundled corpus
(relevant = the judged document), so the figure means the same on both kinds of text.

The dev index must hold distractors (e.g. all COVID-QA train + dev articles and all BioASQ
dev snippets), never only the dev contexts: that is what the product reads.

`--source-set PREFIX INDEX QUESTIONS` (repeatable) also fits a calibration for passages whose
source is PREFIX or below it (e.g. "MedQuAD" over the bundled corpus), on questions judged by a
regular expression of acceptable answers (benchmarks/data/consumer_dev_questions.jsonl): each
candidate from such a passage is a row, right when the pattern matches it. It is stored under
"open_domain" / "by_source" / PREFIX and used for those passages only (pipeline.ranking.
CalibrationSet); `--source-sets-only` refits just these and keeps the literature fit.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from common.cliparse import parse_args
from common.errors import run_entry_point
from pipeline.engine import EngineConfig, QAEngine
from pipeline.errors import PipelineError
from pipeline.evaluation.datasets import (RetrievalDataset, load_pattern_questions, load_qa_dataset,
                                         load_retrieval_dataset)
from pipeline.evaluation.metrics import expected_calibration_error, reliability_bins, squad_scores
from pipeline.ranking import AnswerCalibration, source_matches
from pipeline.questions import model_question
from reader.calibration import apply_platt, fit_platt
from reader.config import CALIBRATION_FILE, ReaderConfig
from retriever import RetrieverConfig
from retriever.rerank import CALIBRATION_FILE as RERANKER_CALIBRATION
from retriever.rerank import RerankerConfig
from retriever.types import Hit

logger = logging.getLogger(__name__)

CORRECT_F1 = 0.5
THRESHOLD = 0.5  # "probably right"


@dataclass(frozen=True)
class Row:
    question: int  # index of the question (for cross-fitting and top-1 selection)
    span_score: float
    relevance: float
    correct: bool


def fit_logistic(rows: Sequence[Row]) -> AnswerCalibration:
    """P(correct) = sigmoid(w_s * span + w_r * relevance + b), scikit-learn LogisticRegression
    (L2, C = 1.0 on standardised features, mapped back to raw-feature weights)."""
    from sklearn.linear_model import LogisticRegression

    X = np.array([[r.span_score, r.relevance] for r in rows], dtype=np.float64)
    y = np.array([r.correct for r in rows], dtype=int)
    if len(set(y)) < 2:
        raise ValueError("calibration needs both correct and wrong candidates")
    mu, sd = X.mean(0), X.std(0) + 1e-9
    lr = LogisticRegression(C=1.0, max_iter=1000).fit((X - mu) / sd, y)
    w = lr.coef_[0] / sd
    b = float(lr.intercept_[0] - (lr.coef_[0] * mu / sd).sum())
    return AnswerCalibration(float(w[0]), float(w[1]), b, THRESHOLD)


def fit_top1(rows: Sequence[Row], cal: AnswerCalibration) -> AnswerCalibration:
    """`cal` with its logit Platt-rescaled on each question's top candidate (the one users see).

    The candidate-level fit is calibrated over all candidates, but the shown answer is the
    maximum of a question's candidates, whose probability that fit overstates (session 7: top
    answer ECE 11.4 for the MPNet reader). P(top right) = sigmoid(a * logit + c) with a > 0 keeps
    every ordering (Platt 1999, reader.calibration.fit_platt). Returns `cal` unchanged when the
    top answers are all right or all wrong, or when the fit would reverse the order."""
    best: dict[int, tuple[float, bool]] = {}
    for r in rows:
        z = cal.logit(r.span_score, r.relevance)
        if r.question not in best or z > best[r.question][0]:
            best[r.question] = (z, r.correct)
    logits = [z for z, _ in best.values()]
    labels = [int(c) for _, c in best.values()]
    if len(set(labels)) < 2:
        return cal
    temperature, bias = fit_platt(logits, labels)
    if temperature <= 0:
        return cal
    return replace(cal, top_scale=1.0 / temperature, top_bias=bias)


def fit_answer_calibration(rows: Sequence[Row]) -> AnswerCalibration:
    """The candidate-level logistic fit, then its top-answer rescaling (fit_logistic, fit_top1)."""
    return fit_top1(rows, fit_logistic(rows))


def top1(rows: Sequence[Row], cal: AnswerCalibration) -> tuple[list[float], list[bool]]:
    """Per question, the probability and correctness of the candidate `cal` ranks first."""
    best: dict[int, tuple[float, bool]] = {}
    for r in rows:
        p = cal.probability(r.span_score, r.relevance)
        if r.question not in best or p > best[r.question][0]:
            best[r.question] = (p, r.correct)
    return [v[0] for v in best.values()], [v[1] for v in best.values()]


def crossfit_top1(rows: Sequence[Row], folds: int = 2) -> tuple[list[float], list[bool]]:
    """Top-answer probabilities where each question is scored by a model fitted without it."""
    probs, correct = [], []
    for k in range(folds):
        train = [r for r in rows if r.question % folds != k]
        test = [r for r in rows if r.question % folds == k]
        if not test:
            continue
        p, c = top1(test, fit_answer_calibration(train))
        probs += p
        correct += c
    return probs, correct


def reranker_rows(engine: QAEngine, questions: Sequence[tuple[str, Callable[[Hit], bool]]],
                  depth: int) -> tuple[list[float], list[int]]:
    """(reranker logit, relevant) for the first-stage top `depth` of every (question,
    is_relevant) pair; the question is read as the product reads it."""
    logits, labels = [], []
    for text, is_relevant in questions:
        q = model_question(text)
        hits = engine.retriever.search(q, top_k=depth)
        if not hits:
            continue
        s = engine.reranker.score(q, [(h.passage.title, h.passage.text) for h in hits])
        for h, x in zip(hits, s):
            logits.append(float(x))
            labels.append(int(is_relevant(h)))
    return logits, labels


def answer_relevance(items) -> list[tuple[str, Callable[[Hit], bool]]]:
    """QA dev items: a passage is relevant when it holds one of the question's gold answers."""
    out = []
    for item in items:
        golds = tuple(a.casefold() for a in item.answers if a.strip())
        out.append((item.question, lambda h, g=golds: any(x in h.passage.text.casefold() for x in g)))
    return out


def document_relevance(dataset: RetrievalDataset) -> list[tuple[str, Callable[[Hit], bool]]]:
    """A BEIR dev set (e.g. the MedQuAD paraphrases over the bundled corpus): a passage is
    relevant when its document is judged relevant to the query."""
    return [(text, lambda h, docs=frozenset(d for d, r in dataset.qrels.get(qid, {}).items() if r > 0):
             h.passage.doc_id in docs) for qid, text in dataset.queries.items()]


def calibrate_reranker(sets: Sequence[tuple[QAEngine, list[tuple[str, Callable[[Hit], bool]]], str]],
                       report: dict) -> tuple[float, float]:
    """Platt-scale the reranker logit to P(passage relevant) over the first-stage candidates of
    every (engine, questions, name) set pooled: literature questions (relevant = holds a gold
    answer) and consumer-health questions over the bundled corpus (relevant = the judged
    document), so the relevance users see means the same on both kinds of text. Records the fit,
    per set too, in `report["reranker_calibration"]`; returns (temperature, bias)."""
    logits: list[float] = []
    labels: list[int] = []
    per_set = {}
    for engine, questions, name in sets:
        x, y = reranker_rows(engine, questions, engine.reranker.config.depth)
        logits += x
        labels += y
        per_set[name] = (x, y)
    temperature, bias = fit_platt(logits, labels)

    def summary(x: list[float], y: list[int]) -> dict:
        p = apply_platt(x, temperature, bias)
        return {"pairs": len(y), "relevant_share": 100 * float(np.mean(y)),
                "ece_before": expected_calibration_error(list(1 / (1 + np.exp(-np.asarray(x)))), [bool(v) for v in y]),
                "ece_after_insample": expected_calibration_error(list(p), [bool(v) for v in y]),
                "mean_probability_relevant": float(np.mean([q for q, v in zip(p, y) if v])) if any(y) else None}

    report["reranker_calibration"] = {
        "temperature": temperature, "bias": bias, **summary(logits, labels),
        "sets": {name: summary(*xy) for name, xy in per_set.items()},
        "relevant_if": "QA sets: the passage contains a gold answer; BEIR sets: its document is judged relevant",
    }
    return temperature, bias


def collect(engine: QAEngine, question: str, is_right: Callable[[str], bool], rerank: bool, top_k: int,
            qi: int, source_prefix: str | None = None) -> list[Row]:
    """Rows (question index `qi`) of every candidate the product reads for `question`, right when
    `is_right(candidate text)`; with `source_prefix`, only candidates from passages under it."""
    q = model_question(question)
    hits, _, reranker = engine._hits(q, top_k, None, None, rerank, None)
    _, candidates = engine.read_candidates(q, hits, reranked=reranker is not None)
    return [Row(qi, c.span_score, c.relevance_feature, is_right(c.text)) for c in candidates
            if source_prefix is None or source_matches(c.source, source_prefix)]


def squad_correct(golds: Sequence[str]) -> Callable[[str], bool]:
    """A literature dev item's label: SQuAD F1 >= CORRECT_F1 against its gold answers."""
    return lambda text: squad_scores(text, golds)[1] >= CORRECT_F1


def check_fittable(rows: Sequence[Row], what: str) -> None:
    """Raise PipelineError unless `rows` hold both right and wrong candidates (a logistic fit needs both)."""
    if not rows:
        raise PipelineError(
            f"no answer candidate to fit on for {what}",
            "for --source-set, PREFIX must be a passage source of that index or a collection above it (e.g. "
            "MedQuAD for MedQuAD/CDC; `clinqa index info --index INDEX` lists the sources); otherwise check that "
            "the questions retrieve passages")
    if len({r.correct for r in rows}) < 2:
        state = "right" if rows[0].correct else "wrong"
        raise PipelineError(f"all {len(rows)} candidates for {what} were judged {state}: nothing to fit",
                            "use more questions (drop --limit) or check the gold answers / answer patterns")


def fit_report(rows: Sequence[Row]) -> tuple[AnswerCalibration, dict, list[dict]]:
    """(calibration fitted on `rows`, its report, cross-fitted reliability bins of the top answer)."""
    cal = fit_answer_calibration(rows)
    p_cf, c_cf = crossfit_top1(rows)
    p_in, c_in = top1(rows, cal)
    confident = [p >= THRESHOLD for p in p_in]
    report = {
        "candidates": len(rows), "candidate_accuracy": 100 * float(np.mean([r.correct for r in rows])),
        "top1_accuracy": 100 * float(np.mean(c_in)),
        "ece_top1_crossfit": expected_calibration_error(p_cf, c_cf),
        "ece_top1_insample": expected_calibration_error(p_in, c_in),
        "answered": 100 * float(np.mean(confident)),
        "precision_when_confident": 100 * float(np.mean([c for c, k in zip(c_in, confident) if k])) if any(confident) else 0.0,
    }
    return cal, report, reliability_bins(p_cf, c_cf)


def plot(bins_by_name: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.5, 4.5))
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="perfect")
    for name, bins in bins_by_name.items():
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], "o-", label=name)
    ax.set_xlabel("shown probability (top answer)")
    ax.set_ylabel("share correct (F1 >= 0.5)")
    ax.set_title("Open-domain answers, dev index (cross-fitted)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def calibrate(index: Path | None, datasets: Sequence[Path], reader: str | None, reranker: str | None, top_k: int = 10,
              limit: int | None = None, progress: bool = True,
              relevance_sets: Sequence[tuple[Path, Path]] = (), refit_reranker: bool = True,
              source_sets: Sequence[tuple[str, Path, Path]] = ()) -> dict:
    """Fit both relevance features; returns the "open_domain" block plus a report.
    `relevance_sets`: extra (index, BEIR dev folder) pairs whose judged documents join the
    reranker's Platt fit (not the answer fit: they have no answer spans). `refit_reranker=False`
    keeps the reranker's own calibration.json (e.g. when only the reader changed), so the
    answer calibration is fitted on exactly the relevance the product will show.
    `source_sets`: (source prefix, index, pattern-question JSONL) triples, each fitted on its own
    into block["by_source"][prefix]. With `index=None` (no `datasets`), only those are fitted.
    Raises ValueError when there is nothing to fit."""
    from tqdm.auto import tqdm

    if index is None and not source_sets:
        raise ValueError("nothing to calibrate: give --index with --dataset, or --source-set")
    # Question files are checked before any model loads.
    pattern_sets = [(prefix, set_index, questions_file, load_pattern_questions(questions_file, limit=limit))
                    for prefix, set_index, questions_file in source_sets]
    rr_cfg = RerankerConfig(model=reranker) if reranker else None
    engine = QAEngine(EngineConfig(index_dir=index if index is not None else source_sets[0][1],
                                   retriever=RetrieverConfig(top_k=top_k),
                                   reader=ReaderConfig(model=reader) if reader else None, reranker=rr_cfg)).warm_up()
    items = []
    for d in datasets if index is not None else ():
        items += list(load_qa_dataset(d, limit=limit).items)
    block: dict = {}
    report: dict = {"questions": len(items), "datasets": [str(d) for d in datasets], "index": str(index),
                    "reader": engine.reader_description,
                    "reranker": engine.reranker.describe() if engine.reranker is not None else None,
                    "correct_if": f"SQuAD F1 >= {CORRECT_F1}", "threshold": THRESHOLD}
    bins = {}
    extras: list[QAEngine] = []

    def engine_over(path: Path) -> QAEngine:
        """The engine for `path`: the main one, or one sharing its models."""
        if path == engine.config.index_dir:
            return engine
        extra = QAEngine(replace(engine.config, index_dir=path)).warm_up(with_reader=False)
        extra.reader, extra.reranker = engine.reader, engine.reranker
        extras.append(extra)
        return extra

    features = [("retrieval", False)]
    if engine.reranker is not None:
        features.insert(0, ("rerank_blend", True))
    try:
        # 1. The reranker's relevance probability (Platt), shown to users as passage relevance.
        if index is not None and engine.reranker is not None and refit_reranker:
            sets = [(engine, answer_relevance(items), "qa: " + ", ".join(d.name for d in datasets))]
            for extra_index, folder in relevance_sets:
                sets.append((engine_over(extra_index), document_relevance(load_retrieval_dataset(folder, limit=limit)),
                             f"{folder.name} over {extra_index}"))
            engine.reranker.set_calibration(*calibrate_reranker(sets, report))
        # 2. The answer probability from span score + relevance, with and without reranking.
        for feature, rerank in features if index is not None else ():
            rows: list[Row] = []
            for qi, item in enumerate(tqdm(items, desc=f"calibrate ({feature})", disable=not progress)):
                rows += collect(engine, item.question, squad_correct(item.answers), rerank, top_k, qi)
            check_fittable(rows, f"{', '.join(str(d) for d in datasets)} over {index}")
            cal, report[feature], feature_bins = fit_report(rows)
            block[feature] = cal.to_dict()
            bins[f"{feature} (ECE {report[feature]['ece_top1_crossfit']:.1f})"] = feature_bins
            logger.info("%s: %s", feature, report[feature])
        # 3. Per source collection, on pattern-judged questions over an index of it.
        for prefix, set_index, questions_file, questions in pattern_sets:
            fits: dict = {"fitted_on": {"questions": len(questions), "file": str(questions_file),
                                        "index": str(set_index), "correct_if": "the answer pattern matches"}}
            for feature, rerank in features:
                rows = []
                for qi, pq in enumerate(tqdm(questions, desc=f"calibrate {prefix} ({feature})", disable=not progress)):
                    rows += collect(engine_over(set_index), pq.question, pq.judge, rerank, top_k, qi, prefix)
                check_fittable(rows, f"source {prefix!r} over {set_index} ({questions_file})")
                cal, feature_report, feature_bins = fit_report(rows)
                # Each feature's report names its own data: a later refit of one feature keeps the other's.
                fits["fitted_on"][feature] = {**feature_report, "questions": len(questions),
                                              "file": str(questions_file), "index": str(set_index)}
                fits[feature] = cal.to_dict()
                bins[f"{prefix} {feature} (ECE {fits['fitted_on'][feature]['ece_top1_crossfit']:.1f})"] = feature_bins
                logger.info("%s %s: %s", prefix, feature, fits["fitted_on"][feature])
            block.setdefault("by_source", {})[prefix] = fits
    finally:
        engine.close()
        for extra in extras:
            extra.close()
    report["bins"] = bins
    return {"open_domain": block, "report": report}


def merge_open_domain(old: dict, new: dict, fitted_on: dict | None) -> dict:
    """calibration.json's "open_domain" after a fit (pure): what was fitted replaces what it
    refits, feature by feature; what was not refitted is kept (a literature refit keeps every
    source's fit, a --source-set fit without --reranker keeps that source's rerank_blend fit).
    `fitted_on`: the literature fit's report, None when only source sets were fitted."""
    out = {k: v for k, v in old.items() if k != "by_source"}
    if fitted_on is not None:
        out.update({k: v for k, v in new.items() if k != "by_source"})
        out["fitted_on"] = fitted_on
    by_source = {prefix: dict(fits) for prefix, fits in old.get("by_source", {}).items()}
    for prefix, fits in new.get("by_source", {}).items():
        merged = by_source.setdefault(prefix, {})
        report = {**merged.get("fitted_on", {}), **fits.get("fitted_on", {})}
        merged.update(fits)
        merged["fitted_on"] = report
    if by_source:
        out["by_source"] = by_source
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m pipeline.calibrate", description=__doc__.split("\n")[0])
    ap.add_argument("--index", type=Path, help="dev index with distractors (required unless --source-sets-only)")
    ap.add_argument("--dataset", type=Path, nargs="+", default=[], help="dev QA files (SQuAD/BioASQ-in-SQuAD)")
    ap.add_argument("--reader", help="reader directory (default: the shipped reader)")
    ap.add_argument("--reranker", help="reranker directory: also fit the reranker's relevance probability and "
                                        "the answer calibration of reranked hits")
    ap.add_argument("--relevance-set", nargs=2, action="append", type=Path, default=[], metavar=("INDEX", "BEIR_DIR"),
                    help="also fit the reranker's relevance probability on this BEIR dev folder's judged documents "
                         "over INDEX (e.g. the MedQuAD paraphrase dev set over the bundled corpus); repeatable")
    ap.add_argument("--keep-reranker-calibration", action="store_true",
                    help="use the reranker's own calibration.json instead of refitting it (only the reader changed)")
    ap.add_argument("--source-set", nargs=3, action="append", default=[], metavar=("PREFIX", "INDEX", "QUESTIONS"),
                    help="also fit a calibration for passages whose source is PREFIX (or below it), on the "
                         "pattern-judged questions of QUESTIONS (JSONL) over INDEX, e.g. --source-set MedQuAD "
                         "BUNDLED_INDEX benchmarks/data/consumer_dev_questions.jsonl; repeatable")
    ap.add_argument("--source-sets-only", action="store_true",
                    help="fit only the --source-set calibrations; keep the literature one in calibration.json")
    ap.add_argument("--top-k", type=int, default=10)
    ap.add_argument("--limit", type=int, help="first N questions per dataset")
    ap.add_argument("--out", type=Path, help="calibration.json to merge the answer calibration into "
                                             "(default: the reader directory's); the reranker's own "
                                             "calibration.json is written into its directory")
    ap.add_argument("--plot", type=Path, help="reliability plot PNG")
    args = parse_args(ap, argv)
    source_sets = [(prefix, Path(index), Path(questions)) for prefix, index, questions in args.source_set]
    for prefix, _, _ in source_sets:
        if not prefix.strip() or prefix != prefix.strip().rstrip("/"):
            ap.error(f"--source-set PREFIX {prefix!r}: give a passage source or its collection without a trailing "
                     "slash, e.g. MedQuAD (matches MedQuAD/CDC, MedQuAD/GHR, ...)")
    if args.source_sets_only and not source_sets:
        ap.error("--source-sets-only needs at least one --source-set PREFIX INDEX QUESTIONS")
    if not args.source_sets_only and (args.index is None or not args.dataset):
        ap.error("give --index DEV_INDEX and --dataset FILE... (or --source-sets-only with --source-set)")
    return run_entry_point(lambda a: _run(a, source_sets), args, prog="python -m pipeline.calibrate")


def _run(args: argparse.Namespace, source_sets: list[tuple[str, Path, Path]]) -> int:
    res = calibrate(None if args.source_sets_only else args.index, args.dataset, args.reader, args.reranker,
                    args.top_k, args.limit, relevance_sets=[tuple(p) for p in args.relevance_set],
                    refit_reranker=not args.keep_reranker_calibration and not args.source_sets_only,
                    source_sets=source_sets)
    rr = res["report"].get("reranker_calibration")
    if rr is not None:
        rr_out = Path(args.reranker) / RERANKER_CALIBRATION
        rr_out.write_text(json.dumps({k: rr[k] for k in ("temperature", "bias")} | {"fitted_on": rr}, indent=2) + "\n")
    out = args.out or Path(args.reader or ReaderConfig().model) / CALIBRATION_FILE
    data = json.loads(out.read_text()) if out.is_file() else {}
    data["open_domain"] = merge_open_domain(data.get("open_domain", {}), res["open_domain"],
                                            None if args.source_sets_only else
                                            {k: v for k, v in res["report"].items() if k != "bins"})
    out.write_text(json.dumps(data, indent=2) + "\n")
    if args.plot:
        plot(res["report"]["bins"], args.plot)
    report = {k: v for k, v in res["report"].items() if k != "bins"}
    if args.source_sets_only:  # the literature part did not run: report the sources' fits only
        report = {k: report[k] for k in ("reader", "reranker", "threshold")}
    report["by_source"] = {p: f["fitted_on"] for p, f in res["open_domain"].get("by_source", {}).items()}
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
