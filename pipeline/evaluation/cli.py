"""`clinqa eval reader|retrieval|e2e|compare`: argument adders and handlers, listed in ui/cli.py's registry.

    clinqa eval reader    --dataset FILE [--format squad|bioasq] [--reader shipped|base|DIR] [--limit N] [--json] [--out DIR]
    clinqa eval retrieval --dataset FILE|BEIR_DIR [--index DIR | --build-index [DIR] [--encoder PATH]] [--mode bm25|dense|hybrid|all] [--json] [--out DIR]
    clinqa eval e2e       --dataset FILE [--index DIR | --build-index [DIR] [--encoder PATH]] [--reader ...] [--json] [--out DIR]
    clinqa eval compare   [--dataset NAME=FILE ...] [--reader DIR ...] [--encoder PATH] [--ner-dataset [NAME=]FILE ...]
                          [--ner-model DIR ...] [--classify-dataset [NAME=]PATH ... [--classify-subdir test]]
                          [--classifier DIR ...] [--yesno-dataset [NAME=]FILE ...] [--yesno-model DIR ...]
                          [--out FILE.md] [--json]
    clinqa eval yesno     --dataset FILE [--format pubmedqa|bioasq] [--model DIR] [--index DIR] [--json] [--out DIR]
(`clinqa eval ner|classify` come from tasks.cli, `eval yesno` from pipeline.evaluation.yesno.)
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

from common.paths import default_index_dir
from pipeline.batch import add_ray_args, ray_config_from_args
from pipeline.cli_options import add_rerank_args, reranker_config
from pipeline.evaluation.compare import (encoder_key, index_for, normalize_encoder, render, run_compare,
    run_task_compare, to_json as comparison_json)
from pipeline.evaluation.datasets import load_beir, load_qa_dataset, load_retrieval_dataset
from pipeline.evaluation.errors import EvaluationError
from pipeline.evaluation.report import fmt, ordered, to_json, write_outputs
from pipeline.evaluation.runners import (build_eval_index, describe_reader, evaluate_e2e, evaluate_reader,
    evaluate_retrieval, load_reader, reader_config, run_names)
from pipeline.evaluation.yesno import compare_yesno

SHARED_DATA = Path("/work/shared/data")
DEFAULT_COMPARE = {
    "COVID-QA dev": SHARED_DATA / "covidqa" / "dev.json",
    "BioASQ factoid dev": SHARED_DATA / "bioasq" / "BioASQ-val-factoid.json",
}
DEFAULT_NER_COMPARE = {"BC5CDR test": SHARED_DATA / "ner" / "bc5cdr" / "test.tsv"}
DEFAULT_CLASSIFY_COMPARE = {"Ohsumed test": (SHARED_DATA / "ohsumed" / "ohsumed_single_23.tar.gz", "test")}
DEFAULT_YESNO_COMPARE = {"PubMedQA": SHARED_DATA / "pubmedqa" / "ori_pqal.json",
                         "BioASQ yes/no dev": SHARED_DATA / "bioasq" / "BioASQ-val-yesno.json"}


def cache_dir() -> Path:
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "clinqa" / "eval"


def _progress(args: argparse.Namespace) -> bool:
    return not getattr(args, "quiet", False)


def _index(args: argparse.Namespace, dataset: Path) -> Path:
    """--build-index DIR builds the dataset's own documents into DIR; bare --build-index
    uses a cache folder keyed by the dataset's content and the --encoder (reused on the next run)."""

    encoder = getattr(args, "encoder", None)
    if args.build_index is None:
        if encoder:
            raise EvaluationError(
                "--encoder applies to the index that --build-index builds; an existing index keeps its own encoder",
                f"add --build-index, or build the index with `clinqa index build --encoder {encoder}`",
            )
        return args.index
    if args.build_index == "auto":
        if dataset.is_dir():
            target = cache_dir() / f"index-{dataset.name}-{load_beir(dataset).sha256[:12]}{encoder_key(encoder)}"
            if not (target / "manifest.json").is_file():
                build_eval_index(dataset, target, progress=_progress(args), encoder=normalize_encoder(encoder))
            return target
        return index_for(dataset, cache_dir(), _progress(args), encoder)
    target = Path(args.build_index)
    if target.exists() and any(target.iterdir()):
        # Building replaces what the folder serves: never overwrite someone's real index by accident.
        raise EvaluationError(
            f"{target} is not empty; --build-index writes a fresh index there",
            f"pass a new directory, or evaluate on the existing index with --index {target}",
        )
    return build_eval_index(dataset, target, progress=_progress(args), encoder=normalize_encoder(encoder))


def _emit(result: Any, args: argparse.Namespace) -> int:
    if args.out:
        path = write_outputs(result, Path(args.out))
        print(f"wrote {path.parent}/{{metrics.json,predictions.jsonl,report.md}}", file=sys.stderr)
    if args.json:
        print(to_json(result))
        return 0
    rows = result.runs or {result.task: result.metrics}
    for name, metrics in rows.items():
        print(f"{name}: " + "  ".join(f"{k}={fmt(metrics[k])}" for k in ordered(metrics)))
    if result.runs:
        m = result.metrics
        print(f"latency per query (legs): p50 {m['latency_ms_p50']:.1f} ms, p95 {m['latency_ms_p95']:.1f} ms")
    print("(all quality metrics are percentages)")
    return 0


def cmd_reader(args: argparse.Namespace) -> int:
    ds = load_qa_dataset(args.dataset, format=args.format, question_type=args.question_type, limit=args.limit)
    reader = load_reader(reader_config(args.reader, args.backend, cache_dir()))
    result = evaluate_reader(ds, reader, describe_reader(reader, str(args.reader)), n_best=args.n_best,
                             list_threshold=args.list_threshold, progress=_progress(args))
    return _emit(result, args)


def cmd_retrieval(args: argparse.Namespace) -> int:
    ds = load_retrieval_dataset(args.dataset, format=args.format, limit=args.limit)
    rerank = reranker_config(args)
    runs = run_names(args.mode, args.fusion, args.dense_weight, rerank=rerank is not None)
    result = evaluate_retrieval(_index(args, args.dataset), ds, runs, depth=args.depth, progress=_progress(args),
                                reranker=rerank)
    return _emit(result, args)


def cmd_e2e(args: argparse.Namespace) -> int:
    ds = load_qa_dataset(args.dataset, format=args.format, question_type=args.question_type, limit=args.limit)
    cfg = reader_config(args.reader, args.backend, cache_dir())

    result = evaluate_e2e(_index(args, args.dataset), ds, cfg, str(args.reader), top_k=args.top_k, mode=args.mode,
                          top_answers=args.top_answers, progress=_progress(args), reranker=reranker_config(args),
                          ray=ray_config_from_args(args))
    return _emit(result, args)


def cmd_compare(args: argparse.Namespace) -> int:
    datasets: dict[str, Path] = {}
    for spec in args.dataset or []:
        name, sep, path = spec.partition("=")
        if not sep:
            raise EvaluationError(f"--dataset {spec!r} is not NAME=FILE", 'e.g. --dataset "COVID-QA dev=/path/dev.json"')
        datasets[name] = Path(path)
    ner = {name: path for name, path in map(_named, args.ner_dataset or [])}
    classify = {name: (path, args.classify_subdir) for name, path in map(_named, args.classify_dataset or [])}
    yesno = {name: path for name, path in map(_named, args.yesno_dataset or [])}
    if not (datasets or ner or classify or yesno):  # nothing named: the full default comparison
        datasets = DEFAULT_COMPARE
        if not args.no_tasks:
            ner = {n: p for n, p in DEFAULT_NER_COMPARE.items() if p.is_file()}
            classify = {n: v for n, v in DEFAULT_CLASSIFY_COMPARE.items() if v[0].exists()}
            yesno = {n: p for n, p in DEFAULT_YESNO_COMPARE.items() if p.is_file()}
    base = [] if args.no_base else ["base"]
    readers = base + ["shipped"] + list(args.reader or [])
    comp = run_compare(datasets, args.work, readers, limit=args.limit, progress=_progress(args),
                       with_retrieval=not args.no_retrieval, encoder=args.encoder)
    if ner or classify:
        run_task_compare(comp, ner, classify, base + ["shipped"] + list(args.ner_model or []),
                         base + ["shipped"] + list(args.classifier or []), backend=args.task_backend,
                         threads=args.threads)
    if yesno:
        specs = (["floor"] if not args.no_base else []) + ["shipped"] + list(args.yesno_model or [])
        comp.tasks += [compare_yesno(n, p, specs, backend=args.task_backend, threads=args.threads)
                       for n, p in yesno.items()]
    text = render(comp)
    if args.out:
        out = Path(args.out)
        tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, out)
    print(json.dumps(comparison_json(comp), indent=2, default=str) if args.json else text)
    return 0


def _named(spec: str) -> tuple[str, Path]:
    """"NAME=PATH" or a bare PATH (named after its folder and file)."""
    name, sep, path = spec.partition("=")
    if sep and name and not Path(spec).exists():
        return name, Path(path)
    p = Path(spec)
    return f"{p.parent.name}/{p.name}" if p.parent.name else p.name, p


def _common(p: argparse.ArgumentParser, qa: bool = True) -> None:
    p.add_argument("--dataset", type=Path, required=True,
                   help="SQuAD v1.1 JSON file (COVID-QA, BioASQ-in-SQuAD)" + ("" if qa else ", or a BEIR folder"))
    p.add_argument("--format", choices=["squad", "bioasq"],
                   help="dataset layout (default: bioasq when every id is <24 hex>_<n>, else squad)")
    p.add_argument("--limit", type=int, help="evaluate only the first N questions")
    p.add_argument("--json", action="store_true", help="print one JSON object: metrics + config")
    p.add_argument("--out", type=Path, help="write metrics.json, predictions.jsonl, report.md and plots into DIR")


def _reader_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--question-type", choices=["extractive", "factoid", "list"],
                   help="scoring: SQuAD EM/F1 (extractive), BioASQ factoid or list (default: from the format and file name)")
    p.add_argument("--reader", default="shipped",
                   help="'shipped' (models/reader-mpnet, default), 'base' (MiniLM with an untrained QA head) or a model directory")
    p.add_argument("--backend", choices=["onnx", "torch"], help="reader runtime (default: the reader config's)")


def _index_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=default_index_dir(), help="index directory (default: %(default)s)")
    p.add_argument("--build-index", nargs="?", const="auto", metavar="DIR",
                   help="first index the dataset's own documents into DIR (alone: a cached folder under "
                        f"{cache_dir()}) and evaluate on that index")
    p.add_argument("--encoder", metavar="PATH",
                   help="dense encoder of the index --build-index builds: a sentence-transformers directory "
                        "(e.g. the --out of `clinqa train retriever`; default: the packaged MiniLM)")


def add_eval_reader_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    _reader_args(p)
    p.add_argument("--n-best", type=int, default=20, help="answers kept per question before merging (default 20)")
    p.add_argument("--list-threshold", type=float,
                   help="BioASQ list questions: keep answers with at least this probability (default: the reader's threshold)")


def add_eval_retrieval_args(p: argparse.ArgumentParser) -> None:
    _common(p, qa=False)
    _index_args(p)
    p.add_argument("--mode", choices=["bm25", "dense", "hybrid", "all"], default="all",
                   help="retriever(s) to score; hybrid = exactly what `clinqa search --mode hybrid` ranks; all = both legs, "
                        "hybrid RRF, hybrid convex (min-max and absolute normalisation) at dense weights 0.3/0.5/0.7 and "
                        "the default hybrid. Each is also scored with the reranker unless --no-rerank")
    p.add_argument("--fusion", choices=["rrf", "convex"], default=None,
                   help="fusion for --mode hybrid (default: the product's, as `clinqa search` uses)")
    p.add_argument("--dense-weight", type=float, default=None, help="dense weight for --mode hybrid --fusion convex")
    add_rerank_args(p)
    p.add_argument("--depth", type=int, default=100, help="passages retrieved per query (default 100)")


def add_eval_e2e_args(p: argparse.ArgumentParser) -> None:
    _common(p)
    _reader_args(p)
    _index_args(p)
    p.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="hybrid", help="retrieval mode (default hybrid)")
    p.add_argument("--top-k", type=int, default=10, help="passages read per question (default 10)")
    p.add_argument("--top-answers", type=int, default=5, help="answers kept per question (default 5)")
    add_rerank_args(p)
    add_ray_args(p, "the questions")


COMPARE_DESCRIPTION = ("Without any --dataset, --ner-dataset or --classify-dataset: retrieval and readers on "
                       "COVID-QA dev and BioASQ factoid dev, NER on BC5CDR test and classification on Ohsumed "
                       "test (when those files exist). Naming any dataset compares on the named ones only.")


def add_eval_compare_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dataset", action="append", metavar="NAME=FILE",
                   help="dataset to compare on (repeatable; default: COVID-QA dev and BioASQ factoid dev from /work/shared/data)")
    p.add_argument("--reader", action="append", metavar="DIR", help="extra reader directory (repeatable)")
    p.add_argument("--ner-dataset", action="append", metavar="[NAME=]FILE",
                   help="token<TAB>tag file for a NER table (repeatable); default: BC5CDR test from /work/shared/data")
    p.add_argument("--ner-model", action="append", metavar="DIR",
                   help="extra NER model directory (repeatable); the shipped models/ner is always a row")
    p.add_argument("--classify-dataset", action="append", metavar="[NAME=]PATH",
                   help="classification dataset (CSV/JSONL/folder/.tar.gz) for a table (repeatable); "
                        "default: Ohsumed test (ohsumed_single_23.tar.gz, subdir test)")
    p.add_argument("--classify-subdir", default="", metavar="SUBDIR",
                   help="split folder inside every --classify-dataset (Ohsumed: test)")
    p.add_argument("--classifier", action="append", metavar="DIR",
                   help="extra classifier directory (repeatable); the shipped models/classifier is always a row")
    p.add_argument("--task-backend", choices=["onnx", "torch"],
                   help="runtime of the NER/classification models (default: onnx where model_int8.onnx exists)")
    p.add_argument("--threads", type=int, default=0, help="ONNX Runtime / torch threads for NER/classification (0 = default)")
    p.add_argument("--no-tasks", action="store_true", help="no NER/classification tables in the default comparison")
    p.add_argument("--no-base", action="store_true", help="skip the untrained base rows (reader, NER, classifier)")
    p.add_argument("--no-retrieval", action="store_true", help="readers only")
    p.add_argument("--work", type=Path, default=cache_dir(), help="where evaluation indexes are built and reused")
    p.add_argument("--encoder", metavar="PATH",
                   help="dense encoder of the retrieval indexes (a sentence-transformers directory; default: the packaged MiniLM)")
    p.add_argument("--limit", type=int, help="only the first N questions per dataset")
    p.add_argument("--out", type=Path, help="also write the Markdown to this file")
    p.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    p.add_argument("--yesno-dataset", action="append", metavar="[NAME=]FILE",
                   help="yes/no dataset for a table (repeatable); default: PubMedQA (our dev PMIDs) and BioASQ yes/no dev")
    p.add_argument("--yesno-model", action="append", metavar="DIR",
                   help="extra yes/no model directory (repeatable); the shipped models/yesno is always a row")
