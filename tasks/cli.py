"""Command-line handlers for NER, classification and annotation import/export.

The command registry in `ui/cli.py` lists each; every `add_*_args(parser)` fills a subparser and each
`cmd_*(args) -> int` runs it (raising `TaskError` for the CLI's error printer):

    train ner            add_train_ner_args            cmd_train_ner
    train classify       add_train_classify_args       cmd_train_classify
    train retriever      add_train_retriever_args      cmd_train_retriever
    train yesno          tasks.yesno.add_train_yesno_args  tasks.yesno.cmd_train_yesno
    eval ner             add_eval_ner_args             cmd_eval_ner
    eval classify        add_eval_classify_args        cmd_eval_classify
    annotations import   add_annotations_import_args   cmd_annotations_import
    annotations export   add_annotations_export_args   cmd_annotations_export

`eval ner|classify` default to the shipped models (tasks.shipped: models/ner,
models/classifier) and run them with ONNX Runtime when the directory has model_int8.onnx
(`--backend torch` forces PyTorch). Exporting a trained run for shipping is
`python -m tasks.export --model RUN_DIR --out models/ner` (tasks.export).

`python -m tasks.cli train|eval ...` runs the same commands without the rest of clinqa's
CLI (no web UI, index or privacy dependencies): what a bare training machine needs; its
`register_train`, `register_eval` and `register_annotations` wire them for that parser only.
"""
from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any, Callable

from common.cliparse import parse_args
from common.errors import run_entry_point
from common.paths import check_home
from tasks import shipped
from tasks.annotations import (AnnotatedDoc, ImportReport, Span, bio_to_docs, docs_to_bio, read_brat,
    read_doccano_classification, read_doccano_ner, read_texts, write_brat, write_doccano_classification,
    write_doccano_ner)
from tasks.classify import Classifier, add_train_classify_args, cmd_train_classify, evaluate_classify, write_jsonl
from tasks.errors import TaskError
from tasks.ner import NerTagger, add_train_ner_args, cmd_train_ner, evaluate_ner, read_bio, write_bio
from tasks.reranker import add_train_reranker_args, config_from_args as reranker_config_from_args, train_reranker
from tasks.retriever import add_train_retriever_args, cmd_train_retriever
from tasks.runtime import onnx_file, resolve_backend
from tasks.yesno import add_train_yesno_args, cmd_train_yesno

logger = logging.getLogger(__name__)

__all__ = [
    "add_train_ner_args", "add_train_classify_args", "add_train_retriever_args", "add_eval_ner_args",
    "add_eval_classify_args", "add_annotations_import_args", "add_annotations_export_args", "cmd_train_ner",
    "cmd_train_classify", "cmd_train_retriever",
    "cmd_eval_ner", "cmd_eval_classify", "cmd_annotations_import", "cmd_annotations_export",
    "register_train", "register_eval", "register_annotations", "run_handler",
]


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, indent=2, default=str))


# ----------------------------------------------------------------------------- train


def cmd_train_reranker(args: argparse.Namespace) -> int:
    metrics = train_reranker(reranker_config_from_args(args))
    _print_json({"out": args.out, "best": metrics["best"], "steps_done": metrics["steps_done"],
                 "data": metrics["data"], "wall_minutes": metrics["wall_minutes"]})
    return 0


# ----------------------------------------------------------------------------- eval


def add_eval_ner_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", help="NER model directory (the --out of `train ner`, or an export of it); "
                        "default: the shipped model in models/ner")
    parser.add_argument("--dataset", "--data", dest="data", required=True, metavar="FILE",
                        help="token<TAB>tag file to score (e.g. bc5cdr/test.tsv)")
    _runtime_args(parser, max_seq_len=512)
    parser.add_argument("--out", help="write metrics.json into this folder")
    parser.add_argument("--json", action="store_true", help="print the full metrics as JSON")
    return parser


def add_eval_classify_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("--model", help="classifier directory (the --out of `train classify`, or an export of it); "
                        "default: the shipped model in models/classifier")
    parser.add_argument("--dataset", "--data", dest="data", required=True, metavar="PATH",
                        help="CSV/JSONL file, folder or .tar.gz (one subfolder per label)")
    parser.add_argument("--subdir", default="", help="split folder inside --dataset (Ohsumed: test)")
    _runtime_args(parser, max_seq_len=256)
    parser.add_argument("--out", help="write metrics.json and confusion_matrix.png into this folder")
    parser.add_argument("--json", action="store_true", help="print the full metrics as JSON")
    return parser


def _runtime_args(parser: argparse.ArgumentParser, max_seq_len: int) -> None:
    parser.add_argument("--backend", choices=["onnx", "torch"],
                        help="runtime (default: onnx when the model directory has model_int8.onnx, else torch)")
    parser.add_argument("--max-seq-len", type=int, default=max_seq_len)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=0, help="ONNX Runtime / torch threads (0 = the runtime's default)")


def _model_or_shipped(model: str | None, kind: str) -> str:
    """--model, else the shipped model of that kind (tasks.shipped), else a TaskError
    saying how to get one."""

    if model:
        return model
    found = shipped.shipped_ner() if kind == "ner" else shipped.shipped_classifier()
    if found is None:
        check_home(TaskError, also="or pass --model DIR")
        what, where = (("NER model", "models/ner") if kind == "ner" else ("classifier", "models/classifier"))
        folder = shipped.SHIPPED_NER_DIR if kind == "ner" else shipped.SHIPPED_CLASSIFIER_DIR
        raise TaskError(f"no --model given and no shipped {what} in {folder}",
                        hint=f"pass --model DIR (the --out of `clinqa train {kind}`), or export a trained run with "
                             f"`python -m tasks.export --model RUN_DIR --out {where}`")
    return str(found)


def _run_info(model: str, backend: str | None) -> dict:
    used = resolve_backend(model, backend)
    return {"model": model, "backend": f"onnx:{onnx_file(model).name}" if used == "onnx" else "torch"}


def cmd_eval_ner(args: argparse.Namespace) -> int:
    model = _model_or_shipped(args.model, "ner")
    res = evaluate_ner(model, args.data, max_seq_len=args.max_seq_len, batch_size=args.batch_size,
                       backend=args.backend, threads=args.threads)
    res = {**res, **_run_info(model, args.backend)}
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "metrics.json").write_text(json.dumps(res, indent=2) + "\n")
    if args.json:
        _print_json(res)
    else:
        print(f"{args.data}: {res['n']} sentences  P {res['precision']:.2f}  R {res['recall']:.2f}  F1 {res['f1']:.2f}"
              f"  [{res['model']}, {res['backend']}]")
        for t, m in sorted(res["per_type"].items()):
            print(f"  {t:<12} P {m['precision']:.2f}  R {m['recall']:.2f}  F1 {m['f1']:.2f}  ({m['support']})")
    return 0


def cmd_eval_classify(args: argparse.Namespace) -> int:
    model = _model_or_shipped(args.model, "classify")
    res = evaluate_classify(model, args.data, out=args.out, max_seq_len=args.max_seq_len,
                            batch_size=args.batch_size, subdir=args.subdir, backend=args.backend, threads=args.threads)
    res = {**res, **_run_info(model, args.backend)}
    if args.out:  # the same object as --json, with the model and backend used
        (Path(args.out) / "metrics.json").write_text(json.dumps(res, indent=2) + "\n")
    if args.json:
        _print_json(res)
    else:
        print(f"{args.data}: {res['n']} documents  accuracy {res['accuracy']:.2f}  "
              f"macro F1 {res['macro_f1']:.2f}  micro F1 {res['micro_f1']:.2f}  [{res['model']}, {res['backend']}]")
        if args.out:
            print(f"metrics and confusion matrix in {args.out}")
    return 0


# ----------------------------------------------------------------------------- annotations


def add_annotations_import_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("input", help="doccano .jsonl, or a BRAT .ann file / folder of .txt+.ann")
    parser.add_argument("--format", required=True, choices=["doccano", "brat", "doccano-class"],
                        help="doccano/brat: entity spans -> BIO; doccano-class: text classification -> JSONL")
    parser.add_argument("--out", required=True, help="output file: token<TAB>tag (NER) or JSONL (classification)")
    parser.add_argument("--misaligned", choices=["skip", "expand"], default="skip",
                        help="spans whose edges fall inside a word: skip them or widen to whole words (default skip)")
    parser.add_argument("--discontinuous", choices=["skip", "split", "join"], default="skip",
                        help="BRAT discontinuous spans: skip, one entity per fragment, or first start..last end")
    parser.add_argument("--report", help="write the import report (every span not written as annotated) as JSON")
    return parser


def add_annotations_export_args(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("input", help="texts to pre-annotate (.jsonl with text, .txt one per line, folder of .txt); "
                        "without --model a token<TAB>tag file to convert")
    parser.add_argument("--model", help="NER or classification model directory (its task.json says which)")
    parser.add_argument("--format", required=True, choices=["doccano", "brat"], help="brat: entities only")
    parser.add_argument("--out", required=True, help="doccano: output .jsonl; brat: output folder")
    parser.add_argument("--min-score", type=float, default=0.0, help="drop predicted entities scoring below this")
    parser.add_argument("--batch-size", type=int, default=16)
    return parser


def cmd_annotations_import(args: argparse.Namespace) -> int:
    if args.format == "doccano-class":
        ds = read_doccano_classification(args.input)
        write_jsonl(args.out, ds)
        summary = {"documents": len(ds.examples), "labels": len(ds.labels), "multi_label": ds.multi_label}
    else:
        report = ImportReport()
        docs = read_doccano_ner(args.input) if args.format == "doccano" else read_brat(args.input, report, args.discontinuous)
        sentences, report = docs_to_bio(docs, args.misaligned, report)
        if not sentences:
            raise TaskError(f"no text found in {args.input}", hint="check the input format")
        write_bio(args.out, sentences)
        if args.report:
            Path(args.report).write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        summary = {k: v for k, v in report.to_dict().items() if k != "problems"}
        summary["problems"] = len(report.problems)
        for p in report.problems[:10]:
            logger.warning("%s [%d:%d] %s %r: %s", p["doc"], p["start"], p["end"], p["label"], p["text"], p["reason"])
        if len(report.problems) > 10:
            logger.warning("... %d more problems%s", len(report.problems) - 10,
                           f" (all in {args.report})" if args.report else "; pass --report FILE to list them all")
    _print_json({"out": args.out, **summary})
    return 0


def cmd_annotations_export(args: argparse.Namespace) -> int:
    if not args.model:
        docs, scores = bio_to_docs(read_bio(args.input)), None
    else:
        info_path = Path(args.model) / "task.json"
        if not info_path.is_file():
            raise TaskError(f"{args.model} has no task.json", hint="pass a model trained with `train ner` or `train classify`")
        task = json.loads(info_path.read_text()).get("task")
        items = read_texts(args.input)
        texts = [t for _, t in items]
        if task == "classify":
            if args.format != "doccano":
                raise TaskError("BRAT holds entity spans, not document labels", hint="use --format doccano for a classifier")

            preds = Classifier(args.model, batch_size=args.batch_size).predict(texts)
            write_doccano_classification(args.out, texts, [[l for l, _ in p] for p in preds], [i for i, _ in items])
            _print_json({"out": args.out, "documents": len(texts)})
            return 0

        found = NerTagger(args.model, batch_size=args.batch_size).tag(texts)
        docs, scores = [], []
        for (doc_id, text), ents in zip(items, found):
            kept = [e for e in ents if e.score >= args.min_score]
            docs.append(AnnotatedDoc(doc_id, text, tuple(Span(e.start, e.end, e.label) for e in kept)))
            scores.append([e.score for e in kept])
    if args.format == "doccano":
        write_doccano_ner(args.out, docs, scores)
    else:
        write_brat(args.out, docs, scores)
    _print_json({"out": args.out, "documents": len(docs), "entities": sum(len(d.spans) for d in docs)})
    return 0


# ----------------------------------------------------------------------------- wiring


def register_train(train: Any) -> None:
    """Add `ner`, `classify`, `retriever`, `reranker` and `yesno` to the `train` subparsers."""
    p = train.add_parser("ner", allow_abbrev=False, help="fine-tune a medical NER model on token<TAB>tag (BIO) files")
    add_train_ner_args(p).set_defaults(func=cmd_train_ner)
    p = train.add_parser("classify", allow_abbrev=False, help="fine-tune a document classifier (CSV/JSONL/folder per label)")
    add_train_classify_args(p).set_defaults(func=cmd_train_classify)
    p = train.add_parser("retriever", allow_abbrev=False, help="contrastive fine-tuning of the dense encoder on question/passage pairs")
    add_train_retriever_args(p).set_defaults(func=cmd_train_retriever)
    p = train.add_parser("reranker", allow_abbrev=False, help="cross-encoder reranker on question/passage groups with mined hard negatives")
    add_train_reranker_args(p).set_defaults(func=cmd_train_reranker)

    p = train.add_parser("yesno", allow_abbrev=False, help="fine-tune the yes/no/maybe question + passage classifier (PubMedQA, BioASQ)")
    add_train_yesno_args(p).set_defaults(func=cmd_train_yesno)


def register_eval(ev: Any) -> None:
    """Add `ner` and `classify` to the `eval` subparsers."""
    p = ev.add_parser("ner", allow_abbrev=False, help="entity-level precision/recall/F1 of a NER model on a BIO file")
    add_eval_ner_args(p).set_defaults(func=cmd_eval_ner)
    p = ev.add_parser("classify", allow_abbrev=False, help="accuracy/F1 (+ confusion matrix) of a classifier")
    add_eval_classify_args(p).set_defaults(func=cmd_eval_classify)


def register_annotations(sub: Any) -> None:
    """Add `annotations import|export` to the top-level subparsers."""
    ann = sub.add_parser("annotations", allow_abbrev=False, help="doccano/BRAT <-> training data; pre-annotate with a model")
    acts = ann.add_subparsers(dest="annotations_command", metavar="ACTION")
    p = acts.add_parser("import", allow_abbrev=False, help="doccano/BRAT annotations -> BIO or classification JSONL")
    add_annotations_import_args(p).set_defaults(func=cmd_annotations_import)
    p = acts.add_parser("export", allow_abbrev=False, help="model predictions (or a BIO file) -> doccano JSONL / BRAT for correction")
    add_annotations_export_args(p).set_defaults(func=cmd_annotations_export)


def run_handler(handler: Callable[[argparse.Namespace], int], args: argparse.Namespace) -> int:
    """For `python -m tasks.cli`: offline env, logging and the one error policy (common.errors)."""
    return run_entry_point(handler, args)


def main(argv: list[str] | None = None) -> int:
    """`python -m tasks.cli train reranker|yesno|ner|classify|retriever ...` and `eval ner|classify`."""
    parser = argparse.ArgumentParser(allow_abbrev=False, prog="python -m tasks.cli", description="clinqa task commands")
    sub = parser.add_subparsers(dest="command", required=True)
    register_train(sub.add_parser("train", allow_abbrev=False, help="fine-tune a task model")
                   .add_subparsers(dest="task", required=True))
    register_eval(sub.add_parser("eval", allow_abbrev=False, help="evaluate a task model")
                  .add_subparsers(dest="task", required=True))
    args = parse_args(parser, argv)
    return run_handler(args.func, args)


if __name__ == "__main__":
    raise SystemExit(main())
