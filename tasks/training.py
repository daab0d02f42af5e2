"""The fine-tuning loop shared by NER, classification, yes/no and the reranker (CPU-friendly,
resumable, and on a GPU when one is there: `device="auto"`).

Same design as `reader.train` (dynamic padding with length buckets, AdamW with linear
warm-up/decay, checkpoints OUT/checkpoint/state.pt that `resume` continues exactly), but
task-agnostic: the task hands over encoded features, a collate function and a dev
evaluation returning a dict with the selection metric. The best model on dev is written to
OUT as a plain Hugging Face model directory with training_args.json and metrics.json.

With a time budget the learning-rate schedule runs on whichever is further along, steps
or training time (evaluation excluded), so a budgeted run still warms up and decays fully
instead of stopping at a high learning rate.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import re
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from tasks.errors import TaskError

logger = logging.getLogger(__name__)

CHECKPOINT_DIR = "checkpoint"
STATE_FILE = "state.pt"


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


NO_DECAY = ("bias", "LayerNorm.weight", "layer_norm", "norm.weight")


def adamw(model: Any, lr: float, weight_decay: float) -> Any:
    """AdamW with the usual BERT fine-tuning groups: weight decay on weights, none on
    biases and LayerNorm parameters (trainable parameters only)."""
    import torch

    params = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    return torch.optim.AdamW([
        {"params": [p for n, p in params if not any(nd in n for nd in NO_DECAY)], "weight_decay": weight_decay},
        {"params": [p for n, p in params if any(nd in n for nd in NO_DECAY)], "weight_decay": 0.0},
    ], lr=lr)


def lr_factor(progress: float, warmup: float) -> float:
    """Linear warm-up over the first `warmup` fraction, then linear decay to 0."""
    if progress < warmup:
        return progress / warmup
    return max(0.0, (1.0 - progress) / max(1e-9, 1.0 - warmup))


def pad_batch(features: Sequence[dict], pad_id: int, label_pad: int | None):
    """Pad `input_ids` to the longest feature. Per-token labels (lists as long as the
    input) are padded with `label_pad`; per-example labels are stacked as they are."""
    import torch

    n = max(len(f["input_ids"]) for f in features)
    ids = torch.full((len(features), n), pad_id, dtype=torch.long)
    am = torch.zeros((len(features), n), dtype=torch.long)
    for i, f in enumerate(features):
        ids[i, : len(f["input_ids"])] = torch.tensor(f["input_ids"])
        am[i, : len(f["input_ids"])] = 1
    # No token_type_ids: single-segment inputs, and BERT-style models default them to zeros
    # while others (DistilBERT, RoBERTa-style) would reject or misuse them.
    batch = {"input_ids": ids, "attention_mask": am}
    if "labels" in features[0]:
        if label_pad is not None:
            lab = torch.full((len(features), n), label_pad, dtype=torch.long)
            for i, f in enumerate(features):
                lab[i, : len(f["labels"])] = torch.tensor(f["labels"])
        else:
            first = features[0]["labels"]
            dtype = torch.float if isinstance(first, list) else torch.long  # multi-hot vs class id
            lab = torch.tensor([f["labels"] for f in features], dtype=dtype)
        batch["labels"] = lab
    return batch


def resolve_device(name: str) -> Any:
    """`torch.device` for "auto" (CUDA when available, else CPU), "cpu", "cuda" or "cuda:N".

    Raises TaskError for an unknown name, or "cuda" asked for on a machine without one."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu" or re.fullmatch(r"cuda(:\d+)?", name):
        if name.startswith("cuda") and not torch.cuda.is_available():
            raise TaskError(f"--device {name} asked for, but torch sees no CUDA device",
                            hint="use --device cpu (or auto) on this machine")
        return torch.device(name)
    raise TaskError(f"unknown device {name!r}", hint="use auto, cpu, cuda or cuda:N")


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


def place_model(model: Any, config: Any) -> Any:
    """Freeze the word embeddings if `config.freeze_embeddings`, move `model` to
    `resolve_device(config.device)` and return that device (shared with reader.train).
    A task wrapper holding the Hugging Face model as `.model` (the reranker's) is unwrapped
    for freezing."""
    device = resolve_device(config.device)
    if config.freeze_embeddings:
        frozen = freeze_word_embeddings(getattr(model, "model", model))
        logger.info("word embeddings frozen (%d parameters)", frozen)
    model.to(device)
    logger.info("training on %s", device)
    return device


def rng_state() -> dict:
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def set_rng_state(state: dict) -> None:
    import torch

    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])


def atomic_torch_save(obj: Any, path: Path) -> None:
    import torch

    tmp = path.with_suffix(path.suffix + ".tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)  # a kill mid-write never leaves a half checkpoint


def save_model(model: Any, tokenizer: Any, out: Path, task_info: dict) -> None:
    """Write a loadable HF model dir plus task.json (what `tasks` needs to use it)."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "task.json").write_text(json.dumps(task_info, indent=2) + "\n")


def run_training(
    config: Any,
    *,
    model: Any,
    tokenizer: Any,
    features: list[dict],
    collate: Callable[[list[dict]], dict],
    evaluate: Callable[[Any], dict] | None,
    select_key: str,
    task_info: Callable[[dict | None], dict],
    desc: str,
    extra_metrics: dict | None = None,
    interrupt_after: int = 0,
) -> dict:
    """Train `model` on `features`; returns the metrics written to OUT/metrics.json.

    `config` needs: out_dir, epochs, lr, batch_size, warmup, weight_decay, max_grad_norm,
    seed, threads, max_steps, time_budget_min, eval_every, checkpoint_minutes, bf16, device,
    freeze_embeddings, resume, progress and to_dict(). The model is moved to `device`;
    `evaluate` gets it there (tasks.runtime.batch_logits follows the model's device).
    `evaluate(model)` returns a dict holding `select_key` (higher is better);
    `task_info(best_eval)` builds task.json. `interrupt_after` (tests only) simulates a
    kill after that many optimizer steps: a checkpoint is written and
    {"interrupted_at": step} returned.
    """
    import torch

    t_start = time.time()
    out = Path(config.out_dir)
    state_path = out / CHECKPOINT_DIR / STATE_FILE
    if config.resume and not state_path.is_file():
        raise TaskError(
            f"--resume given but {state_path} does not exist",
            hint="start without --resume, or point --out at the directory of the interrupted run",
        )
    if not features:
        raise TaskError("no training examples", hint="check the training file(s)")

    device = place_model(model, config)
    lengths = [len(f["input_ids"]) for f in features]
    steps_per_epoch = math.ceil(len(features) / config.batch_size)
    total_steps = math.ceil(steps_per_epoch * config.epochs)
    if config.max_steps:
        total_steps = min(total_steps, config.max_steps)
    optimizer = adamw(model, config.lr, config.weight_decay)
    budget_s = config.time_budget_min * 60

    step, epoch, batch_in_epoch = 0, 0, 0
    train_s = 0.0  # seconds spent in optimizer steps (the time budget counts these only)
    best = -math.inf
    best_eval: dict | None = None
    history: list[dict] = []
    if config.resume:
        state = torch.load(state_path, map_location="cpu", weights_only=False)
        if state["n_features"] != len(features):
            logger.warning("resuming with different training data than the checkpoint was written with")
        model.load_state_dict(state["model"])  # copied into the parameters, on their device
        optimizer.load_state_dict(state["optimizer"])
        step, epoch, batch_in_epoch = state["step"], state["epoch"], state["batch_in_epoch"]
        train_s = state["train_s"]
        best, best_eval, history = state["best"], state["best_eval"], state["history"]
        set_rng_state(state["rng"])
        logger.info("resumed from %s at step %d (epoch %d, batch %d)", state_path, step, epoch, batch_in_epoch)

    out.mkdir(parents=True, exist_ok=True)
    (out / "training_args.json").write_text(json.dumps(config.to_dict(), indent=2) + "\n")

    def write_metrics() -> dict:
        metrics = {
            "best": best_eval,
            "select_key": select_key,
            "history": history,
            "train_examples": len(features),
            "total_steps": total_steps,
            "steps_done": step,
            "train_minutes": round(train_s / 60, 2),
            "wall_minutes": round((time.time() - t_start) / 60, 2),
            **(extra_metrics or {}),
        }
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        return metrics

    def save_checkpoint() -> None:
        state_path.parent.mkdir(parents=True, exist_ok=True)
        atomic_torch_save(
            {
                "model": model.state_dict(),
                "optimizer": optimizer.state_dict(),
                "step": step,
                "train_s": train_s,
                "epoch": epoch,
                "batch_in_epoch": batch_in_epoch,
                "best": best,
                "best_eval": best_eval,
                "history": history,
                "rng": rng_state(),
                "config": config.to_dict(),
                "n_features": len(features),
            },
            state_path,
        )
        logger.info("checkpoint written at step %d", step)

    def do_eval(tag: str) -> None:
        nonlocal best, best_eval
        if evaluate is None:
            return
        t0 = time.time()
        model.eval()
        with torch.no_grad():
            res = dict(evaluate(model))
        model.train()
        res.update(step=step, epoch=round(step / steps_per_epoch, 3), tag=tag,
                   eval_s=round(time.time() - t0, 1), elapsed_s=round(time.time() - t_start, 1))
        history.append(res)
        improved = res[select_key] > best
        logger.info("eval %s step %d: %s=%.2f%s", tag, step, select_key, res[select_key], "  (best)" if improved else "")
        if improved:
            best, best_eval = res[select_key], res
            save_model(model, tokenizer, out, task_info(best_eval))
            write_metrics()

    model.train()
    last_ckpt = time.time()
    pbar = None
    if config.progress:
        from tqdm.auto import tqdm

        pbar = tqdm(total=total_steps, initial=step, desc=desc, unit="step", dynamic_ncols=True)
    # bf16 autocast for the training forward pass only (dev evaluation stays fp32): worth
    # it on CPUs with AVX512-BF16/AMX, as on the project's machine, and on any recent GPU.
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16)
    done = step >= total_steps
    while not done and epoch < math.ceil(config.epochs):
        batches = epoch_batches(lengths, config.batch_size, config.seed, epoch)
        while batch_in_epoch < len(batches):
            t_step = time.time()
            progress = max(step / total_steps, train_s / budget_s if budget_s else 0.0)
            lr = config.lr * lr_factor(progress, config.warmup)
            for g in optimizer.param_groups:
                g["lr"] = lr
            batch = to_device(collate([features[i] for i in batches[batch_in_epoch]]), device)
            with autocast:
                loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.max_grad_norm)
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            batch_in_epoch += 1
            step += 1
            train_s += time.time() - t_step
            loss_value = float(loss.detach())
            if pbar is not None:
                pbar.set_postfix(loss=f"{loss_value:.3f}", lr=f"{lr:.2e}")
                pbar.update(1)
            if step % 50 == 0:
                logger.info("step %d/%d loss %.4f lr %.2e train %.1f min", step, total_steps, loss_value, lr,
                            train_s / 60)
            if config.eval_every and step % config.eval_every == 0:
                do_eval("step")
            if step >= total_steps or (budget_s and train_s >= budget_s):
                done = True
                break
            if interrupt_after and step >= interrupt_after:
                save_checkpoint()
                return {"interrupted_at": step}
            if time.time() - last_ckpt >= config.checkpoint_minutes * 60:
                save_checkpoint()
                last_ckpt = time.time()
        if batch_in_epoch >= len(batches):
            epoch += 1
            batch_in_epoch = 0
            if not config.eval_every:
                do_eval("epoch")
            save_checkpoint()
            last_ckpt = time.time()
    if pbar is not None:
        pbar.close()
    if not history or history[-1]["step"] != step:
        do_eval("final")  # max_steps, time budget or fractional epochs stop mid-epoch
    if evaluate is None:
        save_model(model, tokenizer, out, task_info(None))
    save_checkpoint()
    metrics = write_metrics()
    logger.info("training done in %.1f min; best %s %s", (time.time() - t_start) / 60, select_key,
                None if best_eval is None else round(best_eval[select_key], 2))
    return metrics


def print_training_summary(out_dir: str, metrics: dict) -> None:
    """What a `clinqa train ...` command prints when done: {"out", "best", "wall_minutes"} as JSON."""
    print(json.dumps({"out": out_dir, "best": metrics.get("best"), "wall_minutes": metrics.get("wall_minutes")},
                     indent=2, default=str))


def set_seed_and_threads(seed: int, threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


# Command-line options of the shared loop: NER and classification add their data options
# and call these, so both stay in step with run_training's knobs.
_TRAINING_FIELDS = ("epochs", "lr", "batch_size", "max_seq_len", "warmup", "weight_decay", "seed", "threads",
                    "checkpoint_minutes", "eval_every", "time_budget_min", "max_steps", "bf16", "device",
                    "freeze_embeddings", "resume")


def add_training_args(parser: Any, d: dict[str, Any]) -> None:
    """Add the training-loop options; `d` maps config field names to their defaults."""
    parser.add_argument("--epochs", type=float, default=d["epochs"])
    parser.add_argument("--lr", type=float, default=d["lr"])
    parser.add_argument("--batch-size", type=int, default=d["batch_size"])
    parser.add_argument("--max-seq-len", type=int, default=d["max_seq_len"])
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


def add_device_args(parser: Any) -> None:
    """--bf16, --device and --freeze-embeddings (shared with `clinqa train reader`)."""
    parser.add_argument("--bf16", action="store_true",
                        help="bfloat16 autocast for the training forward pass (CPUs with AVX512-BF16/AMX, GPUs)")
    parser.add_argument("--device", default="auto",
                        help="auto (CUDA when available, else CPU), cpu, cuda or cuda:N (default %(default)s)")
    parser.add_argument("--freeze-embeddings", action="store_true",
                        help="do not train the word-embedding matrix (ships as a delta half the size)")


def training_kwargs(args: Any) -> dict[str, Any]:
    """Config keyword arguments for the options added by `add_training_args`."""
    return {**{f: getattr(args, f) for f in _TRAINING_FIELDS}, "progress": not args.no_progress}
