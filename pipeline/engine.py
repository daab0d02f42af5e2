"""The question path: validate -> retrieve (BM25 + dense, fused) -> rerank (cross-encoder)
-> read -> rank answers by reader span score AND passage relevance (pipeline.ranking).

The CLI, the web UI and the evaluation commands all call this one API.
"""
from __future__ import annotations

import json
import logging
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.dense import DenseEncoder, EncoderConfig
from indexer.loaded import LoadedIndex, open_index
from indexer.manifest import index_encoder_backend, read_manifest
from pipeline.errors import PipelineError
from pipeline.question_type import detect_question_type
from pipeline.questions import DEFAULT_MAX_QUESTION_CHARS, american_spelling, clean_question
from pipeline.ranking import (FEATURES, CalibrationSet, Candidate, Scored, best_distinct, list_answer,
                              score_candidates)
from pipeline.yesno import judge, resolve_yesno_model
from reader.config import CALIBRATION_FILE, ReaderConfig
from reader.reader import ExtractiveReader
from reader.types import Answer
from retriever import Hit, HybridRetriever, RetrieverConfig, SearchFilter
from retriever.rerank import CrossEncoderReranker, RerankerConfig
from store.questions import QuestionFit
from tasks.verdict import Verdict, VerdictConfig
from tasks.yesno import YesNoClassifier

log = logging.getLogger(__name__)


LIST_CANDIDATES = 20  # distinct answers considered for a list answer


@dataclass(frozen=True)
class EngineConfig:
    """What the question path runs with (validated by QAEngine, no I/O).

    reranker: the cross-encoder second stage (None = no reranking, the default: the model
        trained so far does not beat the first stage on dev, docs/decisions.md): the
        retriever fetches `reranker.depth` candidates, the reranker keeps `retriever.top_k`.
    answers_per_passage: each passage's own n-best spans that compete across passages.
    read_depth: when the hits were reranked, the reader reads only the top `read_depth` of them
        (every hit is still returned and shown); None = all. Over the literature dev sets the
        reranker's top 3 hold what its top 10 hold for the answer (docs/decisions.md "read
        depth"), and reading 3 windows instead of 10 keeps the MPNet reader inside the latency
        budget. First-stage (not reranked) hits are all read.
    """

    index_dir: Path
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig)
    reader: Any = None  # reader.config.ReaderConfig; None = the shipped reader
    reranker: RerankerConfig | None = None
    answers_per_passage: int = 3
    read_depth: int | None = 3
    max_question_chars: int = DEFAULT_MAX_QUESTION_CHARS
    top_answers: int = 5
    # Threads for query encoding (torch) and FAISS search. One query is too small to gain from
    # more, and OpenMP spin-waiting next to other busy threads made a 8 ms query take 480 ms
    # (measured, docs/benchmarks.md). None leaves the libraries' defaults.
    query_threads: int | None = 1
    # Yes/no questions (pipeline.yesno): None = the shipped models/yesno when present,
    # "none" = off, else a model directory; the verdict uses the top `verdict_passages` hits.
    yesno_model: str | None = None
    verdict: VerdictConfig = field(default_factory=VerdictConfig)
    verdict_passages: int = 5
    # Query encoder backend (torch | onnx-fp32 | onnx-int8): None = the index's own (its
    # manifest); another than the index's is refused with a rebuild hint.
    encoder_backend: str | None = None


@dataclass(frozen=True)
class RankedAnswer:
    """An answer with the evidence for its rank.

    final_score: probability that the answer is right given its span score and its
        passage's relevance (pipeline.ranking); what "confidence" means everywhere.
    relevance: the passage's relevance in [0, 1] (reranker probability, or fused score).
    hit_rank: 1-based rank of its passage in the hit list.
    calibration: which fit gave final_score: the passage source collection's own (e.g. "MedQuAD"),
        "literature" (the default fit) or "uncalibrated" (pipeline.ranking.Scored).
    """

    answer: Answer
    final_score: float
    retrieval_score: float
    hit_rank: int
    relevance: float = 0.0
    calibration: str = ""

    def to_dict(self) -> dict[str, Any]:
        a, p = self.answer, self.answer.passage
        return {
            "text": a.text,
            "score": self.final_score,
            "probability": self.final_score,
            "reader_score": a.score,
            "reader_probability": a.probability,
            "support": a.support,
            "relevance": self.relevance,
            "calibration": self.calibration,
            "retrieval_score": self.retrieval_score,
            "hit_rank": self.hit_rank,
            "doc_id": p.doc_id,
            "chunk_id": p.chunk_id,
            "title": p.title,
            "url": p.url,
            "source": p.source,
            "license": p.license,
            "passage": p.text,
            "start": a.start,
            "end": a.end,
            "doc_start": a.doc_start,
            "doc_end": a.doc_end,
            "entities": [m.to_dict() for m in p.entities],
            "category": p.category.to_dict() if p.category else None,
        }


@dataclass(frozen=True)
class EmptyResult:
    """Why a question found no passage at all, and what to do (`QAEngine.why_empty`).

    reason: "empty_index" (the index holds no documents), "filters" (the source / entity /
    category filters exclude every passage the question would find), "no_keyword_match"
    (keyword mode and no word of the question is in the index) or "no_match" (anything else).
    filters: the filters in force as "source: X" / "entity: Y" / "category: Z" (may be set
    with any reason); unfiltered_hits: for "filters", how many passages the same question
    finds without them (first stage, top-k), else None."""

    reason: str
    message: str
    hint: str
    filters: tuple[str, ...] = ()
    unfiltered_hits: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "message": self.message, "hint": self.hint,
                "filters": list(self.filters), "unfiltered_hits": self.unfiltered_hits}


def filter_names(where: SearchFilter | None) -> tuple[str, ...]:
    """The filters in force, as the user set them: ("source: eye", "entity: metformin", ...)."""
    if not where:
        return ()
    return (*(f"source: {v}" for v in where.sources), *(f"entity: {v}" for v in where.entities),
            *(f"category: {v}" for v in where.categories))


@dataclass(frozen=True)
class SearchResult:
    question: str
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float]
    reranker: str | None = None  # the reranker used, None when not reranked
    empty: EmptyResult | None = None  # set exactly when `hits` is empty: why, and what to do


@dataclass(frozen=True)
class AskResult:
    question: str
    answers: tuple[RankedAnswer, ...]
    hits: tuple[Hit, ...]
    confident: bool  # False: no answer cleared the no-answer threshold; show passages instead
    no_answer_threshold: float
    timings_ms: dict[str, float]
    reranker: str | None = None
    # What the reader read of a long question (None: all of it).
    question_fit: QuestionFit | None = None

    @property
    def notes(self) -> tuple[str, ...]:
        """Things the user should know about how the question was read."""
        f = self.question_fit
        if f is not None and f.truncated:
            if f.head == 0:
                return (f"the question is {f.tokens} word pieces long; the reader read only its last sentence "
                        f"({f.tail} word pieces); the whole text was used to search",)
            return (f"the question is {f.tokens} word pieces long; the reader read its first {f.head} "
                    f"and last {f.tail} (put the actual question at the end of a long case history)",)
        return ()
    question_type: str = "other"  # pipeline.question_type: yesno | factoid | list | other
    verdict: Verdict | None = None  # yes/no questions answered by the yes/no model
    # List questions ("Which drugs...", "What are the symptoms..."): the distinct answers
    # that clear the threshold, as one answer (pipeline.ranking.list_answer); else empty.
    list_answer: tuple[RankedAnswer, ...] = ()
    empty: EmptyResult | None = None  # set exactly when `hits` is empty (then no answers, no verdict)

    def to_dict(self, id: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if id is None else {"id": id}
        out.update(
            question=self.question,
            question_type=self.question_type,
            verdict=self.verdict.to_dict() if self.verdict is not None else None,
            list_answer=[{"text": a.answer.text, "probability": a.final_score, "chunk_id": a.answer.passage.chunk_id,
                          "hit_rank": a.hit_rank} for a in self.list_answer] or None,
            confident=self.confident,
            no_answer_threshold=self.no_answer_threshold,
            answers=[a.to_dict() for a in self.answers],
            hits=[h.to_dict() for h in self.hits],
            reranker=self.reranker,
            notes=list(self.notes),
            empty=self.empty.to_dict() if self.empty is not None else None,
            timings_ms=self.timings_ms,
        )
        return out


def answer_candidates(per_passage: Sequence[Sequence[Answer]], hits: Sequence[Hit],
                      hit_indexes: Sequence[int] | None = None) -> list[Candidate]:
    """Each passage's own spans with its relevance feature: the key the reranker ordered the
    hits by (Hit.rerank_blend) when reranked, else the fused first-stage score (the features
    the calibrations were fitted on). `per_passage[i]` holds the spans of `hits[i]`;
    `hit_indexes[i]` is that hit's position in the hit list shown to users (default: i)."""
    out = []
    for i, (answers, hit) in enumerate(zip(per_passage, hits)):
        feature = hit.rerank_blend if hit.rerank_blend is not None else hit.score
        index = hit_indexes[i] if hit_indexes is not None else i
        for a in answers:
            out.append(Candidate(a.text, a.score, a.probability, index, float(feature), float(hit.relevance), a,
                                 a.start, a.end, hit.passage.source or "", hit.passage.doc_id or ""))
    return out


def load_answer_calibration(model_dir: Path | None, feature: str) -> CalibrationSet | None:
    """The open-domain calibrations of `feature` (pipeline.ranking.FEATURES), the literature one and
    those per source collection, from the reader's calibration.json (written by
    `python -m pipeline.calibrate`), or None."""
    if model_dir is None or not (model_dir / CALIBRATION_FILE).is_file():
        return None
    return CalibrationSet.from_dict(json.loads((model_dir / CALIBRATION_FILE).read_text()).get("open_domain", {}), feature)


def ranked_answers(scored: Sequence[Scored], hits: Sequence[Hit], limit: int) -> list[RankedAnswer]:
    """The best `limit` distinct answers as RankedAnswers (pipeline.ranking.best_distinct)."""
    return [
        RankedAnswer(answer=s.candidate.answer, final_score=s.probability, retrieval_score=hits[s.candidate.hit_index].score,
                     hit_rank=s.candidate.hit_index + 1, relevance=s.candidate.relevance, calibration=s.calibration)
        for s in best_distinct(scored, limit)
    ]


class QAEngine:
    def __init__(self, config: EngineConfig) -> None:
        if config.answers_per_passage < 1:
            raise PipelineError(f"answers_per_passage must be >= 1, got {config.answers_per_passage}", "use e.g. 3")
        if config.top_answers < 1:
            raise PipelineError(f"top_answers must be >= 1, got {config.top_answers}", "use e.g. 5")
        if config.read_depth is not None and config.read_depth < 1:
            raise PipelineError(f"read_depth must be >= 1 or None, got {config.read_depth}", "use e.g. 3, or None to read every hit")
        self.config = config
        self.index: LoadedIndex | None = None
        self.encoder: DenseEncoder | None = None
        self.retriever: HybridRetriever | None = None
        self.reader: Any = None
        self.reranker: CrossEncoderReranker | None = None
        self._calibrations: dict[str, CalibrationSet | None] = {}
        self._yesno: Any = None  # tasks.yesno.YesNoClassifier, or False once found missing

    # -- loading -----------------------------------------------------------
    def warm_up(self, with_reader: bool = True) -> "QAEngine":
        if self.config.query_threads:
            import faiss
            import torch

            torch.set_num_threads(self.config.query_threads)
            faiss.omp_set_num_threads(self.config.query_threads)
        if self.index is None:
            self.index = open_index(self.config.index_dir)
            # The query encoder is the one the index was built with (the manifest says which);
            # it is loaded even in bm25 mode because the mode can change per question.
            manifest = self.index.manifest["encoder"]
            encoder = DenseEncoder(
                EncoderConfig(
                    model=manifest["model"],
                    max_seq_length=manifest.get("max_seq_length", 256),
                    precision=manifest.get("precision", "fp32"),
                    backend=index_encoder_backend(self.index.manifest, self.config.encoder_backend,
                                                  self.config.index_dir),
                    threads=self.config.query_threads or 0,
                )
            )
            encoder.warm_up()
            self.encoder = encoder

            def embed(query: str) -> "np.ndarray":
                return encoder.encode([query])[0]

            self.retriever = HybridRetriever(self.index.backend, embed, self.config.retriever)
        if self.config.reranker is not None and self.reranker is None:
            self.reranker = CrossEncoderReranker(self.config.reranker).warm_up()
        if with_reader and self.reader is None:
            reader = ExtractiveReader(self.config.reader or ReaderConfig())
            reader.warm_up()
            self.reader = reader
            model_dir = Path(reader.config.model)
            self._calibrations = {
                f: load_answer_calibration(model_dir if model_dir.is_dir() else None, f) for f in FEATURES
            }
        return self

    def reload(self) -> None:
        """Pick up a new index generation (after add/remove) without reloading models."""
        fresh = open_index(self.config.index_dir)
        old = self.index
        self.index = fresh
        if self.retriever is not None:
            self.retriever = HybridRetriever(fresh.backend, self.retriever.embed, self.config.retriever)
        if old is not None:
            old.close()

    def is_stale(self) -> bool:
        return self.index is None or read_manifest(self.config.index_dir)["generation"] != self.index.manifest["generation"]

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
            self.index = None

    @property
    def reader_description(self) -> str:
        return self.reader.describe() if self.reader is not None else "(reader not loaded)"

    # -- questions -----------------------------------------------------------
    def _hits(self, q: str, top_k: int | None, mode: str | None, where: SearchFilter | None,
              rerank: bool | None, rerank_depth: int | None) -> tuple[list[Hit], dict[str, float], str | None]:
        """First stage, then the reranker (unless switched off): hits and timings."""
        assert self.retriever is not None
        k = top_k or self.config.retriever.top_k
        use_rerank = self.reranker is not None and rerank is not False
        if rerank and self.reranker is None:
            raise PipelineError("reranking was asked for but this engine has no reranker",
                                "leave out --rerank-depth, or build the engine with a RerankerConfig")
        t0 = time.perf_counter()
        depth = max(k, rerank_depth or self.reranker.config.depth) if use_rerank else k
        hits = self.retriever.search(q, top_k=depth, mode=mode, where=where)
        t1 = time.perf_counter()
        timings = {"retrieve": (t1 - t0) * 1000}
        if not use_rerank:
            return hits[:k], timings, None
        hits = self.reranker.rerank(q, hits, top_k=k, depth=rerank_depth)
        timings["rerank"] = (time.perf_counter() - t1) * 1000
        return hits, timings, self.reranker.describe()

    def search(
        self, question: str, top_k: int | None = None, mode: str | None = None,
        sources: Collection[str] | None = None, entities: Collection[str] | None = None,
        categories: Collection[str] | None = None, rerank: bool | None = None, rerank_depth: int | None = None,
    ) -> SearchResult:
        """Passages for a question; `sources` / `categories` keep any of those, `entities`
        keeps passages mentioning all of them (see retriever.types.SearchFilter).
        `rerank=False` skips the cross-encoder; `rerank_depth` sets how many first-stage
        candidates it reorders."""
        shown = clean_question(question, self.config.max_question_chars)
        q = american_spelling(shown)  # what the neural models read; BM25 folds spelling itself
        self.warm_up(with_reader=False)
        where = SearchFilter.of(sources, entities, categories)
        hits, timings, reranker = self._hits(q, top_k, mode, where, rerank, rerank_depth)
        timings["total"] = sum(timings.values())
        empty = None if hits else self.why_empty(q, top_k, mode, where)
        return SearchResult(shown, tuple(hits), timings, reranker, empty)

    def _unknown_filter_values(self, where: SearchFilter | None) -> tuple[str, str] | None:
        """(message, hint) when a source or category filter names a value this index does not
        hold at all (e.g. `--category C99`), else None."""
        assert self.index is not None
        if where is None:
            return None
        backend = self.index.backend
        for kind, asked, known in (("source", where.sources, lambda: backend.sources()),
                                   ("category", where.categories,
                                    lambda: [label for label, _, _ in backend.category_counts()])):
            if not asked:
                continue
            have = known()
            missing = [v for v in asked if v not in have]
            if missing:
                shown = ", ".join(have[:30]) + (" ..." if len(have) > 30 else "") if have else "none"
                return (f"this index has no {kind} {', '.join(repr(m) for m in missing)}",
                        f"its {kind} values: {shown} (`clinqa index info --index {self.config.index_dir}`)")
        return None

    def why_empty(self, question: str, top_k: int | None, mode: str | None,
                  where: SearchFilter | None) -> EmptyResult:
        """Why `question` found no passage: an index without documents, filters that exclude
        everything (the question is searched again without them, first stage only, to say
        whether anything would have been found), or, with no filter to blame, keyword mode
        finding none of its words. `question` is as the models read it."""
        self.warm_up(with_reader=False)
        assert self.index is not None and self.retriever is not None
        mode = mode or self.config.retriever.mode
        if self.index.manifest["counts"].get("documents", 0) == 0:
            return EmptyResult(
                "empty_index", "This index has no documents yet, so there is nothing to search.",
                f"add documents: `clinqa index add --index {self.config.index_dir} FILE_OR_FOLDER` (PDF, text, "
                "Markdown, HTML, JSONL), or, as an admin, upload them on the Documents page of `clinqa serve`")
        names = filter_names(where)
        keyword = mode == "bm25"
        switch = ("switch the retrieval mode to hybrid or dense, which match by meaning, not only by the "
                  "words themselves, or rephrase the question")
        if names:
            found = self.retriever.search(question, top_k=top_k or self.config.retriever.top_k, mode=mode)
            # A value the index does not hold at all (a typo, another index's label) is named first.
            unknown = self._unknown_filter_values(where)
            listed = ", ".join(names) + (f"; {unknown[0]}" if unknown else "")
            first = f"{unknown[1]}; " if unknown else ""
            if found:
                return EmptyResult(
                    "filters", f"No passage passes the filters ({listed}).",
                    f"{first}without them this question finds passages (the first: "
                    f"{found[0].passage.title or found[0].passage.doc_id!r}): remove or change the filters",
                    names, len(found))
            return EmptyResult(
                "filters", f"No passage passes the filters ({listed}), and without them this question "
                "finds nothing either.",
                first + (switch if keyword else "rephrase the question; the filters are not what is missing"), names, 0)
        if keyword:
            return EmptyResult("no_keyword_match",
                               "No word of the question occurs in the index (keyword (BM25) mode).", switch)
        return EmptyResult("no_match", "No passage matched the question.",
                           "try other words, or check that the index holds documents on this topic")

    def ask(
        self, question: str, top_k: int | None = None, mode: str | None = None,
        sources: Collection[str] | None = None, top_answers: int | None = None,
        entities: Collection[str] | None = None, categories: Collection[str] | None = None,
        rerank: bool | None = None, rerank_depth: int | None = None, question_type: str | None = None,
    ) -> AskResult:
        """Answer a question: hits, then every passage's own best spans scored with the
        passage's relevance (pipeline.ranking) before any cut; `confident` when the best
        answer's probability clears the fitted threshold. `question_type` overrides the
        detected type (yesno, factoid, list, other): a yes/no question gets a verdict when a
        yes/no model is available."""
        shown = clean_question(question, self.config.max_question_chars)
        q = american_spelling(shown)  # what the neural models read; BM25 folds spelling itself
        qtype = question_type or detect_question_type(q)
        self.warm_up(with_reader=True)
        where = SearchFilter.of(sources, entities, categories)
        hits, timings, reranker = self._hits(q, top_k, mode, where, rerank, rerank_depth)
        t1 = time.perf_counter()
        if not hits:  # nothing to read or to weigh: no answer and never a verdict from 0 passages
            timings["total"] = sum(timings.values())
            return AskResult(question=shown, answers=(), hits=(), confident=False,
                             no_answer_threshold=self._threshold(reranker), timings_ms=timings, reranker=reranker,
                             question_type=qtype, empty=self.why_empty(q, top_k, mode, where))
        if qtype == "yesno" and self.yesno_classifier() is not None:
            return self._ask_yesno(shown, q, hits, timings, reranker)
        limit = top_answers or self.config.top_answers
        output, candidates = self.read_candidates(q, hits, reranked=reranker is not None, top_k=limit)
        calibration = self.answer_calibration(reranked=reranker is not None)
        scored = score_candidates(candidates, calibration)
        ranked = ranked_answers(scored, hits, limit)
        threshold = self._threshold(reranker)
        confident = bool(ranked) and ranked[0].final_score >= threshold
        items: tuple[RankedAnswer, ...] = ()
        if qtype == "list" and confident:
            kept = list_answer(best_distinct(scored, LIST_CANDIDATES), threshold)
            items = tuple(ranked_answers(kept, hits, len(kept)))
        timings["read"] = (time.perf_counter() - t1) * 1000
        timings["total"] = sum(timings.values())
        return AskResult(
            question=shown,
            answers=tuple(ranked),
            hits=tuple(hits),
            confident=confident,
            no_answer_threshold=threshold,
            timings_ms=timings,
            reranker=reranker,
            question_fit=output.question,
            question_type=qtype,
            list_answer=items,
        )

    def answer_calibration(self, reranked: bool) -> CalibrationSet | None:
        """The fitted answer probabilities for reranked or first-stage hits (None: not fitted)."""
        return self._calibrations.get("rerank_blend" if reranked else "retrieval")

    def read_candidates(self, q: str, hits: Sequence[Hit], reranked: bool,
                        top_k: int | None = None) -> tuple[Any, list[Candidate]]:
        """Read the hits the reader reads (the top `read_depth` when reranked, else all) and
        return (reader output, every read passage's own n-best spans as Candidates whose
        hit_index is the position in `hits`). Passages without text are not read. The one place
        that decides what is read: `ask` and pipeline.calibrate both use it, so the calibration
        is fitted on exactly what the product reads."""
        depth = self.config.read_depth if reranked and self.config.read_depth else len(hits)
        indexes = [i for i, h in enumerate(hits[:depth]) if h.passage.text and h.passage.text.strip()]
        read = [hits[i] for i in indexes]
        output = self.reader.read(q, [h.passage for h in read], top_k=top_k or self.config.top_answers,
                                  per_passage=self.config.answers_per_passage)
        return output, answer_candidates(list(output.per_passage), read, indexes)

    def _threshold(self, reranker: str | None) -> float:
        """The no-answer threshold: the answer calibration's for this ranking key, else the reader's."""
        calibration = self.answer_calibration(reranked=reranker is not None)
        threshold = calibration.threshold if calibration is not None else None
        return threshold if threshold is not None else self.reader.no_answer_threshold

    # -- yes/no questions (pipeline.yesno) ----------------------------------------------
    def yesno_classifier(self) -> Any:
        """The loaded yes/no classifier, or None when there is none (warned once; yes/no
        questions then take the extractive path)."""
        if self._yesno is None:
            path = resolve_yesno_model(self.config.yesno_model)
            if path is None:
                self._yesno = False
            else:
                self._yesno = YesNoClassifier(path, threads=self.config.query_threads or 0).warm_up()
        return self._yesno or None

    def _ask_yesno(self, shown: str, q: str, hits: list[Hit], timings: dict[str, float],
                   reranker: str | None) -> AskResult:
        """A verdict over the top hits instead of extracted spans; `confident` = not abstained.
        `q` is the question as the models read it, `shown` as the user wrote it."""

        t1 = time.perf_counter()
        verdict = judge(self.yesno_classifier(), q, hits, self.config.verdict, self.config.verdict_passages)
        timings["classify"] = (time.perf_counter() - t1) * 1000
        timings["total"] = sum(v for k, v in timings.items() if k != "total")
        return AskResult(
            question=shown, answers=(), hits=tuple(hits), confident=not verdict.abstained,
            no_answer_threshold=self.reader.no_answer_threshold, timings_ms=timings,
            question_type="yesno", verdict=verdict, reranker=reranker,
        )
