"""`clinqa serve`: the web UI, listed in the command registry of `ui/cli.py`.

Importing this module is cheap: Gradio (ui.web) and the models are loaded by the handler.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path
from typing import Any

from pipeline.cli_options import add_index_arg, add_rerank_args, reranker_config
from pipeline.engine import EngineConfig, QAEngine
from privacy.logging import install_log_scrubbing
from privacy.scrub import default_scrubber
from reader.config import ReaderConfig
from retriever import RetrieverConfig
from ui.auth import Access, check_binding

log = logging.getLogger(__name__)


def cmd_serve(args: argparse.Namespace) -> int:
    """A ServeError (a HintedError) reaches the CLI's one printer: exit 1 with a hint."""
    from ui.web import ServeConfig, build_app, launch  # deferred on purpose: Gradio takes seconds to import

    config = ServeConfig(
        index_dir=Path(args.index),
        host=args.host,
        port=args.port,
        concurrency=args.concurrency,
        max_upload_bytes=int(args.max_upload_mb * 1024 * 1024),
        idle_minutes=args.idle_minutes,
        security_url=args.security_db,
    )
    # Refuse an open address before spending a minute loading models.
    access = Access.for_index(config.index_dir, config.security_url, config.idle_minutes)
    check_binding(config.host, access, config.index_dir)
    reader_cfg = None
    if args.reader or args.backend:
        kwargs: dict[str, Any] = {}
        if args.reader:
            kwargs["model"] = args.reader
        if args.backend:
            kwargs["backend"] = args.backend
        reader_cfg = ReaderConfig(**kwargs)
    engine = QAEngine(EngineConfig(index_dir=config.index_dir, retriever=RetrieverConfig(top_k=config.top_k),
                                   reader=reader_cfg, reranker=reranker_config(args)))
    engine.warm_up()  # models load once, here, not on the first question
    if access.audit is not None:
        # The audit trail scrubs every question; load Presidio now rather than on the first one.
        default_scrubber()
    print(f"reader: {engine.reader_description}", file=sys.stderr)
    app = build_app(engine, config, access)
    url = launch(app, config, access, block=False)
    # uvicorn's loggers have their own handlers (added at launch) and do not propagate to the
    # root logger, so the PHI filter is attached to them here as well.
    for name in ("", "uvicorn", "uvicorn.access", "uvicorn.error", "gradio"):
        install_log_scrubbing(logging.getLogger(name), warm_up=False)
    print(f"clinqa web UI: {url}  ({'login required' if access.required else 'local use, no login'}; Ctrl-C stops)",
          file=sys.stderr)
    try:
        app.block_thread()
    finally:
        engine.close()
        access.close()
    return 0


SERVE_DESCRIPTION = ("Serve the web UI. It binds to 127.0.0.1 by default; any other --host needs accounts "
                     "(clinqa user add NAME --role admin). Nothing is fetched from the internet.")


def add_serve_args(p: argparse.ArgumentParser) -> None:
    add_index_arg(p)
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: %(default)s, this machine only)")
    p.add_argument("--port", type=int, default=7860, help="port (default: %(default)s)")
    p.add_argument("--concurrency", type=int, default=2, help="questions processed at once (default: %(default)s)")
    p.add_argument("--max-upload-mb", type=float, default=50, help="largest accepted upload in MB (default: %(default)s)")
    p.add_argument("--idle-minutes", type=float, default=15, help="log out after this much inactivity (default: %(default)s)")
    p.add_argument("--reader", help="reader model directory or name (default: the shipped reader in models/reader-mpnet)")
    p.add_argument("--backend", choices=["onnx", "torch"], help="reader runtime (default onnx int8)")
    add_rerank_args(p)
    p.add_argument("--security-db", default=os.environ.get("CLINQA_SECURITY_DB"),
                   help="SQLAlchemy URL of the users/audit database (default: $CLINQA_SECURITY_DB, "
                        "else sqlite:///INDEX/security.db)")
