"""The clinician web UI behind `clinqa serve`: ask page, "why this answer", documents page.

Only wiring lives here. Questions go through `pipeline.engine.QAEngine` (the API `clinqa ask`
uses), index changes through `indexer.writer.IndexWriter`, token explanations through
`reader.explain`, HTML through the pure functions in `ui.render`, upload checks through
`ui.uploads`, and who may do what through `ui.auth.Access`.

`WebApp` holds the actions (plain Python, tested without a browser); `build_app` lays out
the Gradio page and connects it to them; `launch` starts the server with everything that
keeps it offline: system fonts only, no analytics, no SSR node server, no share tunnel.
"""
from __future__ import annotations

import functools
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.env import set_offline_defaults
from indexer.errors import IndexerError
from indexer.writer import IndexWriter
from pipeline.errors import PipelineError
from reader.explain import DEFAULT_STEPS, explain_answer
from ui.auth import Access, Principal, ServeError

set_offline_defaults()  # GRADIO_ANALYTICS_ENABLED=False before Gradio reads it

import gradio as gr  # noqa: E402

from ui.render import (  # noqa: E402
    NOTICE,
    UploadRow,
    esc,
    render_answer_html,
    render_error_html,
    render_explanation_html,
    render_index_info,
    render_message_html,
    render_upload_report,
)
from ui.uploads import DEFAULT_MAX_UPLOAD_BYTES, UPLOAD_FORMATS, check_upload, mb, safe_filename, stage  # noqa: E402

log = logging.getLogger(__name__)

EXAMPLE_QUESTIONS = (
    "What are the symptoms of glaucoma?",
    "What causes gout?",
    "How is type 2 diabetes treated?",
    "What are the treatments for asthma?",
)
MODES = ("hybrid", "bm25", "dense")
MAX_LISTED_DOCUMENTS = 500
# A plain system font stack: Gradio's default theme fetches Google Fonts from the internet.
SYSTEM_FONTS = ("ui-sans-serif", "system-ui", "-apple-system", "Segoe UI", "Roboto", "Helvetica", "Arial", "sans-serif")
MONO_FONTS = ("ui-monospace", "SFMono-Regular", "Menlo", "Consolas", "monospace")
CSS = """
.cq-notice {border-left: 4px solid #d97706; background: #fffbeb; color: #78350f; padding: 8px 12px; border-radius: 4px;}
.cq-answer {border: 1px solid #e5e7eb; border-radius: 8px; padding: 10px 14px; margin: 10px 0; background: #fff; color: #111827;}
.cq-head {font-size: 1.1em; font-weight: 600;}
.cq-conf {display: flex; align-items: center; gap: 8px; margin: 4px 0;}
.cq-bar {width: 160px; height: 10px; background: #e5e7eb; border-radius: 5px; overflow: hidden;}
.cq-bar span {display: block; height: 100%; background: #2563eb;}
.cq-passage {border-left: 3px solid #cbd5e1; margin: 6px 0; padding: 4px 10px; color: #374151; white-space: pre-wrap;}
.cq-passage mark {background: #fde047; color: #111827; padding: 0 1px;}
.cq-src {font-size: .9em;} .cq-meta, .cq-timing, .cq-url {color: #6b7280; font-size: .9em;}
.cq-why table, .cq-report table, .cq-info {border-collapse: collapse; font-size: .9em;}
.cq-why th, .cq-why td, .cq-report th, .cq-report td, .cq-info th, .cq-info td {
  border: 1px solid #e5e7eb; padding: 2px 8px; text-align: left;}
.cq-noanswer {border-left: 4px solid #6b7280; background: #f3f4f6; color: #111827; padding: 8px 12px; border-radius: 4px;}
.cq-error {border-left: 4px solid #dc2626; background: #fef2f2; color: #7f1d1d; padding: 8px 12px; border-radius: 4px;}
.cq-hint {color: #991b1b; font-size: .9em; margin-top: 4px;}
.cq-tok {border-radius: 3px;} .cq-tok-ans {text-decoration: underline; text-decoration-thickness: 2px;}
.cq-failed td {color: #b91c1c;}
.cq-ent {border-bottom: 2px solid; padding: 0 1px;}
.cq-ent-disease {border-color: #dc2626; background: #fef2f2;}
.cq-ent-chemical {border-color: #2563eb; background: #eff6ff;}
.cq-legend {font-size: .85em; color: #6b7280;}
.cq-cat {color: #374151;}
.cq-verdict {border-left: 6px solid #6b7280; background: #f9fafb; color: #111827; padding: 8px 12px; border-radius: 4px;}
.cq-verdict-yes {border-color: #16a34a;} .cq-verdict-no {border-color: #dc2626;} .cq-verdict-maybe {border-color: #d97706;}
.cq-vhead {font-size: 1.3em; font-weight: 700;} .cq-vlean, .cq-vsum {color: #4b5563; font-size: .9em;}
.cq-role {font-weight: 600; text-transform: uppercase; font-size: .8em; padding: 1px 6px; border-radius: 3px;}
.cq-role-supports .cq-role {background: #dcfce7; color: #166534;}
.cq-role-contradicts .cq-role {background: #fee2e2; color: #991b1b;}
.cq-role-neutral .cq-role {background: #f3f4f6; color: #374151;}
"""


@dataclass(frozen=True)
class ServeConfig:
    """How `clinqa serve` runs. Validated here; nothing is loaded or bound."""

    index_dir: Path
    host: str = "127.0.0.1"
    port: int = 7860
    # Events (questions, uploads) processed at once; more wait in the queue. The reader is
    # CPU-bound, so more than the core count only makes every question slower.
    concurrency: int = 2
    queue_size: int = 64
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES
    top_k: int = 10
    max_top_k: int = 50
    explain_steps: int = DEFAULT_STEPS
    idle_minutes: float = 15.0
    security_url: str | None = None  # None: sqlite:///<index_dir>/security.db

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise ServeError(f"invalid port {self.port}", "use 1-65535, e.g. --port 7860")
        if self.concurrency < 1 or self.queue_size < 1:
            raise ServeError("concurrency and queue size must be >= 1", "use e.g. --concurrency 2")
        if self.max_upload_bytes < 1:
            raise ServeError("the upload size limit must be positive", "use e.g. --max-upload-mb 50")
        if not 1 <= self.top_k <= self.max_top_k:
            raise ServeError(f"top_k {self.top_k} must be in 1..{self.max_top_k}", "use e.g. 10")
        if self.idle_minutes <= 0:
            raise ServeError("idle_minutes must be positive", "use e.g. 15")


class Refused(Exception):
    """The user may not do this (not logged in, or the role lacks the permission)."""


class _ReadWriteLock:
    """Many questions at once, or one index reload alone: `QAEngine.reload` closes the old
    index, which must not happen under a question that is still reading it."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._readers = 0
        self._writer = False

    @contextmanager
    def read(self) -> Iterator[None]:
        with self._cond:
            while self._writer:
                self._cond.wait()
            self._readers += 1
        try:
            yield
        finally:
            with self._cond:
                self._readers -= 1
                self._cond.notify_all()

    @contextmanager
    def write(self) -> Iterator[None]:
        with self._cond:
            while self._writer or self._readers:
                self._cond.wait()
            self._writer = True
        try:
            yield
        finally:
            with self._cond:
                self._writer = False
                self._cond.notify_all()


class WebApp:
    """The actions behind the page; each returns HTML (or rows) ready to show."""

    def __init__(self, engine: Any, config: ServeConfig, access: Access | None = None) -> None:
        self.engine = engine
        self.config = config
        self.access = access or Access()
        self._lock = _ReadWriteLock()

    # -- who -------------------------------------------------------------------------
    def allowed(self, username: str | None, permission: str, detail: str = "",
                doc_ids: Sequence[str] = ()) -> Principal:
        """The principal if it may `permission`; else raises Refused, after an audit row
        ("refused", with what was attempted) so refused attempts are on the trail too."""
        principal = self.access.principal(username)
        if principal is None:
            self.access.record("refused", username, detail=f"{permission}: not logged in or session expired {detail}".strip(),
                               doc_ids=doc_ids)
            raise Refused("you are not logged in (or your session expired): reload the page and log in")
        if not principal.can(permission):
            self.access.record("refused", principal.username,
                               detail=f"{permission}: role {principal.role} may not {permission} {detail}".strip(),
                               doc_ids=doc_ids)
            raise Refused(f"your role ({principal.role}) may not {permission}; ask an admin")
        return principal

    # -- ask ---------------------------------------------------------------------------
    def ask(self, question: str, top_k: int, mode: str, sources: Sequence[str] | None,
            username: str | None, entities: str | Sequence[str] | None = None,
            categories: Sequence[str] | None = None) -> tuple[str, list[dict[str, Any]]]:
        """(answers HTML, explanation targets: one plain dict per answer shown).

        entities: passages must mention all of them (a comma-separated string or a list);
        categories: documents predicted as any of them."""
        user = self.allowed(username, "ask")
        self._reload_if_stale()
        with self._lock.read():
            try:
                if isinstance(entities, str):
                    entities = entities.split(",")
                result = self.engine.ask(question, top_k=int(top_k), mode=mode, sources=list(sources or []) or None,
                                         entities=entities, categories=list(categories or []) or None)
            except PipelineError as exc:
                return render_error_html(exc.message, exc.hint), []
        doc_ids = [r.answer.passage.doc_id for r in result.answers]
        if result.verdict is not None:  # yes/no: the passages weighed are what was shown
            shown = {e.chunk_id for e in result.verdict.evidence}
            doc_ids = list(dict.fromkeys(h.passage.doc_id for h in result.hits if h.passage.chunk_id in shown))
        self.access.record("ask", user.username, detail=result.question, doc_ids=doc_ids)
        if not result.confident or result.verdict is not None:
            return render_answer_html(result), []
        targets = [
            {"label": f"{i}. {r.answer.text[:60]}", "question": result.question, "passage": r.answer.passage.text,
             "start": r.answer.start, "end": r.answer.end}
            for i, r in enumerate(result.answers, 1)
        ]
        return render_answer_html(result), targets

    def explain(self, target: dict[str, Any] | None, username: str | None) -> str:
        self.allowed(username, "ask")
        if not target:
            return render_message_html("Ask a question first; explanations are for answers shown above.")
        explanation = explain_answer(
            self.engine.reader.config.model, target["question"], target["passage"], target["start"], target["end"],
            n_steps=self.config.explain_steps,
        )
        return render_explanation_html(explanation, target["question"], target["passage"], target["start"], target["end"])

    # -- documents -----------------------------------------------------------------------
    def upload(self, files: Sequence[tuple[str | Path, str]], username: str | None,
               progress: Callable[[float, str], None] | None = None, delete_sources: bool = False) -> str:
        """Check, stage and add each (path, name sent by the browser) to the index.
        `delete_sources`: delete the uploaded files afterwards, whatever happened (they may
        hold patient data; the web UI's copies must not outlive the request)."""
        try:
            return self._upload(files, username, progress)
        finally:
            if delete_sources:
                for path, _ in files:
                    _delete_upload(Path(path))

    def _upload(self, files: Sequence[tuple[str | Path, str]], username: str | None,
                progress: Callable[[float, str], None] | None) -> str:
        user = self.allowed(username, "upload", detail=", ".join(safe_filename(n) for _, n in files))
        rows: list[UploadRow] = []
        changed: list[str] = []
        staged: set[str] = set()
        writer = IndexWriter(self.config.index_dir, show_progress=False)  # one writer: the encoder loads once
        with tempfile.TemporaryDirectory(prefix="clinqa-upload-") as tmp:
            for i, (path, name) in enumerate(files):
                if progress is not None:
                    progress(i / len(files), f"indexing {name} ({i + 1}/{len(files)})")
                check = check_upload(Path(path), name, self.config.max_upload_bytes)
                if not check.ok:
                    rows.append(UploadRow(check.name, "failed", check.reason))
                    continue
                if check.name in staged:  # same name twice in one upload: never let one replace the other
                    rows.append(UploadRow(check.name, "failed", "another file in this upload has the same name; "
                                          "rename one of them and upload it again"))
                    continue
                staged.add(check.name)
                # One folder per file: the doc id of a text/PDF/HTML file is `file:<name>`.
                folder = Path(tmp) / str(i)
                folder.mkdir()
                fmt = UPLOAD_FORMATS[Path(check.name).suffix.lower()]
                try:
                    report = writer.add([stage(Path(path), check, folder)], format=fmt)
                except IndexerError as exc:
                    rows.append(UploadRow(check.name, "failed", f"{exc.message} ({exc.hint})" if exc.hint else exc.message))
                    continue
                rows.append(_upload_row(check.name, report))
                changed += [*report.added, *report.updated]
        if changed:
            with self._lock.write():
                self.engine.reload()
        self.access.record("upload", user.username, detail=", ".join(f"{r.name}: {r.status}" for r in rows),
                           doc_ids=changed)
        log.info("upload by %s: %s", user.username, ", ".join(f"{r.name}={r.status}" for r in rows))
        return render_upload_report(rows)

    def remove(self, doc_ids: Sequence[str] | None, username: str | None) -> str:
        user = self.allowed(username, "remove", doc_ids=list(doc_ids or []))
        if not doc_ids:
            return render_message_html("Choose the documents to remove first.")
        report = IndexWriter(self.config.index_dir, show_progress=False).remove(list(doc_ids))
        if report.removed:
            with self._lock.write():
                self.engine.reload()
        self.access.record("remove", user.username, detail=f"{len(report.removed)} removed", doc_ids=report.removed)
        parts = [f"Removed {len(report.removed)} document(s): {', '.join(report.removed)}."] if report.removed else []
        if report.missing:
            parts.append(f"Not in the index: {', '.join(report.missing)}.")
        parts.append(f"The index now holds {report.documents} documents.")
        return render_message_html(" ".join(parts))

    def documents(self, query: str = "") -> tuple[list[list[Any]], str]:
        """(table rows, a caption) of the documents, newest first, filtered by `query`."""
        self._reload_if_stale()
        with self._lock.read():
            docs = self.engine.index.backend.list_documents()
        q = (query or "").strip().lower()
        if q:
            docs = [d for d in docs if q in d.title.lower() or q in d.doc_id.lower() or q in d.source.lower()]
        shown = docs[:MAX_LISTED_DOCUMENTS]
        rows = [[d.title, d.source, d.added_at.strftime("%Y-%m-%d %H:%M"), d.num_chunks, d.doc_id] for d in shown]
        caption = f"{len(docs)} document(s)" + (f" match; showing the newest {len(shown)}" if len(docs) > len(shown) else "")
        return rows, caption

    def sources(self) -> list[str]:
        with self._lock.read():
            return self.engine.index.backend.sources()

    def categories(self) -> list[tuple[str, str]]:
        """(shown text, label) per predicted document category, most frequent first."""
        with self._lock.read():
            return [(f"{label} {name} ({n})".replace("  ", " "), label)
                    for label, name, n in self.engine.index.backend.category_counts()]

    def index_info(self) -> str:
        self._reload_if_stale()
        with self._lock.read():
            return render_index_info(self.engine.index.manifest, self.engine.reader_description,
                                     self.engine.index.backend.sources())

    def _reload_if_stale(self) -> None:
        """Pick up changes made outside this server (e.g. `clinqa index add` in a shell)."""
        if self.engine.is_stale():
            with self._lock.write():
                if self.engine.is_stale():
                    log.info("index changed on disk: reloading")
                    self.engine.reload()


def _delete_upload(path: Path) -> None:
    """Delete an uploaded file and the per-upload folder Gradio made for it, if now empty."""
    try:
        path.unlink(missing_ok=True)
        path.parent.rmdir()  # Gradio stores each upload in a folder of its own
    except OSError:
        pass  # not empty (another upload) or already gone


def _upload_row(name: str, report: Any) -> UploadRow:
    ids = [*report.added, *report.updated]
    problem = ""
    if report.failures:  # e.g. bad lines in a JSONL file whose other lines were added
        f = report.failures[0]
        where = f" (line {f.line})" if getattr(f, "line", None) else ""
        problem = f"{f.reason}{where}" + (f"; {f.hint}" if getattr(f, "hint", "") else "")
    if ids:
        detail = f"{len(ids)} document(s): {', '.join(ids[:5])}" + (" …" if len(ids) > 5 else "")
        if problem:
            detail += f"; {len(report.failures)} part(s) failed, first: {problem}"
        return UploadRow(name, "added" if report.added else "updated", detail)
    if problem:
        return UploadRow(name, "failed", problem)
    if report.unchanged:
        return UploadRow(name, "unchanged", "already in the index with the same content; skipped")
    return UploadRow(name, "skipped", "no text could be extracted, so nothing was added")


# -- the page ---------------------------------------------------------------------------------
def theme() -> gr.themes.Base:
    return gr.themes.Default(font=list(SYSTEM_FONTS), font_mono=list(MONO_FONTS))


def _guarded(fn: Callable[..., Any], n_outputs: int) -> Callable[..., Any]:
    """Show refusals and unexpected failures as an error box in the first output instead
    of a generic Gradio error (the details go to the server log, not the browser)."""

    # functools.wraps keeps the signature: Gradio injects gr.Request / gr.Progress by it.
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except Refused as exc:
            html_out = render_error_html(str(exc))
        except Exception as exc:  # noqa: BLE001 - a server must answer every request
            log.exception("web action %s failed", fn.__name__)
            hint = getattr(exc, "hint", "") or "see the server log for details"
            html_out = render_error_html(f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}", hint)
        return html_out if n_outputs == 1 else (html_out, *[gr.skip()] * (n_outputs - 1))

    return wrapper


def _username(request: gr.Request | None) -> str | None:
    return getattr(request, "username", None) if request is not None else None


def build_app(engine: Any, config: ServeConfig, access: Access | None = None) -> gr.Blocks:
    """The Gradio page for a warmed-up engine (see `launch` to serve it)."""
    private_upload_dir()  # before the Blocks: Gradio reads its cache folder when it is created
    web = WebApp(engine, config, access)
    accounts = web.access.required
    formats = ", ".join(sorted({e.lstrip(".").upper() for e in UPLOAD_FORMATS} - {"HTM", "MARKDOWN"}))

    # delete_cache: Gradio keeps a copy of every upload in its cache folder; clinical
    # documents should not linger there once indexed (checked every 15 min, older than 15 min).
    with gr.Blocks(title="clinqa: clinical question answering", analytics_enabled=False,
                   delete_cache=(900, 900)) as app:
        gr.HTML(f'<h1 style="margin:0">clinqa</h1><div class="cq-notice" role="note" id="notice">{esc(NOTICE)}</div>')
        who = gr.HTML(elem_id="who")
        with gr.Tabs():
            with gr.Tab("Ask", id="ask"):
                with gr.Row():
                    question = gr.Textbox(label="Question", placeholder="e.g. What are the symptoms of glaucoma?",
                                          lines=1, scale=5, elem_id="question", autofocus=True)
                    ask_button = gr.Button("Ask", variant="primary", scale=1, elem_id="ask-button")
                gr.Examples([[q] for q in EXAMPLE_QUESTIONS], inputs=[question], label="Example questions")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    with gr.Row():
                        top_k = gr.Slider(1, config.max_top_k, value=config.top_k, step=1,
                                          label="Passages to read (top-k)", elem_id="top-k")
                        mode = gr.Radio(list(MODES), value="hybrid", label="Retrieval mode", elem_id="mode")
                    sources = gr.Dropdown(web.sources(), value=[], multiselect=True, elem_id="sources",
                                          label="Only these source collections (none chosen = all)")
                    with gr.Row():
                        entity = gr.Textbox(label="Only passages mentioning (e.g. metformin; comma-separated = all of them)",
                                            elem_id="entity", scale=1)
                        category = gr.Dropdown(web.categories(), value=[], multiselect=True, elem_id="category", scale=1,
                                               label="Only documents of these predicted categories (none = all)")
                answers = gr.HTML(elem_id="answers")
                targets = gr.State([])
                with gr.Accordion("Why this answer: token-level explanation", open=True, elem_id="explain-box"):
                    with gr.Row():
                        explain_choice = gr.Dropdown([], label="Answer to explain", interactive=False, scale=4,
                                                     elem_id="explain-choice")
                        explain_button = gr.Button("Explain tokens", scale=1, elem_id="explain-button")
                    explanation = gr.HTML(elem_id="explanation")
            with gr.Tab("Documents", id="documents", visible=not accounts, elem_id="documents-tab") as docs_tab:
                info = gr.HTML(elem_id="index-info")
                files = gr.File(label=f"Upload documents ({formats}; at most {mb(config.max_upload_bytes):g} MB each)",
                                file_count="multiple", file_types=sorted(UPLOAD_FORMATS), elem_id="upload")
                add_button = gr.Button("Add to index", variant="primary", elem_id="add-button")
                upload_report = gr.HTML(elem_id="upload-report")
                with gr.Row():
                    doc_filter = gr.Textbox(label="Filter by title, source or id", scale=4, elem_id="doc-filter")
                    refresh_button = gr.Button("Refresh", scale=1, elem_id="refresh-button")
                doc_caption = gr.Markdown(elem_id="doc-caption")
                doc_table = gr.Dataframe(headers=["title", "source", "added", "chunks", "doc id"], interactive=False,
                                         wrap=True, column_widths=["42%", "18%", "16%", "8%", "16%"],
                                         elem_id="doc-table")
                with gr.Row():
                    remove_choice = gr.Dropdown([], multiselect=True, label="Documents to remove", scale=4,
                                                elem_id="remove-choice")
                    remove_button = gr.Button("Remove", variant="stop", scale=1, elem_id="remove-button")
                remove_report = gr.HTML(elem_id="remove-report")

        # -- events --------------------------------------------------------------------
        def on_load(request: gr.Request) -> tuple[Any, ...]:
            principal = web.access.principal(_username(request))
            admin = principal is not None and principal.can("upload")
            who_html = ""
            if accounts and principal is not None:
                who_html = (f'<div class="cq-meta">Signed in as {esc(principal.username)} ({esc(principal.role)}) · '
                            '<a href="logout">log out</a></div>')
            return (who_html, gr.Tab(visible=admin), *(documents_view(doc_filter_value="") if admin else [gr.skip()] * 6))

        def documents_view(doc_filter_value: str = "") -> list[Any]:
            rows, caption = web.documents(doc_filter_value)
            return [web.index_info(), rows, caption, gr.Dropdown(choices=[(f"{r[0]} ({r[4]})", r[4]) for r in rows], value=[]),
                    gr.Dropdown(choices=web.sources()), gr.Dropdown(choices=web.categories())]

        doc_outputs = [info, doc_table, doc_caption, remove_choice, sources, category]
        app.load(_guarded(on_load, 8), outputs=[who, docs_tab, *doc_outputs])

        def on_ask(q: str, k: float, m: str, srcs: list[str], ent: str, cats: list[str],
                   request: gr.Request) -> tuple[Any, ...]:
            html_out, found = web.ask(q, int(k), m, srcs, _username(request), entities=ent, categories=cats)
            choices = [(t["label"], i) for i, t in enumerate(found)]
            return html_out, found, gr.Dropdown(choices=choices, value=0 if found else None, interactive=bool(found)), ""

        ask_outputs = [answers, targets, explain_choice, explanation]
        # A stable API name: the load test (benchmarks/load_test.py) and scripted clients call /ask.
        ask_inputs = [question, top_k, mode, sources, entity, category]
        ask_button.click(_guarded(on_ask, 4), ask_inputs, ask_outputs, concurrency_id="read", api_name="ask")
        question.submit(_guarded(on_ask, 4), ask_inputs, ask_outputs, concurrency_id="read", api_name=False)

        def on_explain(choice: int | None, found: list[dict[str, Any]], request: gr.Request) -> str:
            target = found[choice] if found and choice is not None and 0 <= choice < len(found) else None
            return web.explain(target, _username(request))

        explain_button.click(_guarded(on_explain, 1), [explain_choice, targets], [explanation], concurrency_id="read")

        def on_upload(paths: list[str] | None, flt: str, request: gr.Request,
                      progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008 - Gradio's idiom
            pairs = [(p, Path(p).name) for p in (paths or [])]  # Gradio keeps the sent name as the basename
            report = web.upload(pairs, _username(request), lambda f, d: progress(f, desc=d), delete_sources=True)
            return (report, None, *documents_view(flt))

        # Index writers take a file lock anyway; one at a time here keeps the queue honest.
        add_button.click(_guarded(on_upload, 8), [files, doc_filter], [upload_report, files, *doc_outputs],
                         concurrency_limit=1, concurrency_id="write")

        def on_remove(ids: list[str] | None, flt: str, request: gr.Request) -> tuple[Any, ...]:
            return (web.remove(ids, _username(request)), *documents_view(flt))

        remove_button.click(_guarded(on_remove, 7), [remove_choice, doc_filter], [remove_report, *doc_outputs],
                            concurrency_limit=1, concurrency_id="write")

        def on_refresh(flt: str, request: gr.Request) -> list[Any]:
            web.allowed(_username(request), "upload")
            return documents_view(flt)

        refresh_button.click(_guarded(on_refresh, 6), [doc_filter], doc_outputs)
        doc_filter.submit(_guarded(on_refresh, 6), [doc_filter], doc_outputs)
    return app


@functools.lru_cache(maxsize=1)
def private_upload_dir() -> Path:
    """An owner-only (0700) folder for Gradio's upload cache, made once per process and
    named in GRADIO_TEMP_DIR before any Blocks exists: Gradio's default, /tmp/gradio, is
    shared, and uploads may hold patient data. Files are deleted once indexed."""
    path = Path(tempfile.mkdtemp(prefix="clinqa-uploads-"))  # mkdtemp: mode 0700
    os.environ["GRADIO_TEMP_DIR"] = str(path)
    return path


def guard_upload_route(server_app: Any, access: Access) -> None:
    """Refuse (403) Gradio's file-upload route to users whose role may not upload.

    Gradio only checks that a user is logged in before storing files, so a clinician could
    place files in the upload cache. The check wraps the whole ASGI app (Starlette calls
    `middleware_stack`), reads the same login cookie Gradio does, and writes a "refused"
    audit row for each refused attempt."""
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse

    inner = server_app.middleware_stack or server_app.build_middleware_stack()

    async def guarded(scope: dict, receive: Callable, send: Callable) -> None:
        if scope.get("type") == "http" and scope.get("method") == "POST" and scope.get("path", "").endswith("/upload"):
            cookies = Request(scope).cookies
            token = (cookies.get(f"access-token-{server_app.cookie_id}")
                     or cookies.get(f"access-token-unsecure-{server_app.cookie_id}"))
            username = server_app.tokens.get(token) if token else None
            principal = access.principal(username)
            if principal is None or not principal.can("upload"):
                who = f"role {principal.role}" if principal else "not logged in"
                access.record("refused", username, detail=f"upload: {who} may not upload (upload route)")
                response = PlainTextResponse("your role may not upload documents", status_code=403)
                await response(scope, receive, send)
                return
        await inner(scope, receive, send)

    server_app.middleware_stack = guarded


def launch(app: gr.Blocks, config: ServeConfig, access: Access | None = None, block: bool = True) -> str:
    """Serve `app`; returns the local URL (and blocks until Ctrl-C when `block`)."""
    access = access or Access()
    app.queue(default_concurrency_limit=config.concurrency, max_size=config.queue_size)
    _, url, _ = app.launch(
        server_name=config.host,
        server_port=config.port,
        auth=access.authenticate if access.required else None,
        auth_message="clinqa: log in with the account an admin created for you (clinqa user add).",
        share=False,
        inbrowser=False,
        prevent_thread_lock=True,
        show_error=False,
        quiet=True,
        max_file_size=config.max_upload_bytes,
        ssr_mode=False,
        mcp_server=False,
        pwa=False,
        enable_monitoring=False,
        footer_links=[],
        theme=theme(),
        css=CSS,
    )
    if access.required:
        app.server_app.tokens = access.gradio_tokens()
        guard_upload_route(app.server_app, access)
    log.info("clinqa web UI on %s (%s)", url, "accounts required" if access.required else "local, no login")
    if block:
        app.block_thread()
    return url
