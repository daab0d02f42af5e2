"""The extractive reader used by the product: question + passages -> ranked answers.

    reader = ExtractiveReader(ReaderConfig())      # validates only, no I/O
    reader.warm_up()                               # loads tokenizer + ONNX/torch model
    out = reader.read("What is the incubation period?", passages)
    out.answers[0].text, out.answers[0].probability, out.confident

Every passage is read in full: long passages become several overlapping windows
(max_seq_len / doc_stride), and spans are ranked across all windows of all passages
(reader.postprocess.select_spans).
"""
from __future__ import annotations

import json
import logging
import math
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import numpy as np

from common.paths import check_home
from reader.config import CALIBRATION_FILE, DEFAULT_MODEL_DIR, ONNX_FP32_FILE, ONNX_INT8_FILE, ReaderConfig
from reader.errors import ReaderModelError
from reader.inference import LogitsFn, predict_candidates, torch_logits_fn, window_logits
from reader.features import make_windows
from store.questions import QuestionFit, fit_question
from reader.postprocess import SpanCandidate, select_spans, softmax
from reader.types import Answer
from store.types import Passage

logger = logging.getLogger(__name__)

TRAIN_HINT = (
    "train one with `clinqa train reader --base PATH --train FILE... --dev FILE... --out models/reader-mpnet` "
    "(or `python -m reader.train ...`), then export it with `python -m reader.export models/reader-mpnet --no-torch-weights`; "
    "or point --reader at a directory/name holding a question-answering model"
)


@dataclass(frozen=True)
class ReaderOutput:
    """Answers best first, and the probability an answer needs to count as confident.

    `per_passage[i]` (read with `per_passage=n`) holds passage i's own n-best distinct
    answers, best first, before any cut across passages; `question` says how much of the
    question the reader read (a long question is cut to its last sentence, or head + tail)."""

    answers: tuple[Answer, ...]
    no_answer_threshold: float
    per_passage: tuple[tuple[Answer, ...], ...] = ()
    question: QuestionFit | None = None

    @property
    def confident(self) -> bool:
        return bool(self.answers) and self.answers[0].probability >= self.no_answer_threshold


@dataclass(frozen=True)
class Calibration:
    temperature: float | None  # None: no calibration, use the softmax over the n-best list
    bias: float
    no_answer_threshold: float


def load_calibration(model_dir: Path | None, config: ReaderConfig) -> Calibration:
    """Config values win over calibration.json; without either, probabilities are the
    softmax over the candidates (relative, uncalibrated) and the threshold is 0.5."""
    data: dict = {}
    if model_dir is not None and (model_dir / CALIBRATION_FILE).is_file():
        data = json.loads((model_dir / CALIBRATION_FILE).read_text())
    elif config.temperature is None:
        logger.warning("no %s in %s: answer probabilities are uncalibrated", CALIBRATION_FILE, model_dir)
    temp = config.temperature if config.temperature is not None else data.get("temperature")
    bias = config.bias if config.bias is not None else float(data.get("bias", 0.0))
    thr = config.no_answer_threshold
    if thr is None:
        thr = float(data.get("no_answer_threshold", 0.5))
    return Calibration(temp, bias, thr)


def probabilities(scores: Sequence[float], cal: Calibration) -> list[float]:
    """Calibrated P(correct) per candidate score (Platt), or the n-best softmax."""
    if cal.temperature is None:
        return softmax(scores)
    return [0.5 * (1.0 + math.tanh(0.5 * (s / cal.temperature + cal.bias))) for s in scores]


class ExtractiveReader:
    """Extractive QA over passages with an ONNX Runtime or PyTorch model."""

    def __init__(self, config: ReaderConfig | None = None) -> None:
        self.config = config or ReaderConfig()
        self._tokenizer = None
        self._logits_fn: LogitsFn | None = None
        self._backend_used: str | None = None
        self._calibration: Calibration | None = None
        self._model_dir: Path | None = None

    # ------------------------------------------------------------------ loading
    def _resolve(self) -> tuple[Path | None, str]:
        name = str(self.config.model)
        p = Path(name).expanduser()
        if p.is_dir():
            if not (p / "config.json").is_file():
                raise ReaderModelError(f"{p} holds no model (no config.json)", hint=TRAIN_HINT)
            return p, str(p)
        # "org/name" is a Hugging Face id; anything else path-like that is missing is an error.
        looks_local = name.startswith((".", "/", "~")) or name.count("/") > 1
        if looks_local or p == Path(ReaderConfig().model):
            if p == DEFAULT_MODEL_DIR:
                check_home(ReaderModelError, also="or point --reader at a question-answering model directory")
            raise ReaderModelError(f"reader model directory not found: {p}", hint=TRAIN_HINT)
        return None, name  # a Hugging Face name; loaded from the local cache (offline)

    def warm_up(self) -> None:
        """Load tokenizer, model (ONNX session or torch) and calibration. Idempotent."""
        if self._logits_fn is not None:
            return
        from transformers import AutoConfig, AutoTokenizer

        model_dir, name = self._resolve()
        try:
            hf_config = AutoConfig.from_pretrained(name)
            tokenizer = AutoTokenizer.from_pretrained(name)
        except (OSError, ValueError) as exc:
            raise ReaderModelError(f"cannot load reader {name!r}: {exc}", hint=TRAIN_HINT) from exc
        archs = getattr(hf_config, "architectures", None) or []
        if not any(a.endswith("ForQuestionAnswering") for a in archs):
            raise ReaderModelError(
                f"{name} is not a question-answering model (architectures={archs})",
                hint="a base encoder has no trained span head; " + TRAIN_HINT,
            )
        if not getattr(tokenizer, "is_fast", False):
            raise ReaderModelError(f"{name} has no fast tokenizer", hint="the reader needs tokenizer.json for offsets")
        backend = self.config.backend
        onnx_path = None
        if backend == "onnx":
            cands = [ONNX_INT8_FILE, ONNX_FP32_FILE] if self.config.quantized else [ONNX_FP32_FILE, ONNX_INT8_FILE]
            onnx_path = next((model_dir / c for c in cands if model_dir and (model_dir / c).is_file()), None)
            if onnx_path is None:
                logger.warning("no ONNX file in %s: falling back to the torch backend", name)
                backend = "torch"
        if backend == "onnx":
            self._logits_fn = self._onnx_fn(onnx_path)
            self._backend_used = f"onnx:{onnx_path.name}"
        else:
            self._logits_fn = self._torch_fn(name)
            self._backend_used = "torch"
        self._tokenizer = tokenizer
        self._model_dir = model_dir
        self._calibration = load_calibration(model_dir, self.config)
        logger.info("reader ready: %s", self.describe())

    def _onnx_fn(self, path: Path) -> LogitsFn:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        if self.config.num_threads:
            opts.intra_op_num_threads = self.config.num_threads
            opts.inter_op_num_threads = 1
        sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
        inputs = {i.name for i in sess.get_inputs()}

        def fn(batch: dict) -> tuple[np.ndarray, np.ndarray]:
            s, e = sess.run(["start_logits", "end_logits"], {k: v for k, v in batch.items() if k in inputs})
            return s, e

        return fn

    def _torch_fn(self, name: str) -> LogitsFn:
        import torch
        from transformers import AutoModelForQuestionAnswering

        if self.config.num_threads:
            torch.set_num_threads(self.config.num_threads)
        try:
            # fp32 on CPU: the shipped weights are stored in fp16 to save space, but fp16
            # matmuls on CPU are slow and less accurate.
            model = AutoModelForQuestionAnswering.from_pretrained(name, dtype=torch.float32)
        except (OSError, ValueError) as exc:
            raise ReaderModelError(f"cannot load reader {name!r}: {exc}", hint=TRAIN_HINT) from exc
        model.eval()
        return torch_logits_fn(model)

    def _require(self) -> None:
        if self._logits_fn is None:
            self.warm_up()

    def describe(self) -> str:
        backend = self._backend_used or f"{self.config.backend} (not loaded)"
        return f"extractive reader {self.config.model} [{backend}]"

    @property
    def no_answer_threshold(self) -> float:
        self._require()
        return self._calibration.no_answer_threshold

    @property
    def merge_temperature(self) -> float:
        """Softmax temperature for merging answers across passages: the calibration's."""
        self._require()
        return self._calibration.temperature or 1.0

    # ------------------------------------------------------------------ reading
    def read(
        self, question: str, passages: Sequence[Passage], top_k: int | None = None, per_passage: int = 0
    ) -> ReaderOutput:
        """Best answers to `question` found in `passages` (all windows of all passages).

        `answers`: the top_k distinct answers across passages (ranked by `config.merge`);
        with `per_passage` > 0 also each passage's own best `per_passage` answers, so a
        caller can weigh them by passage relevance before cutting (pipeline.engine)."""
        self._require()
        cfg = self.config
        k = top_k or cfg.top_k
        cal = self._calibration
        fit = fit_question(self._tokenizer, question, cfg.max_seq_len) if question.strip() else None
        if fit is not None and fit.truncated:
            logger.info("question of %d word pieces read as its first %d and last %d", fit.tokens, fit.head, fit.tail)
        passages = [p for p in passages if p.text and p.text.strip()]
        if not question.strip() or not passages:
            return ReaderOutput((), cal.no_answer_threshold, tuple(() for _ in passages), fit)
        windows = make_windows(
            self._tokenizer, [question] * len(passages), [p.text for p in passages], cfg.max_seq_len, cfg.doc_stride
        )
        logits = window_logits(self._logits_fn, windows, self._tokenizer.pad_token_id or 0, cfg.batch_size)

        def spans(idx: list[int], n_best: int, merge: str) -> list[SpanCandidate]:
            return select_spans(
                [logits[i][0] for i in idx], [logits[i][1] for i in idx], [windows[i].offsets for i in idx],
                [windows[i].context_index for i in idx], [p.text for p in passages],
                n_best=n_best, max_answer_tokens=cfg.max_answer_tokens, merge=merge,
                temperature=self.merge_temperature,
            )

        def answers(cands: Sequence[SpanCandidate]) -> tuple[Answer, ...]:
            probs = probabilities([c.score for c in cands], cal)
            return tuple(
                Answer(text=c.text, score=c.score, probability=float(p), passage=passages[c.passage_index],
                       start=c.start, end=c.end, support=c.support)
                for c, p in zip(cands, probs)
            )

        top = answers(spans(list(range(len(windows))), max(cfg.n_best, k), cfg.merge)[:k])
        own: tuple[tuple[Answer, ...], ...] = ()
        if per_passage:
            by_passage: dict[int, list[int]] = {}
            for i, w in enumerate(windows):
                by_passage.setdefault(w.context_index, []).append(i)
            own = tuple(answers(spans(by_passage.get(j, []), per_passage, "best")) for j in range(len(passages)))
        return ReaderOutput(top, cal.no_answer_threshold, own, fit)

    def predict_examples(self, examples, progress: bool = False) -> dict[str, tuple[list[SpanCandidate], float]]:
        """Candidates for SQuAD examples (one context each), batched across examples;
        used by calibration, evaluation and the benchmark."""
        self._require()
        cfg = self.config
        return predict_candidates(
            self._logits_fn,
            self._tokenizer,
            examples,
            max_seq_len=cfg.max_seq_len,
            doc_stride=cfg.doc_stride,
            batch_size=cfg.batch_size,
            n_best=cfg.n_best,
            max_answer_tokens=cfg.max_answer_tokens,
            progress=progress,
        )
