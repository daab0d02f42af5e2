"""Tokenisation of (question, context) pairs into model windows.

Follows Hugging Face `run_qa.py`: question first, `truncation="only_second"`, overflowing
windows with a stride, offsets kept so spans map back to characters. Contexts are never
truncated: a long context becomes several overlapping windows.

Training windows that do not contain the answer point at CLS (index 0); only a share of
them (`neg_ratio`) is kept, because with short paragraphs they are few and with long
ones they would otherwise swamp the positives.
"""
from __future__ import annotations

import logging
import random
from dataclasses import dataclass
from typing import Sequence

from reader.errors import ReaderConfigError
from store.questions import fit_question

logger = logging.getLogger(__name__)

# Tokenise in chunks so memory stays flat and tqdm-free callers still get log progress.
_CHUNK = 512


@dataclass(frozen=True)
class Window:
    """One model input window over context `context_index` (unpadded)."""

    context_index: int
    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...]
    # (char_start, char_end) in the context for context tokens, None elsewhere, so a
    # span can never land in the question or on special tokens.
    offsets: tuple[tuple[int, int] | None, ...]


def check_stride(max_seq_len: int, doc_stride: int) -> None:
    """The fast tokenizer raises if the overlap is not smaller than the room left for
    the context; fail early with a readable message instead."""
    if max_seq_len < 32:
        raise ReaderConfigError(f"max_seq_len={max_seq_len} is too small", hint="use 128..512")
    if not 0 <= doc_stride < max_seq_len // 2:
        raise ReaderConfigError(
            f"doc_stride={doc_stride} must be in [0, max_seq_len/2) for max_seq_len={max_seq_len}",
            hint="the stride is the overlap between windows; use about max_seq_len/4 (e.g. 64 for 256, 128 for 384)",
        )


def _tokenize(tokenizer, questions: Sequence[str], contexts: Sequence[str], max_seq_len: int, doc_stride: int):
    # Long questions would leave no room for the context (and make the stride invalid):
    # they are cut to their last sentence or head + tail (fit_question).
    fitted: dict[str, str] = {}  # the same question is paired with every passage
    qs = [fitted.setdefault(q, fit_question(tokenizer, q, max_seq_len).text) if q not in fitted else fitted[q]
          for q in questions]
    return tokenizer(
        qs,
        list(contexts),
        truncation="only_second",
        max_length=max_seq_len,
        stride=doc_stride,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
        padding=False,
    )


def make_windows(
    tokenizer,
    questions: Sequence[str],
    contexts: Sequence[str],
    max_seq_len: int,
    doc_stride: int,
) -> list[Window]:
    """Windows for inference/evaluation: every window of every (question, context) pair."""
    check_stride(max_seq_len, doc_stride)
    if len(questions) != len(contexts):
        raise ReaderConfigError("questions and contexts differ in length", hint="pass one question per context")
    windows: list[Window] = []
    for lo in range(0, len(contexts), _CHUNK):
        enc = _tokenize(tokenizer, questions[lo : lo + _CHUNK], contexts[lo : lo + _CHUNK], max_seq_len, doc_stride)
        for i in range(len(enc["input_ids"])):
            seq_ids = enc.sequence_ids(i)
            offsets = tuple(
                (int(o[0]), int(o[1])) if seq_ids[k] == 1 else None for k, o in enumerate(enc["offset_mapping"][i])
            )
            tt = enc["token_type_ids"][i] if "token_type_ids" in enc else [0] * len(enc["input_ids"][i])
            windows.append(
                Window(
                    context_index=lo + int(enc["overflow_to_sample_mapping"][i]),
                    input_ids=tuple(enc["input_ids"][i]),
                    token_type_ids=tuple(tt),
                    offsets=offsets,
                )
            )
    return windows


@dataclass(frozen=True)
class TrainFeature:
    input_ids: tuple[int, ...]
    token_type_ids: tuple[int, ...]
    start_position: int
    end_position: int
    example_index: int


def locate_answer(
    offsets: Sequence[tuple[int, int] | None], answer_start: int, answer_end: int
) -> tuple[int, int] | None:
    """Token (start, end) of the char span [answer_start, answer_end) in a window, or None
    when the span is not entirely inside the window's context tokens."""
    ctx = [k for k, o in enumerate(offsets) if o is not None]
    if not ctx:
        return None
    first, last = ctx[0], ctx[-1]
    if offsets[first][0] > answer_start or offsets[last][1] < answer_end:
        return None
    s = first
    while s <= last and (offsets[s] is None or offsets[s][1] <= answer_start):
        s += 1
    e = last
    while e >= first and (offsets[e] is None or offsets[e][0] >= answer_end):
        e -= 1
    if s > e:
        return None
    return s, e


def make_train_features(
    tokenizer,
    examples,
    max_seq_len: int,
    doc_stride: int,
    neg_ratio: float,
    seed: int = 0,
) -> tuple[list[TrainFeature], dict]:
    """Training features from SquadExamples. Returns (features, stats).

    In each window the first gold span that fits entirely is the target (BioASQ-train
    has several spans per item: synonyms and list members); windows with none point
    at CLS and are kept with probability `neg_ratio`.
    """
    if not 0.0 <= neg_ratio <= 1.0:
        raise ReaderConfigError(f"neg_ratio={neg_ratio} outside [0, 1]", hint="e.g. --neg-ratio 0.1")
    rng = random.Random(seed)
    windows = make_windows(
        tokenizer, [e.question for e in examples], [e.context for e in examples], max_seq_len, doc_stride
    )
    feats: list[TrainFeature] = []
    stats = {"windows": len(windows), "positive": 0, "negative_kept": 0, "negative_dropped": 0}
    for w in windows:
        ex = examples[w.context_index]
        pos = None
        for text, start in sorted(zip(ex.answers, ex.answer_starts), key=lambda a: a[1]):
            if start < 0:
                continue
            pos = locate_answer(w.offsets, start, start + len(text))
            if pos is not None:
                break
        if pos is None:
            if rng.random() >= neg_ratio:
                stats["negative_dropped"] += 1
                continue
            stats["negative_kept"] += 1
            pos = (0, 0)
        else:
            stats["positive"] += 1
        feats.append(TrainFeature(w.input_ids, w.token_type_ids, pos[0], pos[1], w.context_index))
    return feats, stats
