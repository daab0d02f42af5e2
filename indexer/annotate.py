"""Index-time annotation: entity mentions per passage (NER) and a category per document.

The NER model tags diseases and chemicals in every new chunk; the classifier gives every new
document its most probable category. Both are stored in the index's database, so search can
be filtered by entity ("passages that mention metformin") or category, and the UI can
highlight entities in sources. Models are named in `AnnotateConfig` ("shipped" = the models
in the repo's `models/ner` and `models/classifier`) and recorded in the manifest, so `add`
annotates new documents with the models the index was built with.
"""
from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from common.paths import BUNDLED_ANNOTATIONS, HOME, check_home, local_or_home
from indexer.errors import IndexerError
from indexer.manifest import IndexMismatchError
from store import Category, Document, Mention, Passage
from tasks.classify import Classifier
from tasks.ner import NerTagger
from tasks import shipped

log = logging.getLogger(__name__)

SHIPPED = "shipped"
SHIPPED_PREFIX = SHIPPED + ":"  # "shipped:ner-mpnet" = the shipped models folder's ner-mpnet


def bundled_cache_path() -> Path:
    """Precomputed annotations of the bundled corpus (scripts/annotate_corpus.py)."""
    return BUNDLED_ANNOTATIONS


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
    # Precomputed annotations (`scripts/annotate_corpus.py`), used for chunks/documents it
    # holds when it was made by the same models; chunk ids are content-derived, so a hit is
    # exactly what the model would compute. Not recorded in the manifest: it only saves time.
    cache: str | None = None

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
        """The models as manifest.json records them: `manifest_model_ref` of each, so that
        `index add` finds them again from any working directory."""
        return {"ner_model": manifest_model_ref(self.ner_model, "ner"),
                "classifier_model": manifest_model_ref(self.classifier_model, "classifier")}

    @classmethod
    def from_manifest(cls, data: dict[str, Any] | None) -> "AnnotateConfig":
        data = data or {}
        return cls(ner_model=data.get("ner_model"), classifier_model=data.get("classifier_model"))


def _model_path(name: str, kind: str) -> Path:
    """Where a model name points, before any check: "shipped" -> models/ner or
    models/classifier, "shipped:FOLDER" -> that folder of the shipped models directory, a path
    as given; a relative path with no model under the working directory but one under the
    checkout / CLINQA_HOME (`models/ner-mpnet` typed outside the checkout, or recorded by an
    older manifest) -> that one."""
    if name == SHIPPED:
        return shipped.SHIPPED_NER_DIR if kind == "ner" else shipped.SHIPPED_CLASSIFIER_DIR
    if name.startswith(SHIPPED_PREFIX):
        return shipped.MODELS_DIR / name[len(SHIPPED_PREFIX):]
    found = local_or_home(name, lambda p: (p / "config.json").is_file(), HOME, f"{kind} model")
    return found if found is not None else Path(name).expanduser()


def manifest_model_ref(name: str | None, kind: str) -> str | None:
    """How a model named at build time is written into manifest.json, so that `index add` finds
    it again from any working directory (a relative path as typed was found only from the
    build's directory): None, "shipped" and "shipped:FOLDER" stay; the default model's folder
    becomes "shipped"; another folder of the shipped models directory (common.paths.SHIPPED_MODELS)
    becomes "shipped:FOLDER" (`models/ner-mpnet` -> "shipped:ner-mpnet"), found under any checkout
    or CLINQA_HOME; any other existing folder becomes absolute; a name that points nowhere stays
    as given (recording a guess would lose it)."""
    if name is None or name == SHIPPED or name.startswith(SHIPPED_PREFIX):
        return name
    path = _model_path(name, kind)
    if not path.exists():
        return name
    real = path.resolve()
    if real == _model_path(SHIPPED, kind).resolve():
        return SHIPPED
    try:
        inside = real.relative_to(shipped.MODELS_DIR.resolve())
    except ValueError:
        return os.path.abspath(path)  # ".." folded, symlinks kept
    return SHIPPED_PREFIX + inside.as_posix()


def describe_model(name: str | None, kind: str) -> str:
    """A recorded model name as a reader can find it from anywhere:
    "shipped:ner-mpnet = /path/to/checkout/models/ner-mpnet"."""
    if name is None:
        return "none"
    if name == SHIPPED or name.startswith(SHIPPED_PREFIX):
        return f"{name} = {_model_path(name, kind)}"
    return name


def resolve_model(name: str, kind: str) -> Path:
    """The directory of a model named "shipped" (models/ner or models/classifier),
    "shipped:FOLDER" (a folder of the shipped models directory) or by path (a relative one is
    also looked up in the checkout / CLINQA_HOME). Actionable error when absent."""
    path = _model_path(name, kind)
    if not (path / "config.json").is_file():
        if name == SHIPPED or name.startswith(SHIPPED_PREFIX):
            check_home(IndexerError, also="or index without entities and categories (--no-annotate)")
        train = "clinqa train ner" if kind == "ner" else "clinqa train classify"
        raise IndexerError(
            f"{kind} model not found: {path} has no config.json",
            f"index build: pass a model directory written by `{train}`, use the shipped one, or index without it "
            "(--no-annotate); index add uses the models the index was built with (manifest.json \"annotations\"): "
            "put that model back, point \"annotations\" at its new folder, or rebuild the index",
        )
    return path


def _same_model(a: str, b: str, kind: str) -> bool:
    """Whether two model names point at one folder (by its real path when both exist, else by
    their manifest form)."""
    pa, pb = _model_path(a, kind), _model_path(b, kind)
    if pa.exists() and pb.exists():
        return pa.resolve() == pb.resolve()
    return manifest_model_ref(a, kind) == manifest_model_ref(b, kind)


def check_add_annotators(manifest: dict[str, Any], ner_model: str | None, classifier_model: str | None,
                         no_annotate: bool, index_dir: Path | str) -> None:
    """`index add` tags new documents with the models the index was built with (manifest.json
    "annotations"), so its entity filters mean one thing for every document. Options naming
    other models (or none, `no_annotate`) are refused with IndexMismatchError and a rebuild hint
    instead of being ignored; naming the index's own models, by any path, is accepted."""
    built = AnnotateConfig.from_manifest(manifest.get("annotations"))
    asked = {"ner": ("--ner-model", ner_model, built.ner_model),
             "classifier": ("--classifier", classifier_model, built.classifier_model)}
    for kind, (flag, value, recorded) in asked.items():
        if value is not None and (recorded is None or not _same_model(value, recorded, kind)):
            raise IndexMismatchError(
                f"index add tags new documents with the models the index was built with ({flag[2:]}: "
                f"{describe_model(recorded, kind)}), not {value}",
                f"drop {flag}, or rebuild the index to tag with it: clinqa index build --index {index_dir} "
                f"{flag} {value} SOURCE...",
            )
    if no_annotate and built.enabled:
        raise IndexMismatchError(
            f"the index was built with annotations (ner: {describe_model(built.ner_model, 'ner')}, classifier: "
            f"{describe_model(built.classifier_model, 'classifier')}); adding documents without them would leave "
            "entity and category filters blind to them",
            f"drop --no-annotate, or rebuild the index without annotations: clinqa index build --index {index_dir} "
            "--no-annotate SOURCE...",
        )


def label_names(model_dir: Path) -> dict[str, str]:
    """Human-readable names of a classifier's labels (task.json "label_names"), if any."""
    info = model_dir / "task.json"
    if not info.is_file():
        return {}
    try:
        return dict(json.loads(info.read_text()).get("label_names", {}))
    except (OSError, ValueError):
        return {}


def model_fingerprint(model_dir: Path) -> str:
    """sha256 of the model's weights file (ONNX preferred): identifies what computed a cache."""
    for name in ("model_int8.onnx", "model.onnx", "model.safetensors"):
        path = model_dir / name
        if path.is_file():
            h = hashlib.sha256()
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    h.update(block)
            return h.hexdigest()
    return ""


CHUNK_PREFIX = '{"chunk_id":"'


class AnnotationCache:
    """Precomputed mentions per chunk id and categories per (doc id, checksum), JSONL.gz.

    Line 1: {"ner_model": fingerprint, "classifier_model": fingerprint}; then
    {"chunk_id", "mentions": [[start, end, label, text, score], ...]} and
    {"doc_id", "checksum", "category": [label, probability]} lines."""

    def __init__(self, ner_fp: str = "", classifier_fp: str = "") -> None:
        self.ner_fp, self.classifier_fp = ner_fp, classifier_fp
        self.mentions: dict[str, list[Mention]] = {}
        self.categories: dict[tuple[str, str], tuple[str, float]] = {}

    @staticmethod
    def header(path: Path) -> dict[str, str]:
        """The fingerprints of the models that made the cache at `path`."""
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                return json.loads(fh.readline())
        except (OSError, ValueError, EOFError) as exc:
            raise IndexerError(f"annotation cache {path} is unreadable: {exc}",
                               "delete it or regenerate it with python scripts/annotate_corpus.py") from exc

    @classmethod
    def load(cls, path: Path, chunk_ids: set[str] | None = None,
             doc_keys: set[tuple[str, str]] | None = None) -> "AnnotationCache":
        """Read the cache; with `chunk_ids` / `doc_keys` (None = all), keep only those entries
        (lines of other chunks are skipped without parsing, so a large cache costs little)."""
        head = cls.header(path)
        cache = cls(head.get("ner_model", ""), head.get("classifier_model", ""))
        try:
            with gzip.open(path, "rt", encoding="utf-8") as fh:
                fh.readline()
                for line in fh:
                    if line.startswith(CHUNK_PREFIX):
                        if chunk_ids is not None and line[len(CHUNK_PREFIX):line.find('"', len(CHUNK_PREFIX))] not in chunk_ids:
                            continue
                        row = json.loads(line)
                        cache.mentions[row["chunk_id"]] = [Mention(*m) for m in row["mentions"]]
                    elif doc_keys is None or doc_keys:
                        row = json.loads(line)
                        key = (row["doc_id"], row["checksum"])
                        if doc_keys is None or key in doc_keys:
                            cache.categories[key] = tuple(row["category"])
        except (OSError, ValueError, TypeError, KeyError, EOFError) as exc:
            raise IndexerError(f"annotation cache {path} is unreadable: {exc}",
                               "delete it or regenerate it with python scripts/annotate_corpus.py") from exc
        return cache

    def save(self, path: Path) -> None:
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        with gzip.GzipFile(tmp, "wb", mtime=0) as raw:
            def put(obj: dict) -> None:
                raw.write((json.dumps(obj, ensure_ascii=False, separators=(",", ":")) + "\n").encode())

            put({"ner_model": self.ner_fp, "classifier_model": self.classifier_fp})
            for chunk_id in sorted(self.mentions):
                put({"chunk_id": chunk_id, "mentions": [[m.start, m.end, m.label, m.text, m.score]
                                                        for m in self.mentions[chunk_id]]})
            for (doc_id, checksum) in sorted(self.categories):
                put({"doc_id": doc_id, "checksum": checksum, "category": list(self.categories[(doc_id, checksum)])})
        os.replace(tmp, path)


class Annotator:
    """Runs the configured NER model and classifier. Cheap constructor; `warm_up()` loads."""

    def __init__(self, config: AnnotateConfig, show_progress: bool = True) -> None:
        self.config = config
        self.show_progress = show_progress
        self._tagger = None
        self._classifier = None
        self._names: dict[str, str] = {}
        self._ner_fp = ""
        self._classifier_fp = ""

    def warm_up(self) -> "Annotator":
        cfg = self.config
        if cfg.ner_model and self._tagger is None:
            path = resolve_model(cfg.ner_model, "ner")
            self._tagger = NerTagger(path, batch_size=cfg.batch_size, threads=cfg.threads or 0)
            self._tagger.warm_up()
            self._ner_fp = model_fingerprint(path)
        if cfg.classifier_model and self._classifier is None:
            path = resolve_model(cfg.classifier_model, "classifier")
            self._classifier = Classifier(path, max_seq_len=cfg.classifier_max_seq_len, batch_size=cfg.batch_size,
                                          threads=cfg.threads or 0)
            self._classifier.warm_up()
            self._names = label_names(path)
            self._classifier_fp = model_fingerprint(path)
        return self

    def _cached(self, kind: str, **wanted: Any) -> AnnotationCache | None:
        """The cache entries asked for, if the cache exists and `kind`'s model made it."""
        path = Path(self.config.cache) if self.config.cache else None
        if path is None or not path.is_file():
            return None
        fp = self._ner_fp if kind == "ner" else self._classifier_fp
        if AnnotationCache.header(path).get("ner_model" if kind == "ner" else "classifier_model") != fp:
            log.info("annotation cache %s was made by another %s model: not used", path, kind)
            return None
        return AnnotationCache.load(path, **wanted)

    def to_cache(self, mentions: dict[str, list[Mention]], docs: Sequence[Document],
                 categories: dict[str, Category]) -> AnnotationCache:
        """A cache holding these results, stamped with the loaded models' fingerprints."""
        self.warm_up()
        cache = AnnotationCache(self._ner_fp, self._classifier_fp)
        cache.mentions = dict(mentions)
        cache.categories = {(d.doc_id, d.checksum): (categories[d.doc_id].label, categories[d.doc_id].probability)
                            for d in docs if d.doc_id in categories}
        return cache

    def entities(self, passages: Sequence[Passage]) -> dict[str, list[Mention]]:
        """Mentions per chunk id (every passage gets an entry, possibly empty)."""
        if not self.config.ner_model or not passages:
            return {}
        self.warm_up()
        out: dict[str, list[Mention]] = {}
        cache = self._cached("ner", chunk_ids={p.chunk_id for p in passages}, doc_keys=set())
        if cache is not None:
            out = {p.chunk_id: cache.mentions[p.chunk_id] for p in passages if p.chunk_id in cache.mentions}
            passages = [p for p in passages if p.chunk_id not in out]
            log.info("entities: %d chunks from the cache, %d to tag", len(out), len(passages))
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
        cache = self._cached("classifier", chunk_ids=set(), doc_keys={(d.doc_id, d.checksum) for d in docs})
        if cache is not None:
            for d in docs:
                hit = cache.categories.get((d.doc_id, d.checksum))
                if hit is not None:
                    out[d.doc_id] = Category(hit[0], hit[1], self._names.get(hit[0], ""))
            docs = [d for d in docs if d.doc_id not in out]
            log.info("categories: %d documents from the cache, %d to classify", len(out), len(docs))
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
