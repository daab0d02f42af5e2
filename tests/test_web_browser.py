"""The web UI in a real browser: Chromium (Debian's /usr/bin/chromium) driven by Playwright
against `clinqa serve`'s app on 127.0.0.1, with every non-loopback request blocked.

Two servers share one tiny index: one whose reader threshold is 0 (a random tiny reader
then always answers) and one whose threshold is 1 (it never does: the no-answer state).
"""
from __future__ import annotations

import json
import socket
from pathlib import Path
from urllib.parse import urlsplit

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]
EVIL = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'
DOCS = [
    {"id": "gout", "title": "Gout", "source": "demo", "url": "https://example.org/gout", "license": "CC BY 4.0",
     "text": "Gout is caused by uric acid crystals in the joints. Colchicine and NSAIDs treat acute attacks."},
    {"id": "glaucoma", "title": "Glaucoma", "source": "eye",
     "text": "Glaucoma often has no symptoms at first. Later, side vision is slowly lost."},
    {"id": "evil", "title": f"Markup {EVIL}", "source": "demo", "url": "javascript:window.__xss=3",
     "text": f"This document carries markup: {EVIL}"},
]
TIMEOUT_MS = 60_000
PASSWORD = "correct horse battery"

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium: apt-get install -y chromium"),
]
sync_api = pytest.importorskip("playwright.sync_api", reason="needs the playwright Python package (pip install playwright)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _NoScrub:
    def scrub(self, text: str) -> str:
        return text


def _accounts(root: Path) -> str:
    """A security database with an admin and a clinician; returns its URL."""
    from privacy.accounts import AccountStore
    from privacy.audit import AuditLog
    from privacy.db import SecurityConfig, SecurityDB

    url = f"sqlite:///{root / 'security.db'}"
    db = SecurityDB(SecurityConfig(url)).open(create=True)
    store = AccountStore(db, AuditLog(db, _NoScrub()))
    store.add_user("ada", PASSWORD, role="admin")
    store.add_user("cli", PASSWORD, role="clinician")
    db.close()
    return url


@pytest.fixture(scope="module")
def servers(tmp_path_factory):
    """{"answer", "strict", "accounts"} -> URL: live servers on loopback, closed at the end."""
    from pipeline.engine import EngineConfig, QAEngine
    from reader.config import ReaderConfig
    from reader.testing import make_tiny_qa_model
    from ui.auth import Access
    from ui.cli import main
    from ui.web import ServeConfig, build_app, launch

    root = tmp_path_factory.mktemp("browser")
    src = root / "docs.jsonl"
    src.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    index_dir = root / "index"
    assert main(["-q", "index", "build", "--index", str(index_dir), str(src)]) == 0
    reader_dir = make_tiny_qa_model(root / "reader")
    apps, urls = [], {}
    try:
        security_url = _accounts(root)
        for name, threshold in (("answer", 0.0), ("strict", 1.0), ("accounts", 0.0)):
            reader = ReaderConfig(model=str(reader_dir), backend="torch", no_answer_threshold=threshold)
            engine = QAEngine(EngineConfig(index_dir=index_dir, reader=reader)).warm_up()
            config = ServeConfig(index_dir=index_dir, port=_free_port(), explain_steps=4)
            access = Access.for_index(index_dir, security_url, scrubber=_NoScrub()) if name == "accounts" else None
            app = build_app(engine, config, access)
            apps.append((app, engine))
            urls[name] = launch(app, config, access, block=False)
        yield urls
    finally:
        for app, engine in apps:
            app.close()
            engine.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    """A fresh page whose requests off this machine are aborted and recorded."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.off_host = []

    def route(r):
        url = r.request.url
        if url.startswith(("data:", "blob:")) or urlsplit(url).hostname in ("127.0.0.1", "localhost"):
            r.continue_()
        else:
            page.off_host.append(url)
            r.abort()

    page.route("**/*", route)
    yield page
    context.close()


def _open(page, url):
    page.goto(url)
    page.wait_for_selector("#question textarea")


def _ask(page, question):
    state = "() => { const e = document.querySelector('#answers [data-state]'); return e ? e.outerHTML : ''; }"
    before = page.evaluate(state)
    page.fill("#question textarea", question)
    page.click("#ask-button")
    # A new answer (the timings differ on every ask), not the one already on the page.
    page.wait_for_function(f"prev => {{ const now = ({state})(); return now !== '' && now !== prev; }}", arg=before)


def _tab(page, name):
    page.get_by_role("tab", name=name).click()


def test_page_renders_fully_offline(page, servers):
    _open(page, servers["answer"])
    # Not "networkidle": Gradio keeps a heartbeat stream open. Wait for the page load, the
    # fonts, and the documents tab that the page's load event fills in.
    page.wait_for_load_state("load")
    assert page.evaluate("document.fonts.ready.then(() => document.fonts.status)") == "loaded"
    _tab(page, "Documents")
    page.wait_for_selector("#index-info [data-state=index-info]")
    _tab(page, "Ask")
    notice = page.locator("#notice")
    assert "not a diagnosis" in notice.inner_text()
    assert notice.evaluate("e => getComputedStyle(e).borderLeftWidth") == "4px"  # our stylesheet applied
    assert page.get_by_role("button", name="What causes gout?").is_visible()
    font = page.locator(".gradio-container").first.evaluate("e => getComputedStyle(e).fontFamily")
    assert "ui-sans-serif" in font and "Inter" not in font
    assert page.off_host == [], f"the page tried to reach: {page.off_host}"


def test_example_question_gets_a_highlighted_answer_and_explanation(page, servers):
    _open(page, servers["answer"])
    page.get_by_role("button", name="What causes gout?").click()
    sync_api.expect(page.locator("#question textarea")).to_have_value("What causes gout?")
    page.click("#ask-button")
    first = page.locator('#answers .cq-answer[data-rank="1"]')
    first.locator("mark").wait_for()
    assert "confidence" in first.inner_text() and "CC BY 4.0" in first.inner_text()
    assert first.locator('a[href="https://example.org/gout"]').count() == 1
    first.locator("summary").click()
    assert "BM25 (keywords)" in first.locator(".cq-why").inner_text()
    page.click("#explain-button")
    page.wait_for_selector("#explanation .cq-tok-ans")
    assert page.off_host == []


def test_nonsense_gets_the_no_answer_state(page, servers):
    _open(page, servers["strict"])
    _ask(page, "colourless green ideas sleep furiously")
    text = page.locator("#answers").inner_text()
    assert page.locator('#answers [data-state="no-answer"]').count() == 1
    assert "No confident answer" in text and page.locator("#answers mark").count() == 0


def test_markup_in_documents_and_questions_is_shown_not_run(page, servers):
    _open(page, servers["strict"])  # its no-answer state lists every passage of the tiny index
    _ask(page, f"{EVIL} markup")
    assert EVIL in page.locator("#answers").inner_text()
    assert page.locator("#answers img, #answers script, #answers a[href^=javascript]").count() == 0
    assert page.evaluate("window.__xss") is None


def test_upload_ask_then_remove(page, servers, tmp_path):
    doc = tmp_path / "zorblax.txt"
    doc.write_text("Zorblax syndrome is treated with quintafenib tablets twice a day.")
    _open(page, servers["answer"])
    _tab(page, "Documents")
    page.wait_for_selector("#index-info [data-state=index-info]")
    page.set_input_files("#upload input[type=file]", str(doc))
    page.locator("#upload").get_by_text("zorblax.txt").first.wait_for()
    page.click("#add-button")
    report = page.locator("#upload-report [data-state=upload-report]")
    report.wait_for()
    assert "1 added" in report.inner_text()
    page.get_by_text("file:zorblax.txt").first.wait_for()  # listed

    _tab(page, "Ask")
    page.click("#settings")
    page.get_by_label("bm25").check()
    _ask(page, "How is zorblax syndrome treated?")
    assert "quintafenib" in page.locator('#answers .cq-answer[data-rank="1"]').inner_text()

    _tab(page, "Documents")
    page.click("#remove-choice input")
    page.get_by_role("option", name="(file:zorblax.txt)").click()
    page.click("#remove-button")
    page.wait_for_selector("#remove-report .cq-message")
    assert "Removed 1 document(s): file:zorblax.txt" in page.locator("#remove-report").inner_text()
    page.wait_for_function("!document.querySelector('#doc-table').innerText.includes('zorblax')")

    _tab(page, "Ask")
    _ask(page, "zorblax quintafenib")  # only the removed document had these words (keyword mode)
    assert page.locator('#answers [data-state="no-hits"][data-reason="no_keyword_match"]').count() == 1
    text = page.locator("#answers").inner_text()
    assert "quintafenib" not in text and "hybrid or dense" in text
    assert page.off_host == []


def test_accounts_login_and_documents_page_for_admins_only(page, servers):
    page.goto(servers["accounts"])
    page.get_by_label("username").fill("cli")
    page.get_by_label("password").fill("wrong password!")
    page.get_by_role("button", name="Login").click()
    page.get_by_text("Incorrect credentials").wait_for()
    for user, role, tabs in (("cli", "clinician", 0), ("ada", "admin", 1)):
        page.context.clear_cookies()
        page.goto(servers["accounts"])
        page.get_by_label("username").fill(user)
        page.get_by_label("password").fill(PASSWORD)
        page.get_by_role("button", name="Login").click()
        page.wait_for_selector("#who .cq-meta")
        assert f"Signed in as {user} ({role})" in page.locator("#who").inner_text()
        assert page.get_by_role("tab", name="Documents").count() == tabs
        _ask(page, "What causes gout?")
        assert page.locator("#answers mark").count() >= 1
    assert page.off_host == []
