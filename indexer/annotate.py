"""Index-time annotation: entity mentions per passage (NER) and a category per document.

The NER model tags diseases and chemicals in every new chunk; the classifier gives every new
document its most probable category. Both are stored in the index's database, so search can
be filtered by entity ("passages that mention metformin") or category, and the UI can
highlight entities in sources. Models are named in `AnnotateConfig` ("shipped" = the models
in the repo's `models/ner` and `models/classifier`) and recorded in the manifest, so `add`
annotates new documents with the models the index was built with.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from indexer.errors import IndexerError
from store import Category, Document, Mention, Passage

log = logging.getLogger(__name__)

SHIPPED = "shipped"


@dataclass(frozen=True)
class AnnotateConfig:
    """Which models annotate an index (None = that annotation is off)."""

    ner_model: str | None = None  # "shipped", a model directory, or None
    classifier_model: str | None = None  # "shipped", a model directory, or None
    batch_size: int = 32
    threads: int | None = None
    # The classifier reads the title and the start of the document (its training texts were
    # abstracts: 256 word pieces keep most of one).
    classifier_max_seq_len: int = 256

    def __post_init__(self) -> None:
        for name in ("ner_model", "classifier_model"):
            value = getattr(self, name)
            if value is not None and not str(value).strip():
                raise IndexerError(f"{name} is empty", 'use "shipped", a model directory, or leave it out')
        if self.batch_size < 1:
            raise IndexerError(f"batch_size must be >= 1, got {self.batch_size}", "use e.g. 32")

    @property
    def enabled(self) -> bool:
        return bool(self.ner_model or self.classifier_model)

    def to_manifest(self) -> dict[str, Any]:
        return {"ner_model": self.ner_model, "classifier_model": self.classifier_model}

    @classmethod
    def from_manifest(cls, data: dict[str, Any] | None) -> "AnnotateConfig":
        data = data or {}
        return cls(ner_model=data.get("ner_model"), classifier_model=data.get("classifier_model"))


def resolve_model(name: str, kind: str) -> Path:
    """The directory of a model named "shipped" or by path; actionable error when absent."""
    from tasks.shipped import SHIPPED_CLASSIFIER_DIR, SHIPPED_NER_DIR

    path = (SHIPPED_NER_DIR if kind == "ner" else SHIPPED_CLASSIFIER_DIR) if name == SHIPPED else Path(name).expanduser()
    if not (path / "config.json").is_file():
        train = "clinqa train ner" if kind == "ner" else "clinqa train classify"
        raise IndexerError(
            f"{kind} model not found: {path} has no config.json",
            f"pass a model directory written by `{train}`, use the shipped one, or index without it (--no-annotate)",
        )
    return path


def label_names(model_dir: Path) -> dict[str, str]:
    """Human-readable names of a classifier's labels (task.json "label_names"), if any."""
    info = model_dir / "task.json"
    if not info.is_file():
        return {}
    try:
        return dict(json.loads(info.read_text()).get("label_names", {}))
    except (OSError, ValueError):
        return {}


class Annotator:
    """Runs the configured NER model and classifier. Cheap constructor; `warm_up()` loads."""

    def __init__(self, config: AnnotateConfig, show_progress: bool = True) -> None:
        self.config = config
        self.show_progress = show_progress
        self._tagger = None
        self._classifier = None
        self._names: dict[str, str] = {}

    def warm_up(self) -> "Annotator":
        cfg = self.config
        if cfg.ner_model and self._tagger is None:
            from tasks.ner import NerTagger

            self._tagger = NerTagger(resolve_model(cfg.ner_model, "ner"), batch_size=cfg.batch_size,
                                     threads=cfg.threads or 0)
            self._tagger.warm_up()
        if cfg.classifier_model and self._classifier is None:
            from tasks.classify import Classifier

            path = resolve_model(cfg.classifier_model, "classifier")
            self._classifier = Classifier(path, max_seq_len=cfg.classifier_max_seq_len, batch_size=cfg.batch_size,
                                          threads=cfg.threads or 0)
            self._classifier.warm_up()
            self._names = label_names(path)
        return self

    def entities(self, passages: Sequence[Passage]) -> dict[str, list[Mention]]:
        """Mentions per chunk id (every passage gets an entry, possibly empty)."""
        if not self.config.ner_model or not passages:
            return {}
        self.warm_up()
        out: dict[str, list[Mention]] = {}
        step = 256
        bar = tqdm(total=len(passages), desc="entities", unit="chunk", disable=not self.show_progress)
        for i in range(0, len(passages), step):
            part = passages[i : i + step]
            for p, spans in zip(part, self._tagger.tag([p.text for p in part])):
                out[p.chunk_id] = [Mention(s.start, s.end, s.label, s.text, round(float(s.score), 4)) for s in spans]
            bar.update(len(part))
        bar.close()
        return out

    def categories(self, docs: Sequence[Document]) -> dict[str, Category]:
        """The most probable category per document id."""
        if not self.config.classifier_model or not docs:
            return {}
        self.warm_up()
        out: dict[str, Category] = {}
        step = 256
        bar = tqdm(total=len(docs), desc="categories", unit="doc", disable=not self.show_progress)
        for i in range(0, len(docs), step):
            part = docs[i : i + step]
            preds = self._classifier.predict([f"{d.title}\n{d.text}".strip() for d in part])
            for d, labels in zip(part, preds):
                if labels:
                    label, prob = labels[0]
                    out[d.doc_id] = Category(label, round(float(prob), 4), self._names.get(label, ""))
            bar.update(len(part))
        bar.close()
        return out
