"""The question path: validate -> retrieve (BM25 + dense, fused) -> read -> rank answers.

The CLI, the web UI and the evaluation commands all call this one API.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from indexer.dense import DenseEncoder, EncoderConfig
from indexer.loaded import LoadedIndex, open_index
from pipeline.question_type import detect_question_type
from pipeline.questions import DEFAULT_MAX_QUESTION_CHARS, clean_question
from reader.types import Answer
from retriever import Hit, HybridRetriever, RetrieverConfig, SearchFilter
from retriever.fusion import min_max
from tasks.verdict import Verdict, VerdictConfig

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EngineConfig:
    index_dir: Path
    retriever: RetrieverConfig = field(default_factory=RetrieverConfig)
    reader: Any = None  # reader.config.ReaderConfig; None = the shipped reader
    # Final answer score = (1 - w) * reader probability + w * normalised retrieval score
    # (BERTserini-style interpolation; w = 0 ranks by the reader alone).
    retrieval_weight: float = 0.2
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


@dataclass(frozen=True)
class RankedAnswer:
    answer: Answer
    final_score: float
    retrieval_score: float
    hit_rank: int

    def to_dict(self) -> dict[str, Any]:
        a, p = self.answer, self.answer.passage
        return {
            "text": a.text,
            "score": self.final_score,
            "reader_score": a.score,
            "probability": a.probability,
            "support": a.support,
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
class SearchResult:
    question: str
    hits: tuple[Hit, ...]
    timings_ms: dict[str, float]


@dataclass(frozen=True)
class AskResult:
    question: str
    answers: tuple[RankedAnswer, ...]
    hits: tuple[Hit, ...]
    confident: bool  # False: no answer cleared the no-answer threshold; show passages instead
    no_answer_threshold: float
    timings_ms: dict[str, float]
    question_type: str = "other"  # pipeline.question_type: yesno | factoid | list | other
    verdict: Verdict | None = None  # yes/no questions answered by the yes/no model

    def to_dict(self, id: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {} if id is None else {"id": id}
        out.update(
            question=self.question,
            question_type=self.question_type,
            verdict=self.verdict.to_dict() if self.verdict is not None else None,
            confident=self.confident,
            no_answer_threshold=self.no_answer_threshold,
            answers=[a.to_dict() for a in self.answers],
            hits=[h.to_dict() for h in self.hits],
            timings_ms=self.timings_ms,
        )
        return out


def rank_answers(
    answers: list[Answer], hits: list[Hit], retrieval_weight: float, limit: int
) -> list[RankedAnswer]:
    """Interpolate reader probability with the normalised retrieval score of the answer's passage."""
    norm = dict(zip([h.passage.chunk_id for h in hits], min_max([h.score for h in hits])))
    rank_of = {h.passage.chunk_id: i + 1 for i, h in enumerate(hits)}
    ranked = [
        RankedAnswer(
            answer=a,
            final_score=(1 - retrieval_weight) * a.probability + retrieval_weight * norm.get(a.passage.chunk_id, 0.0),
            retrieval_score=norm.get(a.passage.chunk_id, 0.0),
            hit_rank=rank_of.get(a.passage.chunk_id, 0),
        )
        for a in answers
    ]
    ranked.sort(key=lambda r: (-r.final_score, -r.answer.score, r.answer.passage.chunk_id, r.answer.start))
    return ranked[:limit]


class QAEngine:
    def __init__(self, config: EngineConfig) -> None:
        if not 0.0 <= config.retrieval_weight <= 1.0:
            from pipeline.errors import PipelineError

            raise PipelineError(
                f"retrieval_weight must be in [0, 1], got {config.retrieval_weight}", "use e.g. 0.2"
            )
        self.config = config
        self.index: LoadedIndex | None = None
        self.encoder: DenseEncoder | None = None
        self.retriever: HybridRetriever | None = None
        self.reader: Any = None
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
                )
            )
            encoder.warm_up()
            self.encoder = encoder

            def embed(query: str) -> "np.ndarray":
                return encoder.encode([query])[0]

            self.retriever = HybridRetriever(self.index.backend, embed, self.config.retriever)
        if with_reader and self.reader is None:
            from reader.config import ReaderConfig
            from reader.reader import ExtractiveReader

            reader = ExtractiveReader(self.config.reader or ReaderConfig())
            reader.warm_up()
            self.reader = reader
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
        from indexer.manifest import read_manifest

        return self.index is None or read_manifest(self.config.index_dir)["generation"] != self.index.manifest["generation"]

    def close(self) -> None:
        if self.index is not None:
            self.index.close()
            self.index = None

    @property
    def reader_description(self) -> str:
        return self.reader.describe() if self.reader is not None else "(reader not loaded)"

    # -- questions -----------------------------------------------------------
    def search(
        self, question: str, top_k: int | None = None, mode: str | None = None,
        sources: Collection[str] | None = None, entities: Collection[str] | None = None,
        categories: Collection[str] | None = None,
    ) -> SearchResult:
        """Passages for a question; `sources` / `categories` keep any of those, `entities`
        keeps passages mentioning all of them (see retriever.types.SearchFilter)."""
        q = clean_question(question, self.config.max_question_chars)
        self.warm_up(with_reader=False)
        assert self.retriever is not None
        t0 = time.perf_counter()
        where = SearchFilter.of(sources, entities, categories)
        hits = self.retriever.search(q, top_k=top_k, mode=mode, where=where)
        return SearchResult(q, tuple(hits), {"retrieve": (time.perf_counter() - t0) * 1000})

    def ask(
        self, question: str, top_k: int | None = None, mode: str | None = None,
        sources: Collection[str] | None = None, top_answers: int | None = None,
        entities: Collection[str] | None = None, categories: Collection[str] | None = None,
        question_type: str | None = None,
    ) -> AskResult:
        """Answer a question. `question_type` overrides the detected type (yesno, factoid,
        list, other): a yes/no question gets a verdict when a yes/no model is available."""
        q = clean_question(question, self.config.max_question_chars)
        qtype = question_type or detect_question_type(q)
        self.warm_up(with_reader=True)
        assert self.retriever is not None
        t0 = time.perf_counter()
        hits = self.retriever.search(q, top_k=top_k, mode=mode, where=SearchFilter.of(sources, entities, categories))
        t1 = time.perf_counter()
        if qtype == "yesno" and self.yesno_classifier() is not None:
            return self._ask_yesno(q, hits, t0, t1)
        limit = top_answers or self.config.top_answers
        output = self.reader.read(q, [h.passage for h in hits], top_k=max(limit, 5))
        t2 = time.perf_counter()
        ranked = rank_answers(list(output.answers), hits, self.config.retrieval_weight, limit)
        confident = bool(ranked) and max(r.answer.probability for r in ranked) >= output.no_answer_threshold
        return AskResult(
            question=q,
            answers=tuple(ranked),
            hits=tuple(hits),
            confident=confident,
            no_answer_threshold=output.no_answer_threshold,
            timings_ms={
                "retrieve": (t1 - t0) * 1000,
                "read": (t2 - t1) * 1000,
                "total": (t2 - t0) * 1000,
            },
            question_type=qtype,
        )

    # -- yes/no questions (pipeline.yesno) ----------------------------------------------
    def yesno_classifier(self) -> Any:
        """The loaded yes/no classifier, or None when there is none (warned once; yes/no
        questions then take the extractive path)."""
        if self._yesno is None:
            from pipeline.yesno import resolve_yesno_model

            path = resolve_yesno_model(self.config.yesno_model)
            if path is None:
                self._yesno = False
            else:
                from tasks.yesno import YesNoClassifier

                self._yesno = YesNoClassifier(path, threads=self.config.query_threads or 0).warm_up()
        return self._yesno or None

    def _ask_yesno(self, q: str, hits: list[Hit], t0: float, t1: float) -> AskResult:
        """A verdict over the top hits instead of extracted spans; `confident` = not abstained."""
        from pipeline.yesno import judge

        verdict = judge(self.yesno_classifier(), q, hits, self.config.verdict, self.config.verdict_passages)
        t2 = time.perf_counter()
        return AskResult(
            question=q, answers=(), hits=tuple(hits), confident=not verdict.abstained,
            no_answer_threshold=self.reader.no_answer_threshold,
            timings_ms={"retrieve": (t1 - t0) * 1000, "classify": (t2 - t1) * 1000, "total": (t2 - t0) * 1000},
            question_type="yesno", verdict=verdict,
        )
