"""Dev-set scoring of a reader: SQuAD EM/F1 and BioASQ factoid metrics over files, and the
`python -m reader.evaluate` command. The windowed inference it scores is reader.inference.
"""
from __future__ import annotations

import logging
from typing import Sequence

from common.cliparse import parse_args
from reader.bioasq import factoid_metrics
from reader.config import ReaderConfig
from common.env import set_offline_defaults
from reader.inference import LogitsFn, pad_batch, predict_candidates, torch_logits_fn, window_logits
from reader.postprocess import SpanCandidate
from reader.reader import ExtractiveReader
from reader.squad import SquadExample, load_squad, squad_metrics

__all__ = ["LogitsFn", "evaluate_examples", "evaluate_reader_files", "main", "pad_batch", "predict_candidates",
           "torch_logits_fn", "window_logits"]

logger = logging.getLogger(__name__)

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

    set_offline_defaults()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m reader.evaluate", description="score a reader on dev files")
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
    args = parse_args(ap, argv)
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
