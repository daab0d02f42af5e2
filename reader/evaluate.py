"""Batch prediction over SQuAD examples and dev-set scoring.

The model is abstracted as a `LogitsFn` (padded numpy batch -> start/end logits), so the
same code scores a PyTorch model during training, an ONNX Runtime session in the
benchmark, and the shipped reader in calibration.
"""
from __future__ import annotations

import logging
from typing import Callable, Sequence

import numpy as np

from reader.features import Window, make_windows
from reader.postprocess import SpanCandidate, null_score, select_spans
from reader.squad import SquadExample, squad_metrics

logger = logging.getLogger(__name__)

LogitsFn = Callable[[dict], tuple[np.ndarray, np.ndarray]]


def pad_batch(windows: Sequence[Window], pad_id: int) -> dict:
    """Pad to the longest window in the batch (dynamic padding), as int64 numpy arrays."""
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


def evaluate_examples(
    logits_fn: LogitsFn, tokenizer, examples: Sequence[SquadExample], **kwargs
) -> tuple[dict, dict[str, tuple[list[SpanCandidate], float]]]:
    """SQuAD EM/F1 (percent) of the top candidate, plus the raw candidates."""
    cands = predict_candidates(logits_fn, tokenizer, examples, **kwargs)
    preds = {k: (c[0].text if c else "") for k, (c, _) in cands.items()}
    return squad_metrics(preds, examples), cands


# ----------------------------------------------------------------------------- CLI


def evaluate_reader_files(
    logits_fn: LogitsFn,
    tokenizer,
    squad_files: Sequence[str] = (),
    bioasq_factoid: Sequence[str] = (),
    max_seq_len: int = 384,
    doc_stride: int = 128,
    batch_size: int = 32,
    n_best: int = 20,
    max_answer_tokens: int = 30,
    merge: str = "support",
    temperature: float = 1.0,
) -> dict:
    """SQuAD EM/F1 for every file, plus BioASQ question-level strict/lenient/MRR@5 for
    the factoid files (they are also scored per item with EM/F1)."""
    from pathlib import Path

    from reader.bioasq import factoid_metrics
    from reader.squad import load_squad

    kw = dict(max_seq_len=max_seq_len, doc_stride=doc_stride, batch_size=batch_size, n_best=n_best,
              max_answer_tokens=max_answer_tokens)
    res: dict = {}
    for path in list(squad_files) + list(bioasq_factoid):
        exs = load_squad(path)
        m, cands = evaluate_examples(logits_fn, tokenizer, exs, **kw)
        if path in bioasq_factoid:
            m.update(factoid_metrics({k: [(c.text, c.score) for c in v[0]] for k, v in cands.items()}, exs,
                                     merge=merge, temperature=temperature))
        res[Path(path).stem] = m
    return res


def main(argv=None) -> int:
    import argparse
    import json
    import os
    import sys
    import time

    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(prog="python -m reader.evaluate", description="score a reader on dev files")
    ap.add_argument("--model", required=True, help="reader dir/name (or a base encoder with --raw)")
    ap.add_argument("--backend", default="torch", choices=["torch", "onnx"])
    ap.add_argument("--raw", action="store_true",
                    help="load with AutoModelForQuestionAnswering even without a trained QA head (floor)")
    ap.add_argument("--squad", nargs="*", default=[], help="SQuAD files scored with EM/F1")
    ap.add_argument("--bioasq-factoid", nargs="*", default=[], help="BioASQ factoid files (also strict/lenient/MRR)")
    ap.add_argument("--max-seq-len", type=int, default=384)
    ap.add_argument("--doc-stride", type=int, default=128)
    ap.add_argument("--max-answer-tokens", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--merge", default="support", choices=["support", "best"],
                    help="how BioASQ snippet answers are merged (support: at the calibration temperature)")
    ap.add_argument("--out", help="write the JSON here too")
    args = ap.parse_args(argv)
    t0 = time.time()
    if args.raw:
        import torch
        from transformers import AutoModelForQuestionAnswering, AutoTokenizer

        torch.set_num_threads(args.threads)
        torch.manual_seed(0)
        tok = AutoTokenizer.from_pretrained(args.model)
        fn = torch_logits_fn(AutoModelForQuestionAnswering.from_pretrained(args.model, dtype=torch.float32))
        desc = f"{args.model} [raw torch, untrained QA head, seed 0]"
    else:
        from reader.config import ReaderConfig
        from reader.reader import ExtractiveReader

        r = ExtractiveReader(ReaderConfig(model=args.model, backend=args.backend, num_threads=args.threads,
                                          max_seq_len=args.max_seq_len, doc_stride=args.doc_stride,
                                          max_answer_tokens=args.max_answer_tokens))
        r.warm_up()
        tok, fn, desc = r._tokenizer, r._logits_fn, r.describe()
    temperature = 1.0 if args.raw else r.merge_temperature
    res = evaluate_reader_files(fn, tok, args.squad, args.bioasq_factoid, args.max_seq_len, args.doc_stride,
                                max_answer_tokens=args.max_answer_tokens, merge=args.merge, temperature=temperature)
    res["merge"] = {"rule": args.merge, "temperature": temperature}
    res["max_answer_tokens"] = args.max_answer_tokens
    res["reader"] = desc
    res["seconds"] = round(time.time() - t0, 1)
    text = json.dumps(res, indent=2)
    print(text)
    if args.out:
        from pathlib import Path

        Path(args.out).write_text(text + "\n")
    return 0


if __name__ == "__main__":
    import sys

    sys.exit(main())
