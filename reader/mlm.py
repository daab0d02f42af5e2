"""Continued masked-language-model pretraining on biomedical text (domain adaptation).

    python -m reader.mlm --base PATH --corpus FILE... --out DIR [--max-minutes 15]
    (`clinqa train mlm` uses add_train_mlm_args / train_mlm)

The encoder behind the reader (all-MiniLM-L6-v2) was trained on general web sentence
pairs; a short MLM phase on clinical/biomedical text before QA fine-tuning is the usual
cheap way to adapt its vocabulary use. The output is a normal HF directory (BertForMaskedLM
weights + tokenizer) that `reader.train --base DIR` fine-tunes directly.

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
import math
import os
import random
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Iterator, Sequence

from common.datasets import (Problem, is_pubmedqa, is_squad, iter_medquad, load_json, pubmedqa_from_json, read_text,
                             squad_from_json)
from common.errors import run_entry_point
from reader.errors import TrainingError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MLMConfig:
    base: str
    corpus_files: tuple[str, ...]
    out_dir: str
    epochs: float = 1.0
    max_steps: int = 0  # 0 = no step limit
    max_minutes: float = 0.0  # 0 = no time limit; otherwise stop (and save) after this
    lr: float = 5e-5
    batch_size: int = 32
    max_seq_len: int = 128
    mlm_probability: float = 0.15
    warmup: float = 0.06
    weight_decay: float = 0.01
    seed: int = 42
    threads: int = 2
    progress: bool = True

    def __post_init__(self) -> None:
        if not self.corpus_files:
            raise TrainingError("no corpus files", hint="pass --corpus FILE (MedQuAD tar.gz, SQuAD/PubMedQA JSON, text)")
        if not 0.0 < self.mlm_probability < 1.0:
            raise TrainingError("mlm_probability must be in (0, 1)", hint="the usual value is 0.15")
        if self.batch_size < 1 or self.max_seq_len < 16:
            raise TrainingError("batch_size >= 1 and max_seq_len >= 16 required", hint="e.g. --batch-size 32 --max-seq-len 128")


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


def train_mlm(config: MLMConfig) -> dict:
    """Run MLM pretraining; saves a HF model dir to config.out_dir and returns metrics."""
    import torch
    from transformers import AutoModelForMaskedLM, AutoTokenizer, get_linear_schedule_with_warmup

    t0 = time.time()
    torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
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
    n_batches = math.ceil(len(blocks) / config.batch_size)
    total = math.ceil(n_batches * config.epochs)
    if config.max_steps:
        total = min(total, config.max_steps)
    logger.info("MLM: %d documents, %d blocks of %d tokens, %d steps", len(texts), len(blocks), config.max_seq_len, total)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = get_linear_schedule_with_warmup(opt, int(config.warmup * total), total)
    gen = torch.Generator().manual_seed(config.seed)
    data = torch.tensor(blocks, dtype=torch.long)
    model.train()
    step, losses, stopped = 0, [], "steps"
    pbar = None
    if config.progress:
        from tqdm.auto import tqdm

        pbar = tqdm(total=total, desc="train mlm", unit="step", dynamic_ncols=True)
    epoch = 0
    while step < total:
        perm = torch.randperm(len(blocks), generator=gen)
        for lo in range(0, len(blocks), config.batch_size):
            x = data[perm[lo : lo + config.batch_size]]
            inputs, labels = mask_tokens(x, tok, config.mlm_probability, gen)
            loss = _mlm_loss(model, inputs, labels)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            opt.step()
            sched.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            losses.append(float(loss.detach()))
            if pbar is not None:
                pbar.set_postfix(loss=f"{losses[-1]:.3f}", ex_s=f"{step * config.batch_size / (time.time() - t0):.1f}")
                pbar.update(1)
            if step % 50 == 0:
                logger.info("mlm step %d/%d loss %.4f", step, total, sum(losses[-50:]) / len(losses[-50:]))
            if step >= total:
                break
            if config.max_minutes and time.time() - t0 > config.max_minutes * 60:
                stopped = "time"
                break
        epoch += 1
        if stopped == "time":
            break
    if pbar is not None:
        pbar.close()
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    head = losses[:50]
    tail = losses[-50:]
    metrics = {
        "steps": step,
        "planned_steps": total,
        "stopped_by": stopped,
        "blocks": len(blocks),
        "documents": len(texts),
        "loss_first_50": sum(head) / len(head),
        "loss_last_50": sum(tail) / len(tail),
        "minutes": round((time.time() - t0) / 60, 2),
    }
    (out / "training_args.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    logger.info("MLM done: %s", metrics)
    return metrics


def add_train_mlm_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    d = {f.name: f.default for f in fields(MLMConfig)}
    parser.add_argument("--base", required=True)
    parser.add_argument("--corpus", nargs="+", required=True, metavar="FILE")
    parser.add_argument("--out", required=True)
    parser.add_argument("--epochs", type=float, default=d["epochs"])
    parser.add_argument("--max-steps", type=int, default=d["max_steps"])
    parser.add_argument("--max-minutes", type=float, default=d["max_minutes"])
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
        max_minutes=a.max_minutes, lr=a.lr, batch_size=a.batch_size, max_seq_len=a.max_seq_len,
        mlm_probability=a.mlm_probability, seed=a.seed, threads=a.threads, progress=not a.no_progress,
    )


def main(argv=None) -> int:
    p = add_train_mlm_args(argparse.ArgumentParser(prog="python -m reader.mlm", description="continued MLM pretraining"))
    return run_entry_point(lambda args: print(json.dumps(train_mlm(mlm_config_from_args(args)), indent=2)),
                           p.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
