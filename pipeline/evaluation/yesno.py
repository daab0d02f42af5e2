"""`clinqa eval yesno` and the yes/no tables of `clinqa eval compare`.

    clinqa eval yesno --dataset FILE [--format pubmedqa|bioasq] [--split auto|dev|train|all]
                      [--model DIR] [--index DIR] [--json] [--out DIR]

Gold-evidence mode (default): PubMedQA = question + its abstract contexts (never the long
answer), one prediction per abstract; BioASQ = one verdict per question from all its
snippets (equal weights). Open-domain mode (`--index DIR`): each question goes through
`QAEngine.ask(..., question_type="yesno")` and is scored by the verdict over the retrieved
passages, like `eval e2e`. Metrics (percent): accuracy and macro-F1 of the verdict's
leading label, per-class precision/recall/F1, how often it abstained and its accuracy on
the questions it answered; --out adds metrics.json, predictions.jsonl and
confusion_matrix.png.

PubMedQA files are split by PMID like training (tasks.yesno.in_dev_split): `--split auto`
scores only the dev PMIDs when the model's task.json lists this very file as training
data, so training abstracts are never reported as evaluation.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Sequence

from common.datasets import DatasetError
from common.paths import check_home
from indexer.manifest import read_manifest
from pipeline.engine import EngineConfig, QAEngine
from pipeline.evaluation.errors import EvaluationError, MissingModelError
from pipeline.evaluation.metrics import latency_percentiles
from pipeline.evaluation.runners import EvalResult, git_commit
from retriever import RetrieverConfig
from tasks.classify import confusion_matrix, plot_confusion
from tasks.errors import TaskError
from tasks import shipped
from tasks.verdict import Verdict, VerdictConfig
from tasks.yesno import (YesNoClassifier, dataset_labels, detect_format, file_sha256, load_yesno_dataset, predict_items,
    pubmedqa_split, score_items)

log = logging.getLogger(__name__)

SPLITS = ("auto", "dev", "train", "all")
MAJORITY_LABEL = "yes"  # the majority class of both training sets (PubMedQA 276/500, BioASQ 394/617)


def yesno_model_dir(spec: str | None) -> Path:
    """--model, else the shipped models/yesno; MissingModelError saying how to get one."""

    if spec and spec != "shipped":
        p = Path(spec)
        if not (p / "config.json").is_file():
            raise MissingModelError(f"yes/no model {p} not found (no config.json)",
                                    "pass the --out of `clinqa train yesno` or its export")
        return p
    found = shipped.shipped_yesno()
    if found is None:
        check_home(MissingModelError, also="or pass --model DIR")
        raise MissingModelError(f"no --model given and no shipped yes/no model in {shipped.SHIPPED_YESNO_DIR}",
                                "train one: bash scripts/train_yesno.sh (or pass --model DIR)")
    return found


def load_items(dataset: Path, format: str | None, split: str, model_dir: Path | None) -> tuple[list, str, str]:
    """(items, format, split used). `auto`: PubMedQA dev PMIDs only when the model was
    trained on this file (its task.json names the file's sha256), else all."""

    if split not in SPLITS:
        raise EvaluationError(f"unknown split {split!r}", f"use one of {', '.join(SPLITS)}")
    try:
        fmt = format or detect_format(dataset)
        items = load_yesno_dataset(dataset, fmt)
    except (TaskError, DatasetError) as exc:
        raise EvaluationError(exc.message, exc.hint) from exc
    if fmt != "pubmedqa":
        return items, fmt, "all"
    if split == "auto":
        trained_on = set()
        info = model_dir / "task.json" if model_dir is not None else None
        if info is not None and info.is_file():
            trained_on = set((json.loads(info.read_text()).get("train_files") or {}).values())
        split = "dev" if file_sha256(dataset) in trained_on else "all"
        if split == "dev":
            log.info("%s is this model's training file: scoring its dev PMIDs only", dataset)
    if split != "all":
        train, dev = pubmedqa_split(items)
        items = dev if split == "dev" else train
    return items, fmt, split


def _rows(items, verdicts, extra: list[dict] | None = None) -> list[dict]:
    rows = []
    for i, (it, v) in enumerate(zip(items, verdicts)):
        row = {"id": it.id, "question": it.question, "gold": it.label, "label": v.label,
               "probability": v.probability, "abstained": v.abstained, "reason": v.reason,
               "correct": v.label == it.label, "evidence": [e.to_dict() for e in v.evidence]}
        if extra:
            row.update(extra[i])
        rows.append(row)
    return rows


def evaluate_yesno(dataset: Path, model: str | None = None, *, format: str | None = None, split: str = "auto",
                   backend: str | None = None, threads: int = 0, batch_size: int = 16, limit: int | None = None,
                   progress: bool = True) -> EvalResult:
    """Verdicts from gold evidence (see the module docstring)."""

    model_dir = yesno_model_dir(model)
    items, fmt, used = load_items(dataset, format, split, model_dir)
    items = items[:limit] if limit else items
    clf = YesNoClassifier(model_dir, backend=backend, threads=threads, batch_size=batch_size).warm_up()
    labels = dataset_labels(items)
    t0 = time.perf_counter()
    verdicts = []
    from tqdm.auto import tqdm

    step = 32
    for lo in tqdm(range(0, len(items), step), desc=f"yesno {dataset.name}", disable=not progress, leave=False):
        verdicts += predict_items(clf, items[lo : lo + step], VerdictConfig(labels=labels))
    seconds = time.perf_counter() - t0
    metrics = score_items(items, verdicts)
    metrics["ms_per_question"] = 1000 * seconds / max(1, len(items))
    config = {"dataset": str(dataset), "dataset_sha256": file_sha256(dataset), "format": fmt, "split": used,
              "mode": "gold evidence", "model": str(model_dir), "backend": clf.backend_used,
              "verdict_labels": list(labels), "git_commit": git_commit()}
    return EvalResult("yesno", metrics, config, _rows(items, verdicts))


def evaluate_yesno_open(index_dir: Path, dataset: Path, model: str | None = None, *, format: str | None = None,
                        split: str = "auto", top_k: int = 10, passages: int = 5, mode: str = "hybrid",
                        limit: int | None = None, progress: bool = True) -> EvalResult:
    """Open-domain: retrieve from the index, judge the top passages (QAEngine.ask)."""
    from tqdm.auto import tqdm

    model_dir = yesno_model_dir(model)
    items, fmt, used = load_items(dataset, format, split, model_dir)
    items = items[:limit] if limit else items
    labels = dataset_labels(items)
    read_manifest(index_dir)  # a clear "no index here" error before any model loads
    engine = QAEngine(EngineConfig(index_dir=index_dir, retriever=RetrieverConfig(mode=mode, top_k=top_k),
                                   yesno_model=str(model_dir), verdict=VerdictConfig(labels=labels),
                                   verdict_passages=passages))
    try:
        engine.warm_up()
        verdicts, extra, latency = [], [], []
        for it in tqdm(items, desc=f"yesno open {dataset.name}", disable=not progress, leave=False):
            res = engine.ask(it.question, top_k=top_k, mode=mode, question_type="yesno")
            verdicts.append(res.verdict)
            latency.append(res.timings_ms["total"])
            extra.append({"retrieved": [h.passage.doc_id for h in res.hits[:passages]], "latency_ms": latency[-1]})
        metrics = score_items(items, verdicts)
        metrics.update(latency_percentiles(latency))
        config = {"dataset": str(dataset), "dataset_sha256": file_sha256(dataset), "format": fmt, "split": used,
                  "mode": "open domain", "index": str(index_dir), "index_manifest_hash": engine.index.manifest_hash,
                  "model": str(model_dir), "top_k": top_k, "passages": passages, "retrieval_mode": mode,
                  "verdict_labels": list(labels), "git_commit": git_commit()}
    finally:
        engine.close()
    return EvalResult("yesno", metrics, config, _rows(items, verdicts, extra))


def write_yesno_outputs(result: EvalResult, out: Path) -> Path:
    """metrics.json (metrics + config), predictions.jsonl, confusion_matrix.png in `out`."""

    out.mkdir(parents=True, exist_ok=True)
    labels = result.metrics["labels"]
    gold = [r["gold"] for r in result.predictions]
    pred = [r["label"] for r in result.predictions]
    m = result.metrics
    plot_confusion(confusion_matrix(gold, pred, labels), labels, out / "confusion_matrix.png",
                   title=f"{Path(result.config['dataset']).name}: accuracy {m['accuracy']:.1f}, macro F1 {m['macro_f1']:.1f}")
    tmp = out / f".predictions.jsonl.tmp-{os.getpid()}"
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in result.predictions), encoding="utf-8")
    os.replace(tmp, out / "predictions.jsonl")
    tmp = out / f".metrics.json.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    os.replace(tmp, out / "metrics.json")  # last: a folder with metrics.json holds a finished run
    return out


def cmd_yesno(args: argparse.Namespace) -> int:
    progress = not getattr(args, "quiet", False)
    if args.index is not None:
        result = evaluate_yesno_open(args.index, args.dataset, args.model, format=args.format, split=args.split,
                                     top_k=args.top_k, passages=args.passages, mode=args.mode, limit=args.limit,
                                     progress=progress)
    else:
        result = evaluate_yesno(args.dataset, args.model, format=args.format, split=args.split, backend=args.backend,
                                threads=args.threads, batch_size=args.batch_size, limit=args.limit, progress=progress)
    if args.out:
        write_yesno_outputs(result, Path(args.out))
        print(f"wrote {args.out}/{{metrics.json,predictions.jsonl,confusion_matrix.png}}", file=sys.stderr)
    if args.json:
        print(json.dumps(result.to_json(), indent=2, default=str))
        return 0
    m, c = result.metrics, result.config
    print(f"{args.dataset} ({c['format']}, split {c['split']}, {c['mode']}): {m['n']} questions  "
          f"accuracy {m['accuracy']:.1f}  macro F1 {m['macro_f1']:.1f}  abstained {m['abstained']:.1f}%  "
          f"accuracy when answering {m['answered_accuracy']:.1f}  [{c['model']}]")
    for label, s in m["per_class"].items():
        print(f"  {label:<6} P {s['precision']:5.1f}  R {s['recall']:5.1f}  F1 {s['f1']:5.1f}  ({s['support']})")
    print("(all quality metrics are percentages)")
    return 0


def add_eval_yesno_args(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("--dataset", type=Path, required=True,
                   help="PubMedQA ori_pqal.json-style file, BioASQ yes/no JSON (SQuAD-style) or JSONL")
    p.add_argument("--format", choices=["pubmedqa", "bioasq"], help="dataset layout (default: detected)")
    p.add_argument("--split", choices=SPLITS, default="auto",
                   help="PubMedQA PMIDs to score: auto (dev only when the model was trained on this file), dev, "
                        "train or all")
    p.add_argument("--model", help="yes/no model directory (default: the shipped models/yesno)")
    p.add_argument("--index", type=Path, help="open-domain mode: answer from this index instead of the gold evidence")
    p.add_argument("--top-k", type=int, default=10, help="open-domain: passages retrieved (default 10)")
    p.add_argument("--passages", type=int, default=5, help="open-domain: top passages judged (default 5)")
    p.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="hybrid", help="open-domain retrieval mode")
    p.add_argument("--backend", choices=["onnx", "torch"], help="runtime (default: onnx when model_int8.onnx exists)")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime / torch threads (0 = default)")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--limit", type=int, help="only the first N questions")
    p.add_argument("--json", action="store_true", help="print one JSON object: metrics + config")
    p.add_argument("--out", type=Path, help="write metrics.json, predictions.jsonl and confusion_matrix.png into DIR")
    return p


# ----------------------------------------------------------------------------- eval compare


@dataclass(frozen=True)
class PublishedYesNo:
    system: str
    benchmark: str
    source: str
    accuracy: float | None = None
    macro_f1: float | None = None


_PUBMEDQA = "PubMedQA test, reasoning-required (official 500 test PMIDs)"
PUBLISHED_YESNO = (
    PublishedYesNo("BioBERT", _PUBMEDQA, "Jin et al., 2019, \"PubMedQA\", EMNLP", 68.1, 52.7),
    PublishedYesNo("BioLinkBERT-base", _PUBMEDQA, "Yasunaga et al., 2022, \"LinkBERT\", ACL", 70.2),
    PublishedYesNo("PubMedBERT", _PUBMEDQA, "Gu et al., 2021, \"Domain-specific language model pretraining\" (BLURB)", 55.8),
    PublishedYesNo("majority class", _PUBMEDQA, "Jin et al., 2019", 55.2),
    PublishedYesNo("single human annotator", _PUBMEDQA, "Jin et al., 2019", 78.0),
)
YESNO_ROW_LABELS = {"floor": f"floor: always \"{MAJORITY_LABEL}\" (training majority class)",
                    "shipped": "shipped: models/yesno"}


@dataclass
class YesNoTable:
    """One yes/no table (a dataset): rows for the floor, the shipped model and models by path."""

    name: str
    dataset: str
    split: str
    rows: list[dict[str, Any]] = field(default_factory=list)  # {spec, label, metrics|None, note}
    published: tuple[PublishedYesNo, ...] = PUBLISHED_YESNO
    task: str = "yesno"

    def to_json(self) -> dict[str, Any]:
        return {"task": self.task, "name": self.name, "dataset": self.dataset, "split": self.split, "rows": self.rows,
                "published": [{**asdict(p), "label": f"published: {p.system}"} for p in self.published]}


def compare_yesno(name: str, dataset: Path, specs: Sequence[str], *, split: str = "auto",
                  backend: str | None = None, threads: int = 0, published: tuple | None = None) -> YesNoTable:
    """Score "floor", "shipped" and model directories on one dataset (gold evidence). A
    model that cannot be loaded gets its reason instead of numbers. `published` defaults
    to the PubMedQA anchors for a PubMedQA file and none otherwise."""

    if published is None:
        published = PUBLISHED_YESNO if detect_format(dataset) == "pubmedqa" else ()

    split = _table_split(dataset, specs, split)
    table = YesNoTable(name, str(dataset), split, published=published)
    for spec in dict.fromkeys(specs):
        row: dict[str, Any] = {"spec": spec, "label": YESNO_ROW_LABELS.get(spec, spec), "metrics": None, "note": ""}
        try:
            if spec == "floor":
                items, _, used = load_items(dataset, None, split, None)
                row["metrics"] = score_items(items, [Verdict(MAJORITY_LABEL, 1.0, False) for _ in items])
                row["split"] = used
            else:
                res = evaluate_yesno(dataset, spec, split=split, backend=backend, threads=threads, progress=False)
                row["metrics"], row["split"], row["backend"] = res.metrics, res.config["split"], res.config["backend"]
        except (EvaluationError, TaskError, DatasetError) as exc:
            log.warning("yes/no %s skipped: %s", spec, exc.message)
            row["note"] = f"not available: {exc.message}" + (f" ({exc.hint})" if exc.hint else "")
        table.rows.append(row)
    return table


def _table_split(dataset: Path, specs: Sequence[str], split: str) -> str:
    """One split for every row: for `auto`, "dev" when any model of the table (or the
    shipped one) was trained on this PubMedQA file, else "all"."""

    if split != "auto" or detect_format(dataset) != "pubmedqa":
        return "all" if split == "auto" else split
    sha = file_sha256(dataset)
    for spec in specs:
        if spec == "floor":
            continue
        try:
            info = yesno_model_dir(spec) / "task.json"
        except EvaluationError:
            continue
        if info.is_file() and sha in (json.loads(info.read_text()).get("train_files") or {}).values():
            return "dev"
    return "all"


def render_yesno(table: YesNoTable) -> str:
    def f(v):
        return "-" if v is None else f"{v:.1f}"

    lines = ["| model | data | accuracy | macro F1 | abstained | n |", "|---|---|---|---|---|---|"]
    notes = []
    for r in table.rows:
        label = r["label"] + (f" [{r['backend']}]" if r.get("backend") else "")
        data = f"{table.name}" + (f" ({r['split']})" if r.get("split") else "")
        if r["metrics"] is None:
            lines.append(f"| {label} | {data} | n/a | n/a | n/a | - |")
            notes.append(f"{r['label']}: {r['note']}")
        else:
            m = r["metrics"]
            lines.append(f"| {label} | {data} | {f(m['accuracy'])} | {f(m['macro_f1'])} | {f(m['abstained'])} | {m['n']} |")
    for p in table.published:
        lines.append(f"| published: {p.system} | {p.benchmark} | {f(p.accuracy)} | {f(p.macro_f1)} | - | - |")
    lines += ["", f"{table.name}: {table.dataset}. PubMedQA rows score our dev PMIDs (split by sha256 of the PMID) "
              "when the file is the training file; BioASQ: one verdict per question from all its snippets, yes/no only."]
    if table.published:
        lines.append("Published rows: figures as given in issue #16, scored by their authors on the official PubMedQA "
                     "test set (hidden here): anchors, not directly comparable. Sources: "
                     + "; ".join(sorted({f'{p.system}: {p.source}' for p in table.published})) + ".")
    lines += [f"- {x}" for x in dict.fromkeys(notes)]
    return "\n".join(lines)
