"""What the task trainers (NER, classification, yes/no, reranker) share on top of the one
training loop (`common.training.run_training`): `train_task_model` (the loop's hooks for a
model that computes its own loss on padded encoded features), padding, writing a task model
directory with its task.json, metrics.json, and the summary a `clinqa train ...` command prints.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Sequence

from common.training import TrainingConfig, epoch_batches, run_training, to_device


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


def save_model(model: Any, tokenizer: Any, out: Path, task_info: dict) -> None:
    """Write a loadable HF model dir plus task.json (what `tasks` needs to use it)."""
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    (out / "task.json").write_text(json.dumps(task_info, indent=2) + "\n")


def task_metrics(state: Any, select_key: str, n_examples: int, extra: dict | None = None) -> dict:
    """OUT/metrics.json of a task trainer: the best evaluation, every evaluation, step and time counts."""
    return {
        "best": state.best_eval,
        "select_key": select_key,
        "history": state.history,
        "train_examples": n_examples,
        "total_steps": state.total_steps,
        "steps_done": state.step,
        "train_minutes": state.train_minutes,
        "wall_minutes": state.wall_minutes,
        **(extra or {}),
    }


def print_training_summary(out_dir: str, metrics: dict) -> None:
    """What a `clinqa train ...` command prints when done: {"out", "best", "wall_minutes"} as JSON."""
    print(json.dumps({"out": out_dir, "best": metrics.get("best"), "wall_minutes": metrics.get("wall_minutes")},
                     indent=2, default=str))


def train_task_model(
    config: TrainingConfig,
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
    """Train a task model on encoded `features` with the one loop; returns OUT/metrics.json's content.

    The hooks it passes to `run_training`: batches = `epoch_batches` over the feature lengths
    (length-bucketed), loss = the model's own loss on `collate(batch)`, `evaluate(model)` on
    dev (a dict holding `select_key`), save = the model directory with task.json
    (`task_info(best_eval)`), metrics = `task_metrics`."""
    lengths = [len(f["input_ids"]) for f in features]

    def compute_loss(batch: list[int], device: Any) -> Any:
        return model(**to_device(collate([features[i] for i in batch]), device)).loss

    return run_training(
        config, model=model, n_items=len(features),
        make_batches=lambda epoch: epoch_batches(lengths, config.batch_size, config.seed, epoch),
        compute_loss=compute_loss, evaluate=evaluate, select_key=select_key,
        save=lambda best_eval: save_model(model, tokenizer, Path(config.out_dir), task_info(best_eval)),
        metrics=lambda state: task_metrics(state, select_key, len(features), extra_metrics),
        desc=desc, interrupt_after=interrupt_after,
    )
