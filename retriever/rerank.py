"""Cross-encoder reranking: the second retrieval stage.

    reranker = CrossEncoderReranker(RerankerConfig())   # validates only, no I/O
    reranker.warm_up()                                  # tokenizer + ONNX/torch model + calibration
    hits = reranker.rerank("first-line treatment of gout?", hits, top_k=10)

The hybrid retriever fetches `depth` candidates (default 20); the cross-encoder reads each
(question, title + passage) pair jointly and scores it, as in monoBERT (Nogueira & Cho 2019,
"Passage Re-ranking with BERT") and MedCPT's re-ranker. Hits come back reordered, each
carrying its reranker logit, calibrated probability of relevance and rank next to the
first-stage evidence; the order blends the calibrated relevance with the first-stage score
(RerankerConfig.first_stage_weight). The model is trained by `clinqa train reranker`
(tasks/reranker.py) and shipped in models/reranker (int8 ONNX).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from retriever.errors import RetrieverError
from retriever.fusion import Fused, refuse_legs
from retriever.types import Hit
from common.paths import SHIPPED_MODELS, check_home
from store.questions import fit_question

logger = logging.getLogger(__name__)

DEFAULT_RERANKER_DIR = SHIPPED_MODELS / "reranker"
CALIBRATION_FILE = "calibration.json"
ONNX_INT8_FILE = "model_int8.onnx"
ONNX_FP32_FILE = "model.onnx"
TRAIN_HINT = (
    "train one with `clinqa train reranker --base PATH --train FILE... --out DIR` and export it with "
    "`python -m tasks.export --model DIR --out models/reranker --onnx-only`, or pass --no-rerank"
)


@dataclass(frozen=True)
class RerankerConfig:
    """How the cross-encoder reranks.

    model: directory of a one-output sequence-classification model (a sentence-transformers
        CrossEncoder directory works) or a Hugging Face name (torch backend).
    depth: first-stage candidates reranked per question (cost grows linearly with it).
    max_seq_len: word pieces per (question, passage) pair; the passage is truncated first.
    first_stage_weight: w in the order key (1 - w) * P(relevant) + w * first-stage score, with
        P(relevant) the reranker's calibrated probability (score interpolation, as BERTserini's
        (1 - mu) * S_bm25 + mu * S_bert; Yang et al. 2019, "End-to-End Open-Domain Question
        Answering with BERTserini"); 0 = reranker alone.
    blend_dense_weight: the first-stage score inside that key. None = the hit's own fused
        score; a number re-fuses the candidates' BM25 and dense scores with this dense weight
        (retriever.fusion.refuse_legs), so the blend can lean on the leg the cross-encoder
        complements (it already reads the words; the dense leg adds paraphrase matching)
        while the first stage keeps its own weights for recall.
    """

    model: str = str(DEFAULT_RERANKER_DIR)
    backend: str = "onnx"
    # Chosen on dev questions over realistic indexes (docs/decisions.md "reranker"): depth 30 gained
    # little over 20 at 1.5x the cost; w = 0.6 with the legs re-fused at dense weight 0.7 is the one
    # setting swept that beats the first stage and each single leg on every dev set and measure,
    # paraphrased MedQuAD questions included (tests/test_rerank_choice.py checks the recorded runs).
    depth: int = 20
    max_seq_len: int = 256
    # One pair per ONNX call: dynamic int8 quantisation scales activations per batch, so a pair's
    # score would depend on its batch neighbours (8.47 alone vs 8.60 beside a long passage).
    batch_size: int = 1
    num_threads: int | None = None
    first_stage_weight: float = 0.6
    blend_dense_weight: float | None = 0.7

    def __post_init__(self) -> None:
        if self.blend_dense_weight is not None and not 0.0 <= self.blend_dense_weight <= 1.0:
            raise RetrieverError(f"blend_dense_weight must be in [0, 1], got {self.blend_dense_weight}",
                                 "use e.g. 0.7, or None for the first stage's own fused score")
        if not 0.0 <= self.first_stage_weight < 1.0:
            raise RetrieverError(f"first_stage_weight must be in [0, 1), got {self.first_stage_weight}",
                                 "use e.g. 0.6, the default (0 = order by the reranker alone)")
        if self.backend not in ("onnx", "torch"):
            raise RetrieverError(f"unknown reranker backend {self.backend!r}", 'use "onnx" or "torch"')
        if self.depth < 1:
            raise RetrieverError(f"rerank depth must be >= 1, got {self.depth}", "use e.g. --rerank-depth 20")
        if not 16 <= self.max_seq_len <= 512:
            raise RetrieverError(f"reranker max_seq_len={self.max_seq_len} outside 16..512", "use e.g. 256")
        if self.batch_size < 1:
            raise RetrieverError("reranker batch_size must be >= 1", "use e.g. 16")


def passage_input(title: str, text: str) -> str:
    """What the reranker reads after the question: the title, a newline, the passage (the
    text the index embeds, and what `clinqa train reranker` trains on)."""
    return f"{title}\n{text}" if title else text


def sigmoid(x: np.ndarray | float) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def rerank_keys(scores: Sequence[float], first_stage_scores: Sequence[float] | None = None,
                first_stage_weight: float = 0.0, probabilities: Sequence[float] | None = None) -> list[float]:
    """The key each candidate is ordered by (pure): the reranker logit, or, with
    `first_stage_weight` w > 0, the interpolation (1 - w) * P(relevant) + w * first-stage score
    (RerankerConfig.first_stage_weight), where P(relevant) is `probabilities` (the calibrated
    relevance) or else sigmoid(logit). Shape [len(scores)]."""
    key = [float(s) for s in scores]
    if first_stage_weight and first_stage_scores is not None:
        probs = sigmoid(np.asarray(key)) if probabilities is None else np.asarray(probabilities, dtype=np.float64)
        key = [(1.0 - first_stage_weight) * float(p) + first_stage_weight * float(f)
               for p, f in zip(probs, first_stage_scores)]
    return key


def blend_scores(hits: Sequence[Hit | Fused], blend_dense_weight: float | None) -> list[float]:
    """The first-stage score of each candidate inside the rerank blend (pure): `.score` when
    `blend_dense_weight` is None, else the legs' raw `.scores` re-fused over these candidates
    with that dense weight (retriever.fusion.refuse_legs). `hits`: Hits or the retriever's
    Fused results, in first-stage order. Shape [len(hits)]."""
    if blend_dense_weight is None:
        return [h.score for h in hits]
    return refuse_legs([dict(h.scores) for h in hits], blend_dense_weight)


def order_by_keys(keys: Sequence[float], first_stage_rank: Sequence[int]) -> list[int]:
    """Indices best first by key; ties keep the first-stage order (pure)."""
    return sorted(range(len(keys)), key=lambda i: (-keys[i], first_stage_rank[i]))


def rerank_order(scores: Sequence[float], first_stage_rank: Sequence[int],
                 first_stage_scores: Sequence[float] | None = None, first_stage_weight: float = 0.0,
                 probabilities: Sequence[float] | None = None) -> list[int]:
    """Indices best first by rerank_keys; ties keep the first-stage order (pure)."""
    return order_by_keys(rerank_keys(scores, first_stage_scores, first_stage_weight, probabilities), first_stage_rank)


class CrossEncoderReranker:
    """Scores (question, passage) pairs with a cross-encoder (ONNX Runtime or PyTorch)."""

    def __init__(self, config: RerankerConfig | None = None) -> None:
        self.config = config or RerankerConfig()
        self._tokenizer = None
        self._run = None
        self._backend_used: str | None = None
        self._temperature = 1.0
        self._bias = 0.0

    # ------------------------------------------------------------------ loading
    def _resolve(self) -> tuple[Path | None, str]:
        name = str(self.config.model)
        p = Path(name).expanduser()
        if p.is_dir():
            if not (p / "config.json").is_file():
                raise RetrieverError(f"{p} holds no reranker model (no config.json)", TRAIN_HINT)
            return p, str(p)
        if name.startswith((".", "/", "~")) or name.count("/") > 1:
            if p == DEFAULT_RERANKER_DIR:
                check_home(RetrieverError, also="or point --reranker at a reranker model directory")
            raise RetrieverError(f"reranker model directory not found: {p}", TRAIN_HINT)
        return None, name  # a Hugging Face name, loaded from the local cache (offline)

    def warm_up(self) -> "CrossEncoderReranker":
        """Load tokenizer, model and calibration. Idempotent. Raises RetrieverError with a hint."""
        if self._run is not None:
            return self
        from transformers import AutoConfig, AutoTokenizer

        model_dir, name = self._resolve()
        try:
            hf_config = AutoConfig.from_pretrained(name)
            tokenizer = AutoTokenizer.from_pretrained(name)
        except (OSError, ValueError) as exc:
            raise RetrieverError(f"cannot load reranker {name!r}: {exc}", TRAIN_HINT) from exc
        if getattr(hf_config, "num_labels", 1) != 1:
            raise RetrieverError(f"{name} has {hf_config.num_labels} outputs; a reranker has one (relevance)",
                                 TRAIN_HINT)
        onnx = None
        if self.config.backend == "onnx" and model_dir is not None:
            onnx = next((model_dir / f for f in (ONNX_INT8_FILE, ONNX_FP32_FILE) if (model_dir / f).is_file()), None)
            if onnx is None:
                logger.warning("no ONNX file in %s: reranking with the torch backend", model_dir)
        self._run = self._onnx(onnx) if onnx is not None else self._torch(name)
        self._tokenizer = tokenizer
        if model_dir is not None and (model_dir / CALIBRATION_FILE).is_file():
            cal = json.loads((model_dir / CALIBRATION_FILE).read_text())
            self._temperature, self._bias = float(cal["temperature"]), float(cal["bias"])
        logger.info("reranker ready: %s", self.describe())
        return self

    def _onnx(self, path: Path):
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self.config.num_threads:
            opts.intra_op_num_threads = self.config.num_threads
            opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        names = {i.name for i in sess.get_inputs()}
        self._backend_used = f"onnx:{path.name}"

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
            return sess.run(["logits"], {k: v for k, v in feed.items() if k in names})[0].reshape(-1)

        return run

    def _torch(self, name: str):
        import torch
        from transformers import AutoModelForSequenceClassification

        try:
            model = AutoModelForSequenceClassification.from_pretrained(name, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise RetrieverError(f"cannot load reranker {name!r}: {exc}", TRAIN_HINT) from exc
        model.eval()
        self._backend_used = "torch"

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            with torch.no_grad():
                out = model(input_ids=torch.from_numpy(ids), attention_mask=torch.from_numpy(mask)).logits
            return out.float().numpy().reshape(-1)

        return run

    def describe(self) -> str:
        return f"cross-encoder reranker {self.config.model} [{self._backend_used or self.config.backend + ' (not loaded)'}]"

    # ------------------------------------------------------------------ scoring
    def score(self, question: str, passages: Sequence[tuple[str, str]]) -> np.ndarray:
        """Relevance logits, shape [len(passages)], for (title, text) pairs.

        Pairs are batched by length (dynamic padding) so short passages cost less."""
        self.warm_up()
        if not passages:
            return np.zeros(0, dtype=np.float32)
        # A long question (a case history) would leave the passage a few word pieces: it is cut
        # like the reader's, to its last sentence (store.questions.fit_question).
        question = fit_question(self._tokenizer, question, self.config.max_seq_len).text
        enc = self._tokenizer([question] * len(passages), [passage_input(t, x) for t, x in passages],
                              truncation="only_second", max_length=self.config.max_seq_len, padding=False)
        seqs = enc["input_ids"]
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        out = np.zeros(len(seqs), dtype=np.float32)
        pad = self._tokenizer.pad_token_id or 0
        for lo in range(0, len(order), self.config.batch_size):
            idx = order[lo:lo + self.config.batch_size]
            n = max(len(seqs[i]) for i in idx)
            ids = np.full((len(idx), n), pad, dtype=np.int64)
            mask = np.zeros((len(idx), n), dtype=np.int64)
            for r, i in enumerate(idx):
                ids[r, : len(seqs[i])] = seqs[i]
                mask[r, : len(seqs[i])] = 1
            out[idx] = self._run(ids, mask)
        return out

    def set_calibration(self, temperature: float, bias: float) -> None:
        """Use these Platt parameters from now on (pipeline.calibrate fits them)."""
        if temperature <= 0:
            raise RetrieverError(f"temperature must be > 0, got {temperature}", "refit with python -m pipeline.calibrate")
        self._temperature, self._bias = float(temperature), float(bias)

    def probability(self, logits: np.ndarray | Sequence[float]) -> np.ndarray:
        """P(relevant) = sigmoid(logit / T + b), Platt-calibrated on dev candidates
        (calibration.json; T = 1, b = 0 without one)."""
        return sigmoid(np.asarray(logits, dtype=np.float64) / self._temperature + self._bias)

    def order(self, question: str, passages: Sequence[tuple[str, str]], first_stage_scores: Sequence[float],
              first_stage_rank: Sequence[int] | None = None) -> tuple[list[int], np.ndarray, np.ndarray, list[float]]:
        """(order, logits, probabilities, keys) for (title, text) pairs given best first-stage
        first: `keys` are rerank_keys with this config's first_stage_weight and the calibrated
        probabilities, `order` their indices best first (order_by_keys)."""
        logits = self.score(question, passages)
        probs = self.probability(logits)
        rank = list(first_stage_rank) if first_stage_rank is not None else list(range(len(passages)))
        keys = rerank_keys(logits.tolist(), list(first_stage_scores), self.config.first_stage_weight, probs.tolist())
        return order_by_keys(keys, rank), logits, probs, keys

    def rerank(self, question: str, hits: Sequence[Hit], top_k: int | None = None,
               depth: int | None = None) -> list[Hit]:
        """The first `depth` hits (default config.depth) reordered by the cross-encoder, the
        rest after them in first-stage order; at most `top_k` returned.

        Each reranked hit gets `rerank_score` (logit), `rerank_probability`, `rerank_blend` (the
        key it was ordered by), `rerank_rank` (1-based) and keeps `retrieval_rank` (its first-stage rank) and the legs' evidence."""
        depth = depth or self.config.depth
        cands = list(hits)[:depth]
        if not cands:
            return []
        first = [h.retrieval_rank or i + 1 for i, h in enumerate(cands)]
        order, logits, probs, keys = self.order(question, [(h.passage.title, h.passage.text) for h in cands],
                                                blend_scores(cands, self.config.blend_dense_weight), first)
        out = [
            replace(cands[i], rerank_score=float(logits[i]), rerank_probability=float(probs[i]),
                    rerank_blend=float(keys[i]), rerank_rank=r + 1, retrieval_rank=first[i])
            for r, i in enumerate(order)
        ] + list(hits)[depth:]
        return out[:top_k] if top_k else out
