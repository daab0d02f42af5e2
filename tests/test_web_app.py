"""The web UI without a browser: HTML rendering, upload checks, access rules, and the
actions behind the page (`ui.web.WebApp`) against a tiny real index and a tiny reader."""
from __future__ import annotations

import json
import re
import socket
import unicodedata
from pathlib import Path
from datetime import datetime, timedelta, timezone
from types import MappingProxyType

import pytest

from pipeline.engine import AskResult, RankedAnswer
from reader.types import Answer
from retriever.types import Hit
from store.types import Passage
from ui.auth import Access, Principal, ServeError, check_binding, is_loopback
from ui.render import (
    NOTICE,
    UploadRow,
    highlight,
    render_answer_html,
    render_error_html,
    render_explanation_html,
    render_upload_report,
    safe_url,
)
from ui.uploads import check_upload, safe_filename

EVIL = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def _passage(text: str, url: str | None = "https://example.org/gout", title: str = "Gout") -> Passage:
    return Passage("c1", "gout", 0, text, 0, len(text), title=title, url=url, source="demo <i>", license="CC BY 4.0")


def _result(text: str, start: int, end: int, confident: bool = True, **passage_kw) -> AskResult:
    p = _passage(text, **passage_kw)
    hit = Hit(p, 0.03, MappingProxyType({"bm25": 1}), MappingProxyType({"bm25": 2.5}))
    ans = Answer(text[start:end], 7.5, 0.83, p, start, end)
    return AskResult("q?", (RankedAnswer(ans, 0.86, 1.0, 1, calibration="MedQuAD"),), (hit,), confident, 0.5,
                     {"retrieve": 1.0, "read": 2.0, "total": 3.0})


# -- rendering -------------------------------------------------------------------------------
@pytest.mark.unit
def test_highlight_marks_the_span_and_escapes_everything():
    out = highlight("a <b>uric acid</b> & c", 3, 17)
    assert out == "a &lt;<mark>b&gt;uric acid&lt;/b</mark>&gt; &amp; c"
    assert highlight("abc", -5, 99) == "<mark>abc</mark>"


@pytest.mark.unit
@pytest.mark.parametrize("url,ok", [
    ("https://medlineplus.gov/gout.html", True), ("http://x.org/a", True),
    ("javascript:alert(1)", False), (" JAVASCRIPT:alert(1)", False), ("data:text/html,x", False),
    ("/relative", False), ("", False), (None, False),
])
def test_safe_url_allows_only_absolute_http(url, ok):
    assert (safe_url(url) is not None) is ok


@pytest.mark.unit
def test_answer_html_escapes_document_text_title_and_url():
    text = f"Gout is caused by uric acid crystals. {EVIL}"
    html = render_answer_html(_result(text, 18, 36, title=f"Gout {EVIL}", url="javascript:alert(1)"))
    assert "<img" not in html and "<script" not in html and "javascript:" not in html
    assert "&lt;img src=x onerror=" in html and "&lt;script&gt;" in html
    assert "<mark>uric acid crystals</mark>" in html
    # The confidence shown is the answer's probability (span and passage relevance together), not the
    # reader's span-only probability (0.83), which "why this answer" lists separately.
    assert "86% confidence" in html and "CC BY 4.0" in html and "demo &lt;i&gt;" in html
    assert "Answer probability" in html and "Reader probability (span alone)" in html
    assert "calibrated on our dev questions over MedQuAD pages" in html  # which calibration gave the probability
    assert "BM25 (keywords)" in html and "#1" in html and "not in this leg" in html  # why this answer


@pytest.mark.unit
def test_no_answer_state_shows_passages_not_a_guess():
    html = render_answer_html(_result("Some passage about gout.", 0, 4, confident=False))
    assert 'data-state="no-answer"' in html and "No confident answer" in html
    assert "Some passage about gout." in html and "<mark>" not in html
    assert 'href="https://example.org/gout"' in html


@pytest.mark.unit
def test_error_and_upload_report_are_escaped():
    assert "&lt;b&gt;" in render_error_html("bad <b>", "hint <b>") and "<b>" not in render_error_html("<b>", "<b>")
    report = render_upload_report([UploadRow("a.txt", "added", "1 document(s)"), UploadRow(EVIL, "failed", EVIL)])
    assert "1 added, 1 failed" in report and "<img" not in report


@pytest.mark.unit
def test_explanation_shades_tokens_and_underlines_the_answer():
    from reader.explain import Explanation, TokenWeight

    q, p = "why <b>?", "uric acid <i>"
    exp = Explanation([TokenWeight("why", 0, 3, 0.5)], [TokenWeight("uric", 0, 4, 1.0), TokenWeight("acid", 5, 9, -0.25)])
    html = render_explanation_html(exp, q, p, 0, 4)
    assert "rgba(22,163,74,1.00)" in html and "rgba(220,38,38,0.25)" in html
    assert 'class="cq-tok cq-tok-ans"' in html and "&lt;b&gt;" in html and "&lt;i&gt;" in html and "<i>" not in html


# -- uploads ------------------------------------------------------------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("sent,safe", [
    ("../../etc/passwd.txt", "passwd.txt"),
    ("C:\\Users\\me\\guideline.pdf", "guideline.pdf"),
    ("..\\..\\x.md", "x.md"),
    ("", "upload"),
    # issue 14.6: names in any script are kept as written, with their extension
    ("高血压指南.txt", "高血压指南.txt"),
    ("指南_2024.txt", "指南_2024.txt"),
    ("Ménière 2024.txt", None),
    ("<script>.html", None),
    (".bashrc", None),
    ("a" * 300 + ".pdf", None),
    ("疾病" * 100 + ".txt", None),
])
def test_safe_filename_keeps_a_safe_basename(sent, safe):
    from ui.uploads import MAX_NAME_BYTES

    got = safe_filename(sent)
    if safe is not None:
        assert got == safe
    else:  # changed: readable, safe, extension kept, tagged with a hash of the sent name
        assert re.fullmatch(r"[\w.\-]+", got) and not got.startswith(".") and len(got.encode()) <= MAX_NAME_BYTES
        assert re.search(r"-[0-9a-f]{8}(\.[a-z]+)?$", got)
        assert Path(got).suffix == (Path(sent).suffix if Path(sent).suffix != ".bashrc" else "")
        assert got[:3] == re.sub(r"[^\w]", "", sent)[:3] or sent.startswith("<")
    assert safe_filename(sent) == got  # stable


@pytest.mark.unit
def test_safe_filenames_never_collide():
    # The reported case: both became `2024.txt`, so the second upload replaced the first.
    names = ["指南_2024.txt", "药物_2024.txt", "a?b.txt", "a*b.txt", "a b.txt", "a_b.txt", "a/b.txt", "résumé.txt",
             "re\u0301sume\u0301.txt", "Ménière.pdf", "Meniere.pdf", "疾病" * 100 + ".txt", "疾病" * 101 + ".txt"]
    safe = [safe_filename(n) for n in names]
    assert safe[0] != safe[1] and safe[2] != safe[3] != safe[4]
    # distinct after Unicode composition (NFC: "é" typed two ways is one name) and path stripping ("a/b.txt" is "b.txt")
    distinct = {unicodedata.normalize("NFC", n.split("/")[-1]) for n in names}
    assert len(set(safe)) == len(distinct)


@pytest.mark.unit
def test_check_upload_matches_content_to_extension(tmp_path):
    def f(name: str, data: bytes):
        path = tmp_path / "blob"
        path.write_bytes(data)
        return check_upload(path, name, max_bytes=1000)

    assert f("ok.txt", "Gout is painful.".encode()).ok
    assert f("ok.pdf", b"%PDF-1.7 ...").ok
    assert f("ok.jsonl", b'{"id": "a", "text": "x"}\n\n{"id": "b", "text": "y"}\n').ok
    assert "not a PDF" in f("fake.pdf", b"MZ\x90\x00").reason
    assert "not UTF-8" in f("latin1.txt", "caf\xe9".encode("latin-1")).reason
    assert "line 2 is not valid JSON" in f("bad.jsonl", b'{"id": 1}\n{oops\n').reason
    assert "not a JSON object" in f("list.jsonl", b"[1, 2]\n").reason
    assert "unsupported file type '.exe'" in f("tool.exe", b"MZ").reason
    assert "limit is" in f("big.txt", b"x" * 1001).reason
    assert "empty" in f("empty.md", b"").reason
    assert f("../../evil.txt", b"hi").name == "evil.txt"


# -- access --------------------------------------------------------------------------------------
@pytest.mark.unit
def test_non_loopback_needs_accounts(tmp_path):
    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    check_binding("127.0.0.1", Access(), tmp_path)
    with pytest.raises(ServeError) as err:
        check_binding("0.0.0.0", Access(), tmp_path)
    assert "clinqa user add NAME --role admin" in err.value.hint


class _NoScrub:
    def scrub(self, text: str) -> str:
        return text


@pytest.mark.integration
def test_accounts_roles_audit_and_idle_sessions(tmp_path):
    from privacy.accounts import AccountStore, SessionConfig, SessionManager
    from privacy.audit import AuditLog
    from privacy.db import SecurityConfig, SecurityDB

    assert not Access.for_index(tmp_path).required  # no security.db: local mode
    db = SecurityDB(SecurityConfig.for_index(tmp_path)).open(create=True)
    store = AccountStore(db, AuditLog(db, _NoScrub()))
    store.add_user("ada", "correct horse battery", role="admin")
    store.add_user("cli", "correct horse battery", role="clinician")
    db.close()
    access = Access.for_index(tmp_path, scrubber=_NoScrub())
    try:
        assert access.required
        assert access.authenticate("ada", "correct horse battery") and not access.authenticate("ada", "wrong")
        assert access.principal("ada") == Principal("ada", "admin") and access.principal("cli").role == "clinician"
        assert access.principal(None) is None and access.principal("ghost") is None
        assert not access.principal("cli").can("upload") and access.principal("ada").can("remove")
        check_binding("0.0.0.0", access, tmp_path)

        now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
        access.sessions = SessionManager(SessionConfig(idle_minutes=15), clock=lambda: now[0])
        tokens = access.gradio_tokens()
        tokens["t1"] = "ada"
        now[0] += timedelta(minutes=10)
        assert tokens.get("t1") == "ada" and "t1" in tokens  # activity restarts the idle timer
        now[0] += timedelta(minutes=14)
        assert tokens["t1"] == "ada"
        now[0] += timedelta(minutes=16)
        assert tokens.get("t1") is None and "t1" not in tokens  # idle too long: logged out
        tokens["t2"] = "ada"
        del tokens["t2"]  # Gradio's /logout
        assert tokens.get("t2") is None
        access.record("ask", "ada", detail="what causes gout?", doc_ids=["gout"])
        actions = [e.action for e in access.audit.entries()]
        assert actions.count("login") == 1 and "failed_login" in actions and actions[-1] == "ask"
    finally:
        access.close()


# -- the actions behind the page --------------------------------------------------------------------
DOCS = [
    {"id": "gout", "title": "Gout", "source": "demo", "url": "https://example.org/gout", "license": "CC BY 4.0",
     "text": "Gout is caused by uric acid crystals in the joints. Colchicine and NSAIDs treat acute attacks."},
    {"id": "glaucoma", "title": "Glaucoma", "source": "eye",
     "text": "Glaucoma often has no symptoms at first. Later, side vision is slowly lost."},
    {"id": "evil", "title": "Markup test", "source": "demo", "text": f"This document carries markup: {EVIL}"},
]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """(index dir, reader dir): a 3-document index and a random tiny QA model."""
    from reader.testing import make_tiny_qa_model
    from ui.cli import main

    root = tmp_path_factory.mktemp("web")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    assert main(["-q", "index", "build", "--index", str(root / "index"), str(src)]) == 0
    return root / "index", make_tiny_qa_model(root / "reader")


def _web(index_dir, reader_dir, threshold: float, access: Access | None = None):
    from pipeline.engine import EngineConfig, QAEngine
    from reader.config import ReaderConfig
    from ui.web import ServeConfig, WebApp

    reader = ReaderConfig(model=str(reader_dir), backend="torch", no_answer_threshold=threshold)
    engine = QAEngine(EngineConfig(index_dir=index_dir, reader=reader)).warm_up()
    return WebApp(engine, ServeConfig(index_dir=index_dir, explain_steps=4), access)


@pytest.mark.integration
def test_web_actions_ask_explain_upload_remove(tiny, tmp_path):
    index_dir, reader_dir = tiny
    web = _web(index_dir, reader_dir, threshold=0.0)
    try:
        html, targets = web.ask("What causes gout?", 5, "hybrid", [], None)
        assert 'data-state="answers"' in html and "<mark>" in html and len(targets) >= 1
        assert 'data-state="explanation"' in web.explain(targets[0], None) and "cq-tok" in web.explain(targets[0], None)
        assert "Ask a question first" in web.explain(None, None)
        html, targets = web.ask("side vision", 3, "bm25", ["eye"], None)
        assert "Glaucoma" in html and "Gout" not in html  # the source filter reaches the engine
        html, targets = web.ask("   ", 5, "hybrid", [], None)
        assert 'data-state="error"' in html and "empty" in html and targets == []

        good = tmp_path / "zorblax.txt"
        good.write_text("Zorblax syndrome is treated with quintafenib tablets.")
        fake = tmp_path / "fake.pdf"
        fake.write_bytes(b"not a pdf")
        report = web.upload([(good, "../../zorblax.txt"), (fake, "scan.pdf")], None)
        assert "1 added, 1 failed" in report and "not a PDF" in report
        html, _ = web.ask("How is zorblax syndrome treated?", 1, "bm25", [], None)
        assert "quintafenib" in html  # searchable at once
        rows, caption = web.documents("zorblax")
        assert [r[4] for r in rows] == ["file:zorblax.txt"] and caption == "1 document(s)"
        assert "unchanged" in web.upload([(good, "zorblax.txt")], None)
        assert "Removed 1 document(s): file:zorblax.txt" in web.remove(["file:zorblax.txt"], None)
        html, _ = web.ask("zorblax quintafenib", 3, "bm25", [], None)
        assert 'data-state="no-hits"' in html and "quintafenib" not in html  # no word left to match
        assert web.documents("zorblax")[0] == []
    finally:
        web.engine.close()


@pytest.mark.integration
def test_uploads_with_non_latin_names_never_replace_each_other(tiny, tmp_path):
    # Issue 14.6: "指南_2024.txt" and "药物_2024.txt" both became file:2024.txt (the second
    # replaced the first), and "高血压指南.txt" was refused as "(no extension)".
    index_dir, reader_dir = tiny
    web = _web(index_dir, reader_dir, threshold=0.0)
    try:
        files = []
        for i, name in enumerate(["指南_2024.txt", "药物_2024.txt", "高血压指南.txt", "a?b.txt", "a*b.txt"]):
            path = tmp_path / f"upload{i}.txt"
            path.write_text(f"Zelmorin document number {i} about quorvatide.", encoding="utf-8")
            files.append((path, name))
        report = web.upload(files, None)
        assert "<p>5 added</p>" in report
        ids = {r[4] for r in web.documents("")[0] if r[4].startswith("file:")}
        assert {"file:指南_2024.txt", "file:药物_2024.txt", "file:高血压指南.txt"} <= ids
        assert len([i for i in ids if i.startswith("file:a_b-")]) == 2
        dup = tmp_path / "dup.txt"
        dup.write_text("Another text.", encoding="utf-8")
        report = web.upload([(dup, "same.txt"), (files[0][0], "same.txt")], None)
        assert "same name" in report
        web.remove(sorted(i for i in ids if i not in ("file:zorblax.txt",)) + ["file:same.txt"], None)
    finally:
        web.engine.close()


@pytest.mark.integration
def test_web_no_answer_and_roles(tiny):
    from ui.web import Refused

    class ClinicianOnly(Access):
        def principal(self, username):
            return Principal(username, "clinician") if username else None

    index_dir, reader_dir = tiny
    web = _web(index_dir, reader_dir, threshold=1.0, access=ClinicianOnly(accounts=object()))
    try:
        html, targets = web.ask("colourless green ideas sleep furiously", 5, "hybrid", [], "cli")
        assert 'data-state="no-answer"' in html and targets == [] and "The closest passages" in html
        with pytest.raises(Refused, match="may not upload"):
            web.upload([], "cli")
        with pytest.raises(Refused, match="may not remove"):
            web.remove(["gout"], "cli")
        with pytest.raises(Refused, match="not logged in"):
            web.ask("gout", 5, "hybrid", [], None)
    finally:
        web.engine.close()


# -- issue 14: why nothing was found ---------------------------------------------------------------
@pytest.mark.unit
def test_a_result_without_passages_says_why_and_never_shows_a_verdict_or_passages():
    from pipeline.engine import EmptyResult
    from tasks.verdict import Verdict

    empty = EmptyResult("filters", "No passage passes the filters (source: eye, entity: <b>).",
                        "without them this question finds 2 passage(s)", ("source: eye", "entity: <b>"), 2)
    verdict = Verdict("yes", 0.9, False, "", {"yes": 0.9}, ())  # a stale verdict must not be shown
    result = AskResult("q?", (), (), False, 0.5, {"retrieve": 1.0, "total": 1.0}, question_type="yesno",
                       verdict=verdict, empty=empty)
    html = render_answer_html(result)
    assert 'data-state="no-hits"' in html and 'data-reason="filters"' in html
    assert "(source: eye, entity: &lt;b&gt;)" in html and "<b>" not in html
    assert "Without them this question finds 2 passage(s)" in html
    assert "closest passages" not in html.lower() and 'data-state="verdict"' not in html and "cq-passage" not in html


@pytest.fixture()
def web_tiny(tiny):
    web = _web(*tiny, threshold=0.0)
    yield web
    web.engine.close()


@pytest.mark.integration
def test_filters_that_exclude_everything_are_named_and_tried_without(web_tiny):
    html, targets = web_tiny.ask("side vision", 3, "hybrid", ["eye"], None, entities="zorbloxamide")
    assert 'data-state="no-hits"' in html and 'data-reason="filters"' in html and targets == []
    assert "No passage passes the filters (source: eye, entity: zorbloxamide)." in html
    assert "Without them this question finds" in html and "Glaucoma" in html  # the re-run without filters
    assert "closest passages" not in html.lower()


@pytest.mark.integration
def test_keyword_mode_without_a_matching_word_suggests_hybrid_or_dense(web_tiny):
    html, _ = web_tiny.ask("qwzxv plorkish", 3, "bm25", [], None)
    assert 'data-reason="no_keyword_match"' in html and "hybrid or dense" in html
    html, _ = web_tiny.ask("qwzxv plorkish", 3, "dense", [], None)  # meaning-based modes still find passages
    assert 'data-state="no-hits"' not in html


@pytest.mark.integration
def test_no_yes_no_verdict_from_zero_passages(web_tiny, monkeypatch):
    class NeverCalled:
        def predict(self, question, texts):
            raise AssertionError("the yes/no model must not judge 0 passages")

    monkeypatch.setattr(web_tiny.engine, "_yesno", NeverCalled())
    result = web_tiny.engine.ask("Is qwzxv safe in pregnancy?", top_k=3, mode="bm25", question_type="yesno")
    assert result.hits == () and result.verdict is None and not result.confident
    assert result.to_dict()["empty"]["reason"] == "no_keyword_match"
    html, _ = web_tiny.ask("Is qwzxv safe in pregnancy?", 3, "bm25", [], None)
    assert 'data-state="verdict"' not in html and 'data-state="no-hits"' in html


@pytest.mark.integration
def test_an_empty_index_says_it_has_no_documents_and_how_to_add_some(tiny, tmp_path):
    from ui.cli import main

    src = tmp_path / "one.jsonl"
    src.write_text(json.dumps({"id": "a", "text": "Aspirin lowers fever."}) + "\n")
    index_dir = tmp_path / "index"
    assert main(["-q", "index", "build", "--no-annotate", "--index", str(index_dir), str(src)]) == 0
    assert main(["-q", "index", "remove", "--index", str(index_dir), "a"]) == 0
    web = _web(index_dir, tiny[1], threshold=0.0)
    try:
        html, _ = web.ask("fever", 3, "hybrid", [], None)
        assert 'data-reason="empty_index"' in html and "This index has no documents yet" in html
        assert "clinqa index add" in html and "Documents page" in html
    finally:
        web.engine.close()


@pytest.mark.unit
def test_notice_says_not_a_diagnosis():
    assert "not a diagnosis" in NOTICE


# -- clinqa serve ---------------------------------------------------------------------------------
@pytest.mark.integration
def test_serve_refuses_an_open_address_without_users(tiny, capsys):
    from ui.cli import main

    index_dir, _ = tiny
    assert main(["serve", "--index", str(index_dir), "--host", "0.0.0.0"]) == 1
    err = capsys.readouterr().err
    assert "requires authentication" in err and "clinqa user add NAME --role admin" in err


@pytest.mark.integration
def test_serve_loads_models_once_and_serves_on_loopback(tiny, capsys, monkeypatch):
    import gradio as gr

    from ui.cli import main

    served = {}

    def stop_at_once(app):  # instead of waiting for Ctrl-C
        served["running"] = app.is_running
        app.close()

    monkeypatch.setattr(gr.Blocks, "block_thread", stop_at_once)
    index_dir, reader_dir = tiny
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    argv = ["serve", "--index", str(index_dir), "--port", str(port), "--reader", str(reader_dir), "--backend", "torch"]
    assert main(argv) == 0
    err = capsys.readouterr().err
    assert served == {"running": True}
    assert f"http://127.0.0.1:{port}/" in err and "local use, no login" in err and "[torch]" in err


@pytest.mark.unit
def test_upload_rows_report_partial_failures():
    from indexer.loaders import LoadFailure
    from indexer.writer import ChangeReport
    from ui.web import _upload_row

    bad = LoadFailure("x.jsonl", "missing id", 'each line needs "id" and "text"', line=3)
    assert _upload_row("x.jsonl", ChangeReport("add", added=("a",), failures=(bad,))).detail == (
        '1 document(s): a; 1 part(s) failed, first: missing id (line 3); each line needs "id" and "text"')
    assert _upload_row("x.jsonl", ChangeReport("add", failures=(bad,))).status == "failed"
    assert _upload_row("x.txt", ChangeReport("add", unchanged=("file:x.txt",))).status == "unchanged"
    assert _upload_row("scan.pdf", ChangeReport("add")).status == "skipped"
