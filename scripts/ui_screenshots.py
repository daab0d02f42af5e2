"""Take the README screenshots of the web UI (docs/screenshots/ask.png, documents.png).

    python scripts/ui_screenshots.py [--index DIR] [--reader DIR] [--question Q]

Uses the index at --index (default: /tmp/work/medquad-index when it holds one, else a small
index of the bundled MedQuAD documents about glaucoma, built in a temporary folder) and the
shipped reader in models/reader-mpnet; without a shipped reader it falls back to a tiny random
reader with the threshold at 0 (so the answer spans are arbitrary: rerun once models/reader-mpnet
exists). The server runs on 127.0.0.1 and Chromium's requests off this machine are aborted.
"""
from __future__ import annotations

import argparse
import gzip
import json
import socket
import sys
import tempfile
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common.cliparse import parse_args  # noqa: E402
from common.env import set_offline_defaults  # noqa: E402

set_offline_defaults()

DEFAULT_INDEX = Path("/tmp/work/medquad-index")
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run"]


def small_index(folder: Path, keyword: str = "glaucoma", limit: int = 40) -> Path:
    from common.paths import BUNDLED_CORPUS
    from ui.cli import main

    src = folder / "docs.jsonl"
    with gzip.open(BUNDLED_CORPUS, "rt", encoding="utf-8") as fh, src.open("w") as out:
        n = 0
        for line in fh:
            if keyword in json.loads(line)["title"].lower():
                out.write(line)
                n += 1
                if n == limit:
                    break
    if main(["-q", "index", "build", "--index", str(folder / "index"), str(src)]) != 0:
        sys.exit("could not build the small index")
    return folder / "index"


def main() -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path)
    parser.add_argument("--reader", help="reader model directory (default: models/reader-mpnet, else a tiny random one)")
    parser.add_argument("--question", default="Who is at risk for glaucoma?")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parse_args(parser)

    from playwright.sync_api import sync_playwright

    from pipeline.engine import EngineConfig, QAEngine
    from reader.config import DEFAULT_MODEL_DIR, ReaderConfig
    from ui.web import ServeConfig, build_app, launch

    tmp = Path(tempfile.mkdtemp(prefix="clinqa-shots-"))
    index = args.index or (DEFAULT_INDEX if (DEFAULT_INDEX / "manifest.json").is_file() else small_index(tmp))
    if args.reader:
        reader = ReaderConfig(model=args.reader)
    elif (DEFAULT_MODEL_DIR / "config.json").is_file():
        reader = ReaderConfig()
    else:
        from reader.testing import make_tiny_qa_model

        print("no shipped reader in models/reader-mpnet: using a tiny random one (arbitrary spans)", file=sys.stderr)
        reader = ReaderConfig(model=str(make_tiny_qa_model(tmp / "reader")), backend="torch", no_answer_threshold=0.0)
    engine = QAEngine(EngineConfig(index_dir=index, reader=reader)).warm_up()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = ServeConfig(index_dir=index, port=port)
    app = build_app(engine, config)
    url = launch(app, config, block=False)
    args.out.mkdir(parents=True, exist_ok=True)
    off_host: list[str] = []

    def route(r) -> None:
        if urlsplit(r.request.url).hostname in ("127.0.0.1", "localhost") or r.request.url.startswith(("data:", "blob:")):
            r.continue_()
        else:
            off_host.append(r.request.url)
            r.abort()

    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.set_default_timeout(180_000)
            page.route("**/*", route)
            page.goto(url)
            page.fill("#question textarea", args.question)
            page.click("#ask-button")
            page.wait_for_selector("#answers [data-state]")
            first_why = page.locator("#answers .cq-why summary").first
            if first_why.count():
                first_why.click()
                page.click("#explain-button")
                page.wait_for_selector("#explanation [data-state=explanation]")
            page.screenshot(path=str(args.out / "ask.png"), full_page=True)
            page.get_by_role("tab", name="Documents").click()
            page.wait_for_selector("#index-info [data-state=index-info]")
            page.wait_for_function("document.querySelector('#doc-caption').innerText.includes('document')")
            page.screenshot(path=str(args.out / "documents.png"), full_page=True)
            browser.close()
    finally:
        app.close()
        engine.close()
    if off_host:
        print(f"warning: the page tried to reach {off_host}", file=sys.stderr)
        return 1
    print(f"wrote {args.out / 'ask.png'} and {args.out / 'documents.png'} (index {index})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
