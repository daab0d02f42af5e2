"""Windowed inference of an extractive QA model: the part of the reader that turns a batch of
(question, passage) windows into span candidates.

The model is abstracted as a `LogitsFn` (padded numpy batch -> start/end logits), so the
same code runs a PyTorch model during training, an ONNX Runtime session in the reader and
the benchmark, and the shipped reader in calibration (reader.evaluate scores it on dev sets).
"""
from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

from reader.features import TrainFeature, Window, make_windows
from reader.postprocess import SpanCandidate, null_score, select_spans
from reader.squad import SquadExample

logger = logging.getLogger(__name__)

LogitsFn = Callable[[dict], tuple[np.ndarray, np.ndarray]]


def pad_batch(windows: Sequence[Window | TrainFeature], pad_id: int) -> dict:
    """Pad to the longest window in the batch (dynamic padding), as int64 numpy arrays
    {"input_ids", "attention_mask", "token_type_ids"}, each [batch, longest]."""
    n = max(len(w.input_ids) for w in windows)
    ids = np.full((len(windows), n), pad_id, dtype=np.int64)
    tt = np.zeros((len(windows), n), dtype=np.int64)
    am = np.zeros((len(windows), n), dtype=np.int64)
    for i, w in enumerate(windows):
        L = len(w.input_ids)
        ids[i, :L] = w.input_ids
        tt[i, :L] = w.token_type_ids
        am[i, :L] = 1
    return {"input_ids": ids, "attention_mask": am, "token_type_ids": tt}


def window_logits(
    logits_fn: LogitsFn, windows: Sequence[Window], pad_id: int, batch_size: int, progress: bool = False
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Start/end logits per window (trimmed to the window length), batching windows of
    similar length together so padding stays small."""
    order = sorted(range(len(windows)), key=lambda i: len(windows[i].input_ids))
    out: list = [None] * len(windows)
    batches = [order[i : i + batch_size] for i in range(0, len(order), batch_size)]
    it = batches
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(batches, desc="predict", unit="batch", leave=False)
    for idx in it:
        batch = pad_batch([windows[i] for i in idx], pad_id)
        s, e = logits_fn(batch)
        for row, i in enumerate(idx):
            L = len(windows[i].input_ids)
            out[i] = (np.asarray(s[row, :L], dtype=np.float32), np.asarray(e[row, :L], dtype=np.float32))
    return out


def predict_candidates(
    logits_fn: LogitsFn,
    tokenizer,
    examples: Sequence[SquadExample],
    max_seq_len: int = 384,
    doc_stride: int = 128,
    batch_size: int = 32,
    n_best: int = 20,
    max_answer_tokens: int = 30,
    progress: bool = False,
) -> dict[str, tuple[list[SpanCandidate], float]]:
    """For each example id: (n-best candidates over all its windows, null score)."""
    windows = make_windows(
        tokenizer, [e.question for e in examples], [e.context for e in examples], max_seq_len, doc_stride
    )
    logits = window_logits(logits_fn, windows, tokenizer.pad_token_id or 0, batch_size, progress)
    by_ex: dict[int, list[int]] = {}
    for wi, w in enumerate(windows):
        by_ex.setdefault(w.context_index, []).append(wi)
    out: dict[str, tuple[list[SpanCandidate], float]] = {}
    for ei, ex in enumerate(examples):
        wis = by_ex.get(ei, [])
        sl = [logits[i][0] for i in wis]
        el = [logits[i][1] for i in wis]
        cands = select_spans(
            sl, el, [windows[i].offsets for i in wis], [0] * len(wis), [ex.context], n_best, max_answer_tokens
        )
        out[ex.id] = (cands, null_score(sl, el))
    return out


def torch_logits_fn(model, device: str = "cpu") -> LogitsFn:
    """Wrap a PyTorch `*ForQuestionAnswering` model as a LogitsFn (no grad, eval mode)."""
    import torch

    def fn(batch: dict) -> tuple[np.ndarray, np.ndarray]:
        model.eval()
        with torch.inference_mode():
            inputs = {k: torch.from_numpy(v).to(device) for k, v in batch.items()}
            out = model(**inputs)
        return out.start_logits.float().cpu().numpy(), out.end_logits.float().cpu().numpy()

    return fn
