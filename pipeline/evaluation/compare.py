"""Side-by-side comparison for docs/results.md: retrievers and readers on the dev sets.

Retrieval: BM25, dense, hybrid RRF and hybrid convex (dense weight 0.3/0.5/0.7) over an
index of each dataset's own contexts. Readers: the untrained base (MiniLM + a fresh QA
head), the shipped reader (models/reader-mpnet, when it exists) and any reader given by path,
on the gold contexts of the same questions. NER and document classification (one table
per task and dataset, tasks.compare): the base encoder with an untrained head, the shipped
models (models/ner, models/classifier), models given by path, and published anchors.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from indexer.dense import DEFAULT_ENCODER, resolve_encoder_path
from pipeline.evaluation.datasets import load_qa_dataset, qa_to_retrieval
from pipeline.evaluation.errors import EvaluationError
from pipeline.evaluation.runners import (EvalResult, build_eval_index, describe_reader, evaluate_reader,
    evaluate_retrieval, load_reader, reader_config, run_names)
from pipeline.evaluation.yesno import render_yesno
from reader.errors import ReaderError
from tasks.compare import compare_classify, compare_ner, render_table

log = logging.getLogger(__name__)

RETRIEVAL_COLUMNS = ("recall@5", "recall@20", "recall@100", "mrr@10", "ndcg@10")
READER_COLUMNS = {
    "extractive": ("exact_match", "f1"),
    "factoid": ("strict_accuracy", "lenient_accuracy", "mrr"),
    "list": ("list_precision", "list_recall", "list_f1"),
}
LABELS = {
    "bm25": "BM25", "dense": "dense (MiniLM)", "hybrid-rrf": "hybrid RRF (k=60)",
    "exact_match": "EM", "f1": "F1", "strict_accuracy": "S", "lenient_accuracy": "L", "mrr": "MRR",
    "list_precision": "P", "list_recall": "R", "list_f1": "F1", "recall@5": "R@5", "recall@20": "R@20",
    "recall@100": "R@100", "mrr@10": "MRR@10", "ndcg@10": "nDCG@10",
}

READER_LABELS = {"base": "base: MiniLM + untrained QA head", "shipped": "shipped: models/reader-mpnet"}


@dataclass
class Comparison:
    datasets: dict[str, Path]
    retrieval: dict[str, EvalResult] = field(default_factory=dict)
    question_types: dict[str, str] = field(default_factory=dict)
    readers: dict[str, dict[str, dict[str, float] | str]] = field(default_factory=dict)  # reader -> dataset -> metrics | why not
    tasks: list[Any] = field(default_factory=list)  # tasks.compare.TaskTable (NER, classification), yesno.YesNoTable


def normalize_encoder(encoder: str | None) -> str | None:
    """None for the default (packaged MiniLM, by name or path); a directory becomes its
    absolute path, so the index manifest names it from any working directory."""

    if not encoder:
        return None
    path = Path(resolve_encoder_path(encoder))
    if path.exists():
        if path.resolve() == Path(resolve_encoder_path(DEFAULT_ENCODER)).resolve():
            return None
        return str(path.resolve())
    return encoder


def encoder_key(encoder: str | None) -> str:
    """Cache-folder suffix for a non-default dense encoder: a digest of its name, or for a
    directory of its absolute path and its files' sizes and times (a retrained model gets a
    new key). "" for the default encoder, so existing cached indexes stay valid."""
    encoder = normalize_encoder(encoder)
    if encoder is None:
        return ""
    h = hashlib.sha256(encoder.encode())
    path = Path(encoder)
    if path.is_dir():
        for f in sorted(p for p in path.rglob("*") if p.is_file() and "checkpoint" not in p.relative_to(path).parts):
            st = f.stat()
            h.update(f"\0{f.relative_to(path).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}".encode())
    return "-enc-" + h.hexdigest()[:12]


def index_for(dataset: Path, work: Path, progress: bool, encoder: str | None = None) -> Path:
    """An index of the dataset's own contexts, reused while the file (and the encoder) is unchanged."""
    digest = hashlib.sha256(dataset.read_bytes()).hexdigest()[:12]
    index_dir = work / f"index-{dataset.stem}-{digest}{encoder_key(encoder)}"
    if not (index_dir / "manifest.json").is_file():
        build_eval_index(dataset, index_dir, progress=progress, encoder=normalize_encoder(encoder))
    return index_dir


def run_compare(
    datasets: dict[str, Path], work: Path, readers: list[str], limit: int | None = None, progress: bool = True,
    with_retrieval: bool = True, encoder: str | None = None,
) -> Comparison:
    """`readers` holds specs for `reader_config` ("base", "shipped", paths); a reader that
    cannot be loaded gets its reason in the table instead of stopping the comparison.
    `encoder` replaces the default dense encoder of the retrieval indexes."""
    work.mkdir(parents=True, exist_ok=True)
    comp = Comparison(datasets)
    loaded = {}
    for name, path in datasets.items():
        ds = load_qa_dataset(path, limit=limit)
        comp.question_types[name] = ds.question_type
        if with_retrieval:
            index_dir = index_for(path, work, progress, encoder)
            comp.retrieval[name] = evaluate_retrieval(index_dir, qa_to_retrieval(ds), run_names("all"), progress=progress)
        for spec in readers:
            row = comp.readers.setdefault(spec, {})
            try:
                if spec not in loaded:
                    loaded[spec] = load_reader(reader_config(spec, None, work))
                reader = loaded[spec]
                row[name] = evaluate_reader(ds, reader, describe_reader(reader, spec), progress=progress).metrics
            except (EvaluationError, ReaderError) as exc:
                message = getattr(exc, "message", None) or exc.args[0]
                log.warning("reader %s skipped: %s", spec, message)
                row[name] = f"not available: {message} ({exc.hint})"
    return comp


def run_task_compare(
    comp: Comparison, ner: dict[str, Path], classify: dict[str, tuple[Path, str]], ner_specs: list[str],
    classify_specs: list[str], backend: str | None = None, threads: int = 0,
) -> Comparison:
    """Add one NER table per `ner` dataset (BIO file) and one classification table per
    `classify` dataset ((path, split subdir)); specs are "base", "shipped" or directories.
    A model that cannot be loaded gets its reason in the table."""

    for name, path in ner.items():
        comp.tasks.append(compare_ner(name, path, ner_specs, backend=backend, threads=threads))
    for name, (path, subdir) in classify.items():
        comp.tasks.append(compare_classify(name, path, classify_specs, subdir=subdir, backend=backend, threads=threads))
    return comp


def best_convex(result: EvalResult) -> str:
    """The convex weight with the best nDCG@10 on this (dev) set; ties go to the lower weight."""
    convex = sorted(n for n in result.runs if n.startswith("hybrid-convex"))
    return max(convex, key=lambda n: (result.runs[n]["ndcg@10"], -float(n.rsplit("-", 1)[1])))


def _label(run: str) -> str:
    if run == "hybrid":
        return "hybrid (default fusion)"
    return LABELS.get(run) or run.replace("hybrid-convex-", "hybrid convex, dense weight ").replace(
        "hybrid-abs-", "hybrid convex (absolute), dense weight ")


def render_retrieval(comp: Comparison) -> str:
    names = list(comp.retrieval)
    if not names:
        return ""
    header = "| retriever | " + " | ".join(f"{n} {LABELS[c]}" for n in names for c in RETRIEVAL_COLUMNS) + " |"
    lines = [header, "|---" * (1 + len(names) * len(RETRIEVAL_COLUMNS)) + "|"]
    runs = list(next(iter(comp.retrieval.values())).runs)
    best = {n: best_convex(comp.retrieval[n]) for n in names}
    for run in runs:
        cells = []
        for n in names:
            for c in RETRIEVAL_COLUMNS:
                v = comp.retrieval[n].runs[run][c]
                cells.append(f"**{v:.1f}**" if run == best[n] and c == "ndcg@10" else f"{v:.1f}")
        lines.append(f"| {_label(run)} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("Bold: the convex weight chosen on that dev set (best nDCG@10). "
                 + "; ".join(f"{n}: {comp.retrieval[n].metrics['n']} questions" for n in names) + ".")
    lines.append("")
    for n in names:
        r = comp.retrieval[n].runs
        leg = max(("bm25", "dense"), key=lambda k: r[k]["ndcg@10"])
        hyb = max((k for k in r if k.startswith("hybrid")), key=lambda k: r[k]["ndcg@10"])
        delta = r[hyb]["ndcg@10"] - r[leg]["ndcg@10"]
        lines.append(f"- {n}: best hybrid ({_label(hyb)}) {r[hyb]['ndcg@10']:.1f} vs best single leg "
                     f"({_label(leg)}) {r[leg]['ndcg@10']:.1f} nDCG@10: {delta:+.1f} points.")
    return "\n".join(lines)


def render_readers(comp: Comparison) -> str:
    if not comp.readers:
        return ""
    cols = [(n, c) for n in comp.datasets for c in READER_COLUMNS[comp.question_types[n]]]
    lines = ["| reader | " + " | ".join(f"{n} {LABELS[c]}" for n, c in cols) + " |", "|---" * (1 + len(cols)) + "|"]
    notes = []
    for spec, row in comp.readers.items():
        cells = []
        for n, c in cols:
            m = row.get(n)
            if isinstance(m, dict):
                cells.append(f"{m[c]:.1f}")
            else:
                cells.append("n/a")
                if m and f"{spec}: {m}" not in notes:
                    notes.append(f"{spec}: {m}")
        lines.append(f"| {READER_LABELS.get(spec, spec)} | " + " | ".join(cells) + " |")
    if notes:
        lines += [""] + [f"- {x}" for x in notes]
    return "\n".join(lines)


def render(comp: Comparison) -> str:
    parts = ["All numbers are percentages (0-100)."]
    if comp.retrieval:
        parts += ["### Retrieval (document level, index of the dataset's own contexts)", render_retrieval(comp)]
    if comp.readers:
        parts += ["### Readers (gold contexts)", render_readers(comp)]
    if comp.tasks:
        for t in comp.tasks:
            if t.task == "yesno":
                parts += [f"### Yes/no/maybe: {t.name} (accuracy / macro-F1 of the verdict)", render_yesno(t)]
                continue
            title = (f"### NER: {t.name} (entity-level precision / recall / F1, seqeval)" if t.task == "ner"
                     else f"### Document classification: {t.name}")
            parts += [title, render_table(t)]
    return "\n\n".join(parts) + "\n"


def to_json(comp: Comparison) -> dict[str, Any]:
    return {
        "datasets": {n: str(p) for n, p in comp.datasets.items()},
        "retrieval": {n: r.to_json() for n, r in comp.retrieval.items()},
        "readers": comp.readers,
        "ner": [t.to_json() for t in comp.tasks if t.task == "ner"],
        "classification": [t.to_json() for t in comp.tasks if t.task == "classify"],
        "yesno": [t.to_json() for t in comp.tasks if t.task == "yesno"],
    }
