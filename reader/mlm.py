"""Continued masked-language-model pretraining on biomedical text (domain adaptation).

    python -m reader.mlm --base PATH --corpus FILE... --out DIR [--max-minutes 15]
    (`clinqa train mlm` uses add_train_mlm_args / train_mlm)

The encoder behind the reader (all-MiniLM-L6-v2) was trained on general web sentence
pairs; a short MLM phase on clinical/biomedical text before QA fine-tuning is the usual
cheap way to adapt its vocabulary use. The output is a normal HF directory (BertForMaskedLM
weights + tokenizer) that `reader.train --base DIR` fine-tunes directly. Training runs on the
one training loop (common.training.run_training); `--max-minutes` is its training-time budget
(the LR schedule is fitted to it).

Corpus files are recognised by content:
- *.tar.gz: MedQuAD XML archive -> every non-empty <Answer>;
- *.json with a top-level "data" list: SQuAD -> distinct contexts (TRAIN files only:
  COVID-QA train, BioASQ-train; never dev/test);
- *.json keyed by PMID with "CONTEXTS": PubMedQA -> abstract sections joined;
- anything else: UTF-8 text, one document per non-empty line.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
import sys
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterator, Sequence

from common.cliparse import parse_args
from common.datasets import (Problem, is_pubmedqa, is_squad, iter_medquad, load_json, pubmedqa_from_json, read_text,
                             squad_from_json)
from common.errors import run_entry_point
from common.training import TrainingConfig, run_training, seed_everything
from reader.errors import TrainingError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class MLMConfig(TrainingConfig):
    """Everything an MLM run depends on (written to training_args.json); the loop's options
    come from common.training.TrainingConfig (defaults changed here: epochs, batch_size,
    max_seq_len, warmup). `time_budget_min` is the `--max-minutes` option."""

    error = TrainingError

    base: str
    corpus_files: tuple[str, ...]
    epochs: float = 1.0
    batch_size: int = 32
    max_seq_len: int = 128
    warmup: float = 0.06
    mlm_probability: float = 0.15

    def __post_init__(self) -> None:
        if not self.corpus_files:
            raise TrainingError("no corpus files", hint="pass --corpus FILE (MedQuAD tar.gz, SQuAD/PubMedQA JSON, text)")
        if not 0.0 < self.mlm_probability < 1.0:
            raise TrainingError("mlm_probability must be in (0, 1)", hint="the usual value is 0.15")
        if self.batch_size < 1 or self.max_seq_len < 16:
            raise TrainingError("batch_size >= 1 and max_seq_len >= 16 required", hint="e.g. --batch-size 32 --max-seq-len 128")
        super().__post_init__()


# ----------------------------------------------------------------------------- corpus


def _medquad_answers(path: Path) -> Iterator[str]:
    """Every non-empty answer of a MedQuAD archive, whitespace collapsed (`common.datasets.iter_medquad`:
    the archive limits apply; a member that cannot be read stops the run with its name)."""
    for item in iter_medquad(path):
        if isinstance(item, Problem):
            if item.skipped:
                continue
            raise item.error()
        for pair in item.pairs:
            text = " ".join(pair.answer.split())
            if text:
                yield text


def read_corpus(path: str | Path) -> list[str]:
    """Documents (plain strings) from one corpus file; see the module docstring."""
    path = Path(path)
    if not path.is_file():
        raise TrainingError(f"corpus file not found: {path}", hint="check the --corpus paths")
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz")):
        return list(_medquad_answers(path))
    if name.endswith(".json"):
        raw = load_json(path)
        if is_squad(raw):
            seen: dict[str, None] = {}
            for para in squad_from_json(raw, path).paragraphs:
                seen.setdefault(" ".join(para.context.split()), None)
            return list(seen)
        if is_pubmedqa(raw):
            return [" ".join(" ".join(rec.contexts).split()) for rec in pubmedqa_from_json(raw, path)]
        raise TrainingError(f"unrecognised JSON corpus {path}", hint="expected SQuAD ('data') or PubMedQA (PMID -> CONTEXTS)")
    return [line.strip() for line in read_text(path).splitlines() if line.strip()]


def make_blocks(tokenizer, texts: Sequence[str], max_seq_len: int) -> list[list[int]]:
    """Concatenate tokenised documents (separated by [SEP]) and cut into full blocks of
    max_seq_len (with [CLS] ... [SEP]); no padding is wasted."""
    body = max_seq_len - 2
    ids: list[int] = []
    sep = tokenizer.sep_token_id
    for lo in range(0, len(texts), 1000):
        for doc in tokenizer(list(texts[lo : lo + 1000]), add_special_tokens=False)["input_ids"]:
            ids.extend(doc)
            ids.append(sep)
    return [
        [tokenizer.cls_token_id] + ids[i : i + body] + [sep] for i in range(0, len(ids) - body + 1, body)
    ]


def mask_tokens(input_ids, tokenizer, probability: float, generator):
    """BERT masking: choose `probability` of the non-special tokens; 80% [MASK], 10% random,
    10% unchanged. Returns (inputs, labels) with labels -100 where not chosen."""
    import torch

    labels = input_ids.clone()
    special = (input_ids == tokenizer.cls_token_id) | (input_ids == tokenizer.sep_token_id) | (
        input_ids == tokenizer.pad_token_id
    )
    prob = torch.full(labels.shape, probability)
    prob.masked_fill_(special, 0.0)
    chosen = torch.bernoulli(prob, generator=generator).bool()
    labels[~chosen] = -100
    inputs = input_ids.clone()
    replace = torch.bernoulli(torch.full(labels.shape, 0.8), generator=generator).bool() & chosen
    inputs[replace] = tokenizer.mask_token_id
    rand = torch.bernoulli(torch.full(labels.shape, 0.5), generator=generator).bool() & chosen & ~replace
    inputs[rand] = torch.randint(len(tokenizer), labels.shape, generator=generator)[rand]
    return inputs, labels


# ----------------------------------------------------------------------------- training


def _mlm_loss(model, inputs, labels):
    """MLM loss computing vocabulary logits only at the masked positions.

    The prediction head (hidden x 30k vocabulary) over every position costs about as much
    as the whole MiniLM encoder; only ~15% of positions have a label, so BERT-style models
    (with `.bert` and `.cls`) take the short path; others use the model's own loss.
    """
    import torch

    if hasattr(model, "cls") and hasattr(model, "bert"):
        hidden = model.bert(input_ids=inputs, attention_mask=torch.ones_like(inputs)).last_hidden_state
        sel = labels != -100
        logits = model.cls(hidden[sel])
        return torch.nn.functional.cross_entropy(logits, labels[sel])
    return model(input_ids=inputs, attention_mask=torch.ones_like(inputs), labels=labels).loss


def mlm_batches(n_blocks: int, batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """One epoch's batches of block indices: a seeded shuffle, a pure function of (seed, epoch)."""
    order = list(range(n_blocks))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    return [order[lo : lo + batch_size] for lo in range(0, n_blocks, batch_size)]


def train_mlm(config: MLMConfig, *, interrupt_after: int = 0) -> dict:
    """Run MLM pretraining; saves a HF model dir to config.out_dir and returns metrics.

    Hooks of the one loop: batches = `mlm_batches`, loss = `_mlm_loss` on freshly masked
    blocks (`mask_tokens` draws from torch's global RNG, which checkpoints carry), no
    evaluation, save = the Hugging Face directory; the checkpoint is removed when the
    scheduled steps are done. `interrupt_after`: tests only (common.training.run_training)."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    seed_everything(config.seed, config.threads)
    try:
        tok = AutoTokenizer.from_pretrained(config.base)
        model = AutoModelForMaskedLM.from_pretrained(config.base)
    except (OSError, ValueError) as exc:
        raise TrainingError(f"cannot load base {config.base!r}: {exc}", hint="pass --base a local model directory") from exc
    texts: list[str] = []
    for f in config.corpus_files:
        docs = read_corpus(f)
        logger.info("corpus %s: %d documents", f, len(docs))
        texts.extend(docs)
    blocks = make_blocks(tok, texts, config.max_seq_len)
    if not blocks:
        raise TrainingError("corpus too small for one block", hint="add text or lower --max-seq-len")
    logger.info("MLM: %d documents, %d blocks of %d tokens", len(texts), len(blocks), config.max_seq_len)
    data = torch.tensor(blocks, dtype=torch.long)

    def compute_loss(batch: list[int], device):
        inputs, labels = mask_tokens(data[batch], tok, config.mlm_probability, None)
        return _mlm_loss(model, inputs.to(device), labels.to(device))

    def after_step(state, loss: float, _lr: float) -> None:
        head = state.extra.setdefault("loss_head", [])
        tail = state.extra.setdefault("loss_tail", [])
        if len(head) < 50:
            head.append(loss)
        tail.append(loss)
        del tail[:-50]

    def save(_best_eval) -> None:
        out = Path(config.out_dir)
        model.save_pretrained(out)
        tok.save_pretrained(out)

    def metrics(state) -> dict:
        head, tail = state.extra.get("loss_head") or [float("nan")], state.extra.get("loss_tail") or [float("nan")]
        return {
            "steps": state.step,
            "planned_steps": state.total_steps,
            "stopped_by": "time" if state.stopped_by == "time_budget" else state.stopped_by,
            "blocks": len(blocks),
            "documents": len(texts),
            "loss_first_50": sum(head) / len(head),
            "loss_last_50": sum(tail) / len(tail),
            "minutes": state.wall_minutes,
        }

    result = run_training(
        config, model=model, n_items=len(blocks),
        make_batches=lambda epoch: mlm_batches(len(blocks), config.batch_size, config.seed, epoch),
        compute_loss=compute_loss, save=save, metrics=metrics, after_step=after_step,
        drop_checkpoint_when_done=True, desc="train mlm", interrupt_after=interrupt_after,
    )
    logger.info("MLM done: %s", result)
    return result


def add_train_mlm_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = {f.name: f.default for f in fields(MLMConfig)}
    parser.add_argument("--base", required=True)
    parser.add_argument("--corpus", nargs="+", required=True, metavar="FILE")
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=float, default=d["epochs"])
    parser.add_argument("--max-steps", type=int, default=d["max_steps"])
    parser.add_argument("--max-minutes", type=float, default=d["time_budget_min"],
                        help="stop after this many minutes of training; the LR schedule is fitted to it (0 = off)")
    parser.add_argument("--lr", type=float, default=d["lr"])
    parser.add_argument("--batch-size", type=int, default=d["batch_size"])
    parser.add_argument("--max-seq-len", type=int, default=d["max_seq_len"])
    parser.add_argument("--mlm-probability", type=float, default=d["mlm_probability"])
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--threads", type=int, default=d["threads"])
    parser.add_argument("--no-progress", action="store_true")
    return parser


def mlm_config_from_args(a: argparse.Namespace) -> MLMConfig:
    return MLMConfig(
        base=a.base, corpus_files=tuple(a.corpus), out_dir=a.out, epochs=a.epochs, max_steps=a.max_steps,
        time_budget_min=a.max_minutes, lr=a.lr, batch_size=a.batch_size, max_seq_len=a.max_seq_len,
        mlm_probability=a.mlm_probability, seed=a.seed, threads=a.threads, progress=not a.no_progress,
    )


def main(argv=None) -> int:
    p = add_train_mlm_args(argparse.ArgumentParser(allow_abbrev=False, prog="python -m reader.mlm", description="continued MLM pretraining"))
    return run_entry_point(lambda args: print(json.dumps(train_mlm(mlm_config_from_args(args)), indent=2)),
                           parse_args(p, argv))


if __name__ == "__main__":
    sys.exit(main())
