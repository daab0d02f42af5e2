"""Token-level explanations of an extracted answer (integrated gradients via captum).

    q, p = explain_answer(model_dir, question, passage, answer_start, answer_end)
    for token, start, end, weight in p: ...

The target is the answer's span score, start logit at its first token + end logit at its
last token, i.e. exactly what the reader ranks spans by. Attributions are taken at the
word-embedding layer against a baseline that keeps the special tokens and replaces every
other token with [PAD], summed over the hidden dimension and scaled to [-1, 1] so that a
page can colour them. The ONNX runtime has no gradients, so this loads PyTorch weights from the
same model directory (once per directory, then cached): its model.safetensors, or, where the
directory ships only the int8 ONNX file (the MPNet reader), weights dequantised from that file
(reader.onnx_weights), i.e. the int8 model that answered, in float.
"""
from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path
from typing import Any, NamedTuple

from reader.config import ONNX_INT8_FILE
from reader.errors import ReaderError, ReaderModelError
from reader.onnx_weights import qa_model_from_int8

log = logging.getLogger(__name__)

DEFAULT_STEPS = 24
MAX_SEQ_LEN = 384
STRIDE = 128
TORCH_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")

# Layer attribution hooks the shared embedding layer: two concurrent explanations on one
# model would see each other's hooks, so attributions run one at a time.
_ATTRIBUTION_LOCK = threading.Lock()


class TokenWeight(NamedTuple):
    token: str
    char_start: int  # offsets into the question or the passage text (whichever it belongs to)
    char_end: int
    weight: float  # in [-1, 1]: positive pushed towards this answer, negative away from it


class Explanation(NamedTuple):
    question: list[TokenWeight]
    passage: list[TokenWeight]


@functools.lru_cache(maxsize=2)
def _load(model_dir: str) -> tuple[Any, Any]:
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    path = Path(model_dir)
    from_onnx = path.is_dir() and (path / ONNX_INT8_FILE).is_file() and not any(
        (path / f).is_file() for f in TORCH_WEIGHT_FILES)
    try:
        if from_onnx:
            tokenizer, model = qa_model_from_int8(path)
        else:
            tokenizer = AutoTokenizer.from_pretrained(model_dir)
            model = AutoModelForQuestionAnswering.from_pretrained(model_dir, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise ReaderModelError(
            f"cannot load the PyTorch reader weights from {model_dir!r} for explanations: {exc}",
            "explanations need the model's PyTorch weights (model.safetensors) or its int8 ONNX export "
            f"({ONNX_INT8_FILE}) in the model directory; re-export the reader with `python -m reader.export DIR`",
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise ReaderModelError(f"{model_dir} has no fast tokenizer", "explanations need tokenizer.json for offsets")
    model.eval()
    return tokenizer, model


def explain_answer(
    model_dir: str,
    question: str,
    passage_text: str,
    answer_start: int,
    answer_end: int,
    n_steps: int = DEFAULT_STEPS,
) -> Explanation:
    """Attribution of the span score of passage_text[answer_start:answer_end] to every
    question and passage token (special tokens left out)."""
    import torch
    from captum.attr import LayerIntegratedGradients

    if not 0 <= answer_start < answer_end <= len(passage_text):
        raise ReaderError(
            f"answer span [{answer_start}, {answer_end}) is outside the passage ({len(passage_text)} characters)",
            "pass the character offsets of the answer within passage_text (Answer.start / Answer.end)",
        )
    tokenizer, model = _load(str(model_dir))
    enc = tokenizer(
        question,
        passage_text,
        truncation="only_second",
        max_length=MAX_SEQ_LEN,
        stride=STRIDE,
        return_overflowing_tokens=True,
        return_offsets_mapping=True,
    )
    window, first, last = _window_with_answer(enc, answer_start, answer_end)
    ids = torch.tensor([enc["input_ids"][window]])
    mask = torch.ones_like(ids)
    extra: dict[str, Any] = {"attention_mask": mask}
    if "token_type_ids" in enc:
        extra["token_type_ids"] = torch.tensor([enc["token_type_ids"][window]])
    special = set(tokenizer.all_special_ids)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    baseline = torch.tensor([[t if t in special else pad for t in enc["input_ids"][window]]])

    def span_score(input_ids: Any, attention_mask: Any, token_type_ids: Any = None) -> Any:
        kwargs = {"attention_mask": attention_mask}
        if token_type_ids is not None:
            kwargs["token_type_ids"] = token_type_ids
        out = model(input_ids=input_ids, **kwargs)
        return out.start_logits[:, first] + out.end_logits[:, last]

    names = list(extra)
    with _ATTRIBUTION_LOCK:
        lig = LayerIntegratedGradients(span_score, model.get_input_embeddings())
        attributions = lig.attribute(
            ids,
            baselines=baseline,
            additional_forward_args=tuple(extra[n] for n in names),
            n_steps=n_steps,
            internal_batch_size=n_steps,
        )
    scores = attributions.sum(dim=-1)[0].detach()
    peak = float(scores.abs().max()) or 1.0
    tokens = tokenizer.convert_ids_to_tokens(enc["input_ids"][window])
    seq_ids = enc.sequence_ids(window)
    question_out: list[TokenWeight] = []
    passage_out: list[TokenWeight] = []
    for i, (tok, seq, (s, e)) in enumerate(zip(tokens, seq_ids, enc["offset_mapping"][window], strict=True)):
        if seq is None or e <= s:
            continue
        (question_out if seq == 0 else passage_out).append(TokenWeight(tok, int(s), int(e), float(scores[i]) / peak))
    return Explanation(question_out, passage_out)


def _window_with_answer(enc: Any, answer_start: int, answer_end: int) -> tuple[int, int, int]:
    """(window, first token, last token) of the first window that covers the whole answer."""
    for w in range(len(enc["input_ids"])):
        seq = enc.sequence_ids(w)
        ctx = [(i, s, e) for i, (s, e) in enumerate(enc["offset_mapping"][w]) if seq[i] == 1 and e > s]
        if not ctx or ctx[0][1] > answer_start or ctx[-1][2] < answer_end:
            continue
        first = next(i for i, _, e in ctx if e > answer_start)
        last = [i for i, s, _ in ctx if s < answer_end][-1]
        return w, first, last
    raise ReaderError(
        "the answer span does not fit in one model window",
        "explanations work on spans the reader produced; check answer_start/answer_end",
    )
