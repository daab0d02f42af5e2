"""The one training loop of clinqa: every trainer (reader, MLM, NER, classifier, yes/no,
reranker, dense retriever) runs `run_training` with its own hooks and a config derived from
`TrainingConfig`.

    state = run_training(config, model=model, n_items=len(features),
                         make_batches=lambda epoch: epoch_batches(lengths, config.batch_size, config.seed, epoch),
                         compute_loss=lambda batch, device: model(**to_device(collate(batch), device)).loss,
                         save=lambda best_eval: model.save_pretrained(config.out_dir),
                         metrics=lambda state: {"steps_done": state.step, "history": state.history})

What the loop does, the same for every task (docs/decisions.md "one training loop"):
- batches: `make_batches(epoch)` returns that epoch's batches as lists of item indices, a pure
  function of the epoch (and the config's seed), which is what lets a resumed run skip exactly
  the batches already trained on (`epoch_batches`: length-bucketed; the reader's shared-norm
  groups and the retriever's duplicate-free batches are other such functions);
- steps: `grad_accum` batches per optimizer step, each `compute_loss(batch, device)` (inside a
  bf16 autocast when `bf16`) divided by their number; gradient clipping at `max_grad_norm`
  (0 = off); AdamW with weight decay on weights only (`adamw`);
- learning rate: linear warm-up over `int(warmup * total_steps)` steps, then linear decay to 0
  (`schedule_factor`); with `time_budget_min` the schedule runs on whichever is further along,
  steps or training time (evaluation excluded), and training stops when the budget is spent;
- evaluation: `evaluate(model)` (eval mode, no gradients) every `eval_every` steps, else at
  each epoch end, and once more where training stops mid-epoch; a higher `select_key` calls
  `save(best_eval)` and rewrites OUT/metrics.json; without `evaluate`, `save(None)` at the end;
- checkpoints: OUT/checkpoint/state.pt (model, optimizer, step, epoch, batch_in_epoch,
  train_seconds, best, best_eval, history, extra, RNG states, config, n_features), written
  atomically at each epoch end, every `checkpoint_minutes` and at the end; `resume` continues
  from it so that a killed and resumed run ends with the weights of an uninterrupted one
  (tests/test_training_resume.py). Checkpoints of the former per-trainer loops still resume:
  the reader's `scheduler` entry is ignored (the LR is recomputed from the step, with the same
  integer warm-up), the task loops' and the retriever's `train_s` / `n_pairs` are read as
  `train_seconds` / `n_features`.

Lives in `common` (the bottom layer) because `reader` and `tasks` both train models and may
not import each other. torch and numpy are imported inside the functions that use them, so
importing this module stays free.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Sequence

from common.errors import HintedError

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"
NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")


class TrainingConfigError(HintedError):
    """A training option is invalid (the default error of `TrainingConfig`; trainers name their own)."""


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """The options every trainer shares; each trainer's config derives from it, adds its own
    fields and may change the defaults (training_args.json holds all fields, `to_dict`).

    `error` (a class attribute, not a field) is the error family raised for invalid values and
    by the loop (a missing checkpoint for `resume`, an unknown device)."""

    error: ClassVar[type[HintedError]] = TrainingConfigError

    out_dir: str
    epochs: float = 3.0
    lr: float = 5e-5
    batch_size: int = 16
    grad_accum: int = 1  # batches per optimizer step
    max_seq_len: int = 256
    warmup: float = 0.1  # fraction of optimizer steps
    weight_decay: float = 0.01
    max_grad_norm: float = 1.0  # 0 = no clipping
    seed: int = 42
    threads: int = 2  # torch threads; 0 = torch's default
    eval_every: int = 0  # optimizer steps between evaluations; 0 = once per epoch
    checkpoint_minutes: float = 10.0
    max_steps: int = 0  # stop after this many optimizer steps (0 = no limit)
    # Training-time budget in minutes (0 = off). On a shared CPU the step rate is unknown in
    # advance; with a budget the LR schedule runs on progress = max(step fraction, time
    # fraction), so warm-up and decay complete when the budget is spent.
    time_budget_min: float = 0.0
    bf16: bool = False  # autocast of the training forward pass; CPUs with AVX512-BF16/AMX, GPUs
    device: str = "auto"  # resolve_device
    freeze_embeddings: bool = False  # freeze_word_embeddings
    resume: bool = False  # continue from OUT/checkpoint/state.pt
    progress: bool = True  # tqdm bar

    def __post_init__(self) -> None:
        err = self.error
        if not self.out_dir:
            raise err("no output directory", hint="pass --out DIR")
        if self.epochs <= 0 or self.lr <= 0:
            raise err("epochs and lr must be positive", hint=f"epochs={self.epochs} lr={self.lr}")
        if not 0.0 <= self.warmup < 1.0:
            raise err(f"warmup={self.warmup} must be a fraction in [0, 1)", hint="e.g. --warmup 0.1")
        for name in ("batch_size", "grad_accum"):
            if getattr(self, name) < 1:
                raise err(f"{name} must be >= 1", hint=f"got {getattr(self, name)}")
        for name in ("threads", "eval_every", "max_steps", "time_budget_min", "weight_decay", "max_grad_norm"):
            if getattr(self, name) < 0:
                raise err(f"{name} must be >= 0, got {getattr(self, name)}", hint="0 turns it off / uses the default")
        if self.checkpoint_minutes <= 0:
            raise err(f"checkpoint_minutes must be > 0, got {self.checkpoint_minutes}", hint="e.g. --checkpoint-minutes 10")
        if self.max_seq_len < 8:
            raise err(f"max_seq_len={self.max_seq_len} is too small", hint="use 128-512")

    def to_dict(self) -> dict[str, Any]:
        """Every field (training_args.json); tuples become lists."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}


@dataclass
class TrainState:
    """Where a run stands; everything but the last four fields is checkpointed."""

    step: int = 0  # optimizer steps done
    epoch: int = 0
    batch_in_epoch: int = 0  # batches of `epoch` already trained on
    train_seconds: float = 0.0  # time in training steps (evaluation excluded), kept across resumes
    best: float = -math.inf  # best value of select_key so far
    best_eval: dict | None = None
    history: list[dict] = field(default_factory=list)  # evaluations (and whatever after_step adds)
    extra: dict = field(default_factory=dict)  # a trainer's own running values (after_step)
    total_steps: int = 0
    steps_per_epoch: int = 0
    stopped_by: str = ""  # "steps", "time_budget" or "interrupted"
    started: float = field(default_factory=time.time)

    @property
    def wall_minutes(self) -> float:
        return round((time.time() - self.started) / 60, 2)

    @property
    def train_minutes(self) -> float:
        return round(self.train_seconds / 60, 2)

    def epochs_done(self) -> float:
        return round(self.step / self.steps_per_epoch, 3) if self.steps_per_epoch else 0.0


# ----------------------------------------------------------------------------- pure parts


def epoch_batches(lengths: Sequence[int], batch_size: int, seed: int, epoch: int, bucket: int = 50) -> list[list[int]]:
    """Deterministic batches for one epoch (shuffle, sort by length inside chunks of
    `bucket` batches, shuffle batch order). A pure function of its arguments, which is
    what lets `resume` skip exactly the batches already trained on."""
    rng = random.Random(seed * 1_000_003 + epoch)
    idx = list(range(len(lengths)))
    rng.shuffle(idx)
    chunk = batch_size * bucket
    batches: list[list[int]] = []
    for lo in range(0, len(idx), chunk):
        part = sorted(idx[lo : lo + chunk], key=lambda i: lengths[i])
        batches.extend(part[i : i + batch_size] for i in range(0, len(part), batch_size))
    rng.shuffle(batches)
    return batches


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up over the first `warmup` fraction, then linear decay to 0."""
    if progress < warmup:
        return progress / warmup
    return max(0.0, (1.0 - progress) / max(1e-9, 1.0 - warmup))


def schedule_factor(step: int, total_steps: int, warmup: float, time_fraction: float = 0.0) -> float:
    """The LR multiplier before optimizer step `step` (0-based) of `total_steps`: linear warm-up
    over `int(warmup * total_steps)` steps, then linear decay to 0 (the same values as
    transformers' get_linear_schedule_with_warmup, which the reader used); when the time
    budget is further along (`time_fraction` of it spent), the schedule follows time instead."""
    warm = int(warmup * total_steps)
    if time_fraction * total_steps > step:
        return lr_factor(time_fraction, warm / total_steps)
    if step < warm:
        return step / warm
    return max(0.0, (total_steps - step) / max(1, total_steps - warm))


# ----------------------------------------------------------------------------- torch helpers


def adamw(model: Any, lr: float, weight_decay: float) -> Any:
    """AdamW with the usual BERT fine-tuning groups: weight decay on weights, none on
    biases and LayerNorm parameters (trainable parameters only)."""
    import torch

    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return torch.optim.AdamW([
        {"params": [p for n, p in params if not any(nd in n for nd in NO_DECAY)], "weight_decay": weight_decay},
        {"params": [p for n, p in params if any(nd in n for nd in NO_DECAY)], "weight_decay": 0.0},
    ], lr=lr)


def resolve_device(name: str, error: type[HintedError] = TrainingConfigError) -> Any:
    """`torch.device` for "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    Raises `error` for an unknown name, or "cuda" asked for on a machine without one."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu" or re.fullmatch(r"cuda(:\d+)?", name):
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise error(f"--device {name} asked for, but torch sees no CUDA device",
                        hint="use --device cpu (or auto) on this machine")
        return torch.device(name)
    raise error(f"unknown device {name!r}", hint="use auto, cpu, cuda or cuda:N")


def model_device(model: Any) -> Any:
    """The device of a torch model's first parameter (CPU for a parameterless module)."""
    import torch

    p = next(iter(model.parameters()), None)
    return p.device if p is not None else torch.device("cpu")


def to_device(batch: dict, device: Any) -> dict:
    """Move every tensor of a batch dict to `device` (non-tensors kept)."""
    return {k: v.to(device, non_blocking=True) if hasattr(v, "to") else v for k, v in batch.items()}


def freeze_word_embeddings(model: Any) -> int:
    """Stop training the input word-embedding matrix (30k x hidden for BERT-style models);
    returns the number of frozen parameters. Fine-tuning moves these rows little, and a
    model trained so can be shipped as the base's embeddings plus the rest
    (scripts/model_delta.py), half the size of the full model."""
    emb = model.get_input_embeddings()
    emb.weight.requires_grad_(False)
    return int(emb.weight.numel())


def place_model(model: Any, config: TrainingConfig) -> Any:
    """Freeze the word embeddings if `config.freeze_embeddings`, move `model` to
    `resolve_device(config.device)` and return that device. A task wrapper holding the
    Hugging Face model as `.model` (the reranker's) is unwrapped for freezing."""
    device = resolve_device(config.device, config.error)
    if config.freeze_embeddings:
        frozen = freeze_word_embeddings(getattr(model, "model", model))
        logger.info("word embeddings frozen (%d parameters)", frozen)
    model.to(device)
    logger.info("training on %s", device)
    return device


def seed_everything(seed: int, threads: int = 0) -> None:
    """Seed Python, NumPy and torch; `threads` > 0 also sets torch's thread count. Trainers
    call it before building a model (a new task head is randomly initialised)."""
    import numpy as np
    import torch

    if threads:
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def rng_state() -> dict:
    import numpy as np
    import torch

    state = {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict) -> None:
    import numpy as np
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a kill mid-write never leaves a half checkpoint


# ----------------------------------------------------------------------------- the loop


def _load_checkpoint(state_path: Path, config: TrainingConfig, model: Any, optimizer: Any, n_items: int) -> TrainState:
    """A TrainState from OUT/checkpoint/state.pt, written by this loop or by the per-trainer
    loops before it (reader: `scheduler`, `train_seconds`; task loops: `train_s`,
    `best_eval`; retriever: `train_s`, `n_pairs`)."""
    import torch

    saved = torch.load(state_path, map_location="cpu", weights_only=False)
    n_saved = saved.get("n_features", saved.get("n_pairs"))
    base_saved = (saved.get("config") or {}).get("base")
    if n_saved != n_items or (base_saved is not None and base_saved != getattr(config, "base", base_saved)):
        logger.warning("resuming with different training data or base model than the checkpoint was written with")
    model.load_state_dict(saved["model"])  # copied into the parameters, on their device
    optimizer.load_state_dict(saved["optimizer"])
    set_rng_state(saved["rng"])
    best = saved.get("best", -math.inf)
    return TrainState(step=saved["step"], epoch=saved["epoch"], batch_in_epoch=saved["batch_in_epoch"],
                      train_seconds=saved.get("train_seconds", saved.get("train_s", 0.0)),
                      best=-math.inf if best is None else best, best_eval=saved.get("best_eval"),
                      history=list(saved.get("history", [])), extra=dict(saved.get("extra", {})))


def run_training(
    config: TrainingConfig,
    *,
    model: Any,
    n_items: int,
    make_batches: Callable[[int], list[list[int]]],
    compute_loss: Callable[[list[int], Any], Any],
    save: Callable[[dict | None], None],
    metrics: Callable[[TrainState], dict],
    evaluate: Callable[[Any], dict] | None = None,
    select_key: str = "",
    after_step: Callable[[TrainState, float, float], None] | None = None,
    drop_checkpoint_when_done: bool = False,
    desc: str = "train",
    interrupt_after: int = 0,
) -> dict:
    """Train `model`; returns the metrics written to OUT/metrics.json (`metrics(state)`).

    Hooks (see the module docstring): `make_batches(epoch)` the epoch's batches of item
    indices (`n_items` items in all); `compute_loss(batch, device)` a scalar loss tensor for
    one batch; `evaluate(model)` a dict holding `select_key` (higher is better), or None for
    no evaluation; `save(best_eval)` writes the model to OUT; `metrics(state)` the content
    of OUT/metrics.json; `after_step(state, loss, lr)` runs after every optimizer step (a
    trainer's loss log: what it keeps in `state.extra` / `state.history` is checkpointed).

    `drop_checkpoint_when_done`: remove OUT/checkpoint/ when the scheduled steps are done
    (kept when the time budget stopped the run, so a longer budget can resume).
    `interrupt_after` (tests only) simulates a kill after that many optimizer steps: a
    checkpoint is written and {"interrupted_at": step} returned.

    Raises `config.error` when `resume` finds no checkpoint, when there is nothing to train
    on, or for an unusable device.
    """
    import torch

    out = Path(config.out_dir)
    state_path = out / CHECKPOINT_DIR / STATE_FILE
    if config.resume and not state_path.is_file():
        raise config.error(f"--resume given but {state_path} does not exist",
                           hint="start without --resume, or point --out at the directory of the interrupted run")
    n_batches = len(make_batches(0))
    if not n_items or not n_batches:
        raise config.error("no training examples", hint="check the training file(s)")

    device = place_model(model, config)
    steps_per_epoch = math.ceil(n_batches / config.grad_accum)
    total_steps = math.ceil(steps_per_epoch * config.epochs)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    optimizer = adamw(model, config.lr, config.weight_decay)
    budget_s = config.time_budget_min * 60
    if config.resume:
        state = _load_checkpoint(state_path, config, model, optimizer, n_items)
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", state_path, state.step, state.epoch,
                    state.batch_in_epoch)
    else:
        state = TrainState()
    state.total_steps, state.steps_per_epoch = total_steps, steps_per_epoch

    out.mkdir(parents=True, exist_ok=True)
    (out / "training_args.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    def write_metrics() -> dict:
        m = metrics(state)
        (out / "metrics.json").write_text(json.dumps(m, indent=2) + "\n")
        return m

    def save_checkpoint() -> None:
        state_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save({
            "model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": state.step,
            "epoch": state.epoch, "batch_in_epoch": state.batch_in_epoch, "train_seconds": state.train_seconds,
            "best": state.best, "best_eval": state.best_eval, "history": state.history, "extra": state.extra,
            "rng": rng_state(), "config": config.to_dict(), "n_features": n_items,
        }, state_path)
        logger.info("checkpoint written at step %d", state.step)

    def do_eval(tag: str) -> None:
        if evaluate is None:
            return
        t0 = time.time()
        model.eval()
        with torch.no_grad():
            res = dict(evaluate(model))
        model.train()
        res.update(step=state.step, epoch=state.epochs_done(), tag=tag, eval_s=round(time.time() - t0, 1),
                   elapsed_s=round(time.time() - state.started, 1))
        state.history.append(res)
        improved = res[select_key] > state.best
        logger.info("eval %s step %d: %s=%.2f%s", tag, state.step, select_key, res[select_key],
                    "  (best)" if improved else "")
        if improved:
            state.best, state.best_eval = res[select_key], res
            save(res)
            write_metrics()

    model.train()
    last_ckpt = time.time()
    pbar = None
    if config.progress:
        from tqdm.auto import tqdm

        pbar = tqdm(total=total_steps, initial=state.step, desc=desc, unit="step", dynamic_ncols=True)
    # bf16 autocast for the training forward pass only (evaluation stays fp32).
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16)
    items_seen, t_rate = 0, time.time()
    if state.step >= total_steps:
        state.stopped_by = "steps"
    while not state.stopped_by and state.epoch < math.ceil(config.epochs):
        batches = make_batches(state.epoch)
        while state.batch_in_epoch < len(batches):
            group = batches[state.batch_in_epoch : state.batch_in_epoch + config.grad_accum]
            t_step = time.time()
            lr = config.lr * schedule_factor(state.step, total_steps, config.warmup,
                                             state.train_seconds / budget_s if budget_s else 0.0)
            for g in optimizer.param_groups:
                g["lr"] = lr
            loss_value = 0.0
            for batch in group:
                with autocast:
                    loss = compute_loss(batch, device)
                (loss / len(group)).backward()
                loss_value += float(loss.detach()) / len(group)
                items_seen += len(batch)
            if config.max_grad_norm:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            state.batch_in_epoch += len(group)
            state.step += 1
            state.train_seconds += time.time() - t_step
            if after_step is not None:
                after_step(state, loss_value, lr)
            if pbar is not None:
                rate = items_seen / max(time.time() - t_rate, 1e-6)
                pbar.set_postfix(loss=f"{loss_value:.3f}", ex_s=f"{rate:.1f}", lr=f"{lr:.2e}")
                pbar.update(1)
            if state.step % 50 == 0:
                logger.info("step %d/%d loss %.4f lr %.2e train %.1f min", state.step, total_steps, loss_value, lr,
                            state.train_seconds / 60)
            if config.eval_every and state.step % config.eval_every == 0:
                do_eval("step")
            if state.step >= total_steps:
                state.stopped_by = "steps"
                break
            if budget_s and state.train_seconds >= budget_s:
                state.stopped_by = "time_budget"
                break
            if interrupt_after and state.step >= interrupt_after:
                save_checkpoint()
                if pbar is not None:
                    pbar.close()
                return {"interrupted_at": state.step}
            if time.time() - last_ckpt >= config.checkpoint_minutes * 60:
                save_checkpoint()
                last_ckpt = time.time()
        if state.batch_in_epoch >= len(batches):
            state.epoch += 1
            state.batch_in_epoch = 0
            if not config.eval_every:
                do_eval("epoch")
            save_checkpoint()
            last_ckpt = time.time()
    if pbar is not None:
        pbar.close()
    state.stopped_by = state.stopped_by or "steps"  # the epochs ran out
    if evaluate is not None and (not state.history or state.history[-1].get("step") != state.step):
        do_eval("final")  # max_steps, the time budget or fractional epochs stop mid-epoch
    if evaluate is None:
        save(None)
    save_checkpoint()
    result = write_metrics()
    if drop_checkpoint_when_done and state.stopped_by == "steps":
        shutil.rmtree(out / CHECKPOINT_DIR, ignore_errors=True)
    logger.info("training done in %.1f min (%d steps, stopped by %s); best %s %s", state.wall_minutes, state.step,
                state.stopped_by, select_key or "-", None if state.best_eval is None else state.best_eval[select_key])
    return result


# ----------------------------------------------------------------------------- command line


def add_device_args(parser: Any) -> None:
    """--bf16, --device and --freeze-embeddings."""
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast for the training forward pass (CPUs with AVX512-BF16/AMX, GPUs)")
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA when available, else CPU), cpu, cuda or cuda:N (default %(default)s)")
    parser.add_argument("--freeze-embeddings", action="store_true",
                        help="do not train the word-embedding matrix (ships as a delta half the size)")


# The options `add_training_args` adds, as config field names (plus progress = not --no-progress).
TRAINING_ARGS = ("epochs", "lr", "batch_size", "grad_accum", "max_seq_len", "warmup", "weight_decay", "seed", "threads",
                 "checkpoint_minutes", "eval_every", "time_budget_min", "max_steps", "bf16", "device",
                 "freeze_embeddings", "resume")


def add_training_args(parser: Any, d: dict[str, Any]) -> None:
    """The loop's command-line options, the same for every trainer on it (reader, NER,
    classification, yes/no, reranker); `d` maps config field names to their defaults."""
    parser.add_argument("--epochs", type=float, default=d["epochs"], help="passes over the data (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=d["lr"], help="peak AdamW learning rate (default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=d["batch_size"], help="items per batch (default: %(default)s)")
    parser.add_argument("--grad-accum", type=int, default=d["grad_accum"],
                        help="batches per optimizer step (default: %(default)s)")
    parser.add_argument("--max-seq-len", type=int, default=d["max_seq_len"], help="tokens (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=d["warmup"], help="warm-up fraction of optimizer steps")
    parser.add_argument("--weight-decay", type=float, default=d["weight_decay"])
    parser.add_argument("--seed", type=int, default=d["seed"])
    parser.add_argument("--threads", type=int, default=d["threads"])
    parser.add_argument("--checkpoint-minutes", type=float, default=d["checkpoint_minutes"])
    parser.add_argument("--eval-every", type=int, default=d["eval_every"], help="optimizer steps; 0 = every epoch")
    parser.add_argument("--time-budget-min", type=float, default=d["time_budget_min"],
                        help="stop after this many minutes of training; the LR schedule is fitted to it (0 = off)")
    parser.add_argument("--max-steps", type=int, default=d["max_steps"], help="stop after N optimizer steps (0 = off)")
    add_device_args(parser)
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint/")
    parser.add_argument("--no-progress", action="store_true", help="no tqdm bar (logs only)")


def training_kwargs(args: Any) -> dict[str, Any]:
    """Config keyword arguments for the options added by `add_training_args`."""
    return {**{f: getattr(args, f) for f in TRAINING_ARGS}, "progress": not args.no_progress}
