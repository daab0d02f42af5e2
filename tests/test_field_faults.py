"""Issue 14: faults from the field, each tested for its kind (the reported case plus our own).

PHI scrubbing (1-2), documents kept as written (3, 5), retrieval parameters (7-8), new-user
friction (9), security and reliability (11-15). Loader-level cases (3, 4, 6 names, 9 BOM,
12) are in tests/test_loaders.py and tests/test_web_app.py; the embedding cache (10) in
tests/test_embcache.py.
"""
from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest

from ui.cli import main

REPO = Path(__file__).resolve().parents[1]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out, err


def write_jsonl(path: Path, records: list[dict | str]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n" for r in records),
                    encoding="utf-8")
    return path


# -- 1-2 PHI: eponyms and diseases are not names; doses are not dates; labelled ids with separators ----
@pytest.fixture(scope="module")
def scrubber():
    from privacy.scrub import Scrubber

    s = Scrubber()
    s.warm_up()
    return s


EPONYMOUS_DISEASES = [
    "Mother: Hodgkin lymphoma",  # reported
    "Graves Disease presents with weight loss",  # reported
    "Father: Parkinson's disease, diagnosed late",
    "Family history: Crohn's",
    "Sister: Down syndrome",
    "Brother: Kaposi sarcoma",
    "Patient: Burkitt cell lymphoma in remission",
    "Seen by neurology for Bell palsy",
    "Mother: Alzheimer's",
    "Father: Tourette",  # the shipped NER tags it; an eponym that is not a common surname
    "Sister: Turner syndrome",
    "Mother: Takotsubo cardiomyopathy",  # not in our lexicon: the shipped NER vetoes it
]
REAL_NAMES = [
    ("Patient: John Smith", "John Smith"),
    ("Patient: Wilson", "Wilson"),  # a surname that is also an eponym stays a name
    ("Dr. Parkinson saw her today", "Parkinson"),
    ("Call Dr. Parkinson's office", "Parkinson"),
    ("Patient: Turner's chart reviewed", "Turner"),  # a possessive surname that is also an eponym
    ("Patient: Turner", "Turner"),
    ("Patient: Amy Wilson", "Amy Wilson"),
    ("Pt Anna Bell presents with cough", "Anna Bell"),
    ("Mother: Mary Brown cell phone 555", "Mary Brown"),
    ("Patient: John Smith test results pending", "John Smith"),
]


@pytest.mark.integration
@pytest.mark.parametrize("text", EPONYMOUS_DISEASES)
def test_eponymous_diseases_are_not_person(scrubber, text):
    assert "PERSON" not in {s.entity_type for s in scrubber.find(text)}, scrubber.scrub(text)


@pytest.mark.integration
@pytest.mark.parametrize("text, name", REAL_NAMES)
def test_names_are_still_masked(scrubber, text, name):
    assert name not in scrubber.scrub(text) and "<PERSON>" in scrubber.scrub(text)


@pytest.mark.integration
@pytest.mark.parametrize("text, name, disease", [
    ("Patient Mary Graves has Graves disease.", "Mary Graves", "Graves disease"),
    ("Pt John Hodgkin, 54, treated for Hodgkin lymphoma; Mr Hodgkin tolerated it.", "John Hodgkin", "Hodgkin lymphoma"),
    ("Patient: Anna Crohn. Crohn disease flare, Anna Crohn admitted.", "Anna Crohn", "Crohn disease"),
])
def test_a_patient_named_like_their_disease_keeps_the_diagnosis(scrubber, text, name, disease):
    """A found name is searched for elsewhere in the note (propagation); the medical veto applies to
    those occurrences too, so the diagnosis that shares the surname is not masked."""
    out = scrubber.scrub(text)
    assert name not in out and "<PERSON>" in out and disease in out, out


@pytest.mark.unit
def test_lexicon_veto_without_a_model():
    from privacy.recognizers import medical_name_veto

    def veto(text, word):
        start = text.index(word)
        return medical_name_veto(text, start, start + len(word))

    assert veto("Mother: Hodgkin lymphoma", "Hodgkin")
    assert veto("Graves Disease presents", "Graves Disease")
    assert veto("history of Crohn's", "Crohn's")
    assert veto("Babinski sign positive", "Babinski")
    assert not veto("Patient: Wilson", "Wilson")
    assert not veto("Mother: Mary Brown cell phone", "Mary Brown")
    assert not veto("Mother: Mary Brown has disease", "Mary Brown")
    assert not veto("Patient: Turner's chart", "Turner's") and veto("Patient: Turner syndrome", "Turner")


@pytest.mark.integration
def test_guideline_without_patient_data_is_not_flagged(scrubber):
    from pipeline.deid import PhiCheck
    from store.types import Document

    text = ("Hodgkin lymphoma and Graves disease are named after physicians. Parkinson's disease "
            "and Crohn's disease are chronic. Give 4-8-12 units before meals; titrate 2-4-6 mg weekly.")
    check = PhiCheck(deidentify=True)
    check._find = scrubber.scrub_with_spans
    doc = check(Document(doc_id="g", title="Guideline", text=text))
    assert check.warning() is None and doc.text == text  # nothing flagged, nothing deleted


DOSES = [
    "give 4-8-12 units before meals",  # reported
    "Insulin 4-8-12 U with meals",
    "5-10-15 mL three times a day",
    "titrate 2/3/10 mg",
    "12/1/20 mg/kg",
    "take 1-2 tabs",
    "version 1.2.10 of the guideline",
]


@pytest.mark.integration
@pytest.mark.parametrize("text", DOSES)
def test_dose_schedules_are_not_dates(scrubber, text):
    assert scrubber.scrub(text) == text


LABELLED_IDS = [
    ("MRN: 0048-2913", "0048-2913"),  # reported
    ("MRN 00482913", "00482913"),
    ("NHS No: 943 476 5919", "943 476 5919"),
    ("member ID: XK-1234-5678", "XK-1234-5678"),
    ("Medical record number: 12.345.678", "12.345.678"),
    ("Acct # 4471/2290/11", "4471/2290/11"),
]


@pytest.mark.integration
@pytest.mark.parametrize("text, ident", LABELLED_IDS)
def test_labelled_identifiers_with_separators(scrubber, text, ident):
    out = scrubber.scrub(text)
    assert ident not in out and "<MRN>" in out


CLINICAL_DATES = [
    ("seen 03/04/2021 for review", "03/04/2021"),
    ("last colonoscopy 03/2021", "03/2021"),
    ("biopsy on 14.03.21", "14.03.21"),
    ("admitted 2021-03-04T10:00", "2021-03-04T10:00"),
    ("in Mar '21", "Mar '21"),
    ("March of 2021", "March of 2021"),
    ("12-MAR-2021", "12-MAR-2021"),
    ("on the 4th of March", "4th of March"),
]


@pytest.mark.integration
@pytest.mark.parametrize("text, date", CLINICAL_DATES)
def test_clinical_date_formats(scrubber, text, date):
    out = scrubber.scrub(text)
    assert date not in out and "<DATE>" in out


# -- 3 text as written, shown and answered as written -------------------------------------------
@pytest.fixture(scope="module")
def small_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("faults")
    src = write_jsonl(root / "docs.jsonl", [
        {"id": "neutro", "title": "Neutropenia \u2014 \u201csevere\u201d " + "with a long title " * 12,
         "text": "Severe neutropenia: neutrophils below 0.5 \u00d7 10\u2079/L. Platelets below 10 \u00d7 10\u2079/L need care."},
        {"id": "gout", "title": "Gout", "text": "Gout is caused by uric acid crystals in the joints."},
    ])
    idx = root / "index"
    assert main(["-q", "index", "build", "--no-annotate", "--index", str(idx), str(src)]) == 0
    return idx


@pytest.mark.integration
def test_text_and_titles_are_shown_as_written(small_index, capsys):
    code, out, _ = run(capsys, "search", "--index", str(small_index), "--json", "--mode", "bm25", "platelets below")
    hit = json.loads(out)["hits"][0]
    assert code == 0 and hit["doc_id"] == "neutro"
    assert "10 \u00d7 10\u2079/L" in hit["text"] and "109/L" not in hit["text"]
    assert hit["title"].startswith("Neutropenia \u2014 \u201csevere\u201d") and len(hit["title"]) > 200
    # matching still folds: a query typed with plain characters finds the superscript
    code, out, _ = run(capsys, "search", "--index", str(small_index), "--json", "--mode", "bm25", "neutropenia \"severe\" 109/L")
    assert json.loads(out)["hits"][0]["doc_id"] == "neutro"


# -- 5 skipped documents reported; exit status on failures ------------------------------------------
@pytest.mark.integration
def test_skipped_and_failed_documents_are_reported(tmp_path, capsys):
    src = write_jsonl(tmp_path / "docs.jsonl", [
        {"id": "a", "title": "A", "text": "Aspirin lowers fever."},
        {"id": "blank", "title": "Blank", "text": "   \n  "},  # reported: blank text
        {"id": "a", "title": "A again", "text": "A different text under a used id."},  # reported: duplicate
        {"id": "b", "title": "B", "text": "Beta blockers lower heart rate."},
    ])
    idx = tmp_path / "index"
    code, out, err = run(capsys, "-q", "index", "build", "--no-annotate", "--index", str(idx), str(src))
    assert code == 0  # skipped documents are reported, not failures
    assert "skipped: blank" in err and "empty text" in err
    assert "skipped: a" in err and "duplicate id" in err
    assert "2 added" in out and "2 skipped" in out and "0 failed" in out

    bad = write_jsonl(tmp_path / "more.jsonl", [{"id": "c", "text": "Calcium."}, "{not json", {"id": "", "text": "x"}])
    code, out, err = run(capsys, "-q", "index", "add", "--no-annotate", "--index", str(idx), "--json", str(bad), str(src))
    report = json.loads(out)
    assert code == 3  # something failed: non-zero, and the index still changed
    assert report["added"] == ["c"] and len(report["failed"]) == 2
    assert {f["line"] for f in report["failed"]} == {2, 3} and all(f["reason"] and f["hint"] for f in report["failed"])
    assert {(s["doc_id"], s["reason"].split(":")[0]) for s in report["skipped"]} == {
        ("blank", "empty text"), ("a", "duplicate id")}
    # each failure is reported once, in the JSON, not again as log lines
    assert err.count("invalid JSON") == 0


@pytest.mark.integration
def test_a_build_that_loads_nothing_names_every_input_and_why(tmp_path, capsys):
    """index build used to say only "1 file(s) failed to load" (index add named the file and the
    reason); and an add where every input failed changed nothing but exited 3 ("changed, but")."""
    notgz = tmp_path / "notgz.jsonl.gz"
    notgz.write_text("this is not gzip\n")
    blank = write_jsonl(tmp_path / "blank.jsonl", [{"id": "only", "title": "T", "text": ""}])
    idx = tmp_path / "index"
    code, out, err = run(capsys, "-q", "index", "build", "--no-annotate", "--index", str(idx), str(notgz), str(blank))
    assert code == 1 and "no documents to index" in err
    assert "failed: " + str(notgz) in err and "gzip" in err  # the file and the reason
    assert "skipped: only (" in err and "empty text" in err  # the skipped document by id
    ok = write_jsonl(tmp_path / "ok.jsonl", [{"id": "a", "text": "Aspirin lowers fever."}])
    assert run(capsys, "-q", "index", "build", "--no-annotate", "--index", str(idx), str(ok))[0] == 0
    code, out, err = run(capsys, "-q", "index", "add", "--no-annotate", "--index", str(idx), str(notgz))
    assert code == 1 and "failed: " + str(notgz) in err  # nothing changed: an error, not "partial"


# -- 7 every offered BM25 method finds documents containing the term ------------------------------
@pytest.mark.unit
@pytest.mark.parametrize("share", [1.0, 0.5, 0.75, 1 / 8])
def test_every_offered_bm25_method_finds_the_term(share):
    from indexer.bm25 import OFFERED_METHODS, BM25Config, TermIndex

    n = 8
    docs = [["common", f"w{i}"] if i < share * n else [f"w{i}", "other"] for i in range(n)]
    holding = {f"c{i}" for i in range(n) if "common" in docs[i]}
    for method in OFFERED_METHODS:
        index = TermIndex(BM25Config(method=method))
        index.build([f"c{i}" for i in range(n)], docs)
        found = [c for c, _ in index.search(["common"], k=n)]
        # every passage holding the term is found, and only those (bm25l/bm25+ used to return
        # the others too, with their non-occurrence score)
        assert set(found) == holding, method
        both = {c for c, _ in index.search(["common", "w0"], k=n)}
        assert both == holding | {"c0"}, method


@pytest.mark.unit
def test_methods_that_cannot_find_are_not_offered():
    from indexer.bm25 import OFFERED_METHODS, BM25Config, TermIndex
    from ui.cli import build_parser

    index = TermIndex(BM25Config(method="robertson"))
    index.build([f"c{i}" for i in range(4)], [["common", "x"], ["common", "y"], ["z"], ["w"]])
    assert index.search(["common"], k=4) == []  # the reported fault: idf <= 0 at half the passages
    assert "robertson" not in OFFERED_METHODS
    with pytest.raises(SystemExit):
        build_parser().parse_args(["index", "build", "--bm25-method", "robertson", "x.jsonl"])


# -- 8 passages longer than the encoder reads are embedded in windows -----------------------------
@pytest.mark.unit
def test_token_windows_cover_every_token():
    from indexer.dense import token_windows

    offsets = [(i * 2, i * 2 + 1) for i in range(10)]
    spans = token_windows(offsets, limit=4, overlap=1)
    assert spans[0] == (0, 7) and spans[-1][1] == 19
    assert token_windows(offsets[:3], 4, 1) == [(0, 5)]
    with pytest.raises(ValueError):
        token_windows(offsets, 4, 4)


@pytest.mark.integration
def test_fact_at_the_end_of_a_long_passage_is_found_by_dense_search(tmp_path, capsys):
    filler = ("The committee reviewed the general organisation of outpatient services, staffing, rotas, "
              "buildings and budgets for the coming year in considerable detail. ") * 12
    facts = {
        "zoster": "Shingles vaccination is recommended for adults over fifty.",
        "warfarin": "Vitamin K reverses the anticoagulant effect of warfarin.",
        "asthma": "Inhaled corticosteroids control airway inflammation in asthma.",
    }
    src = write_jsonl(tmp_path / "long.jsonl", [{"id": k, "title": "Minutes", "text": filler + v} for k, v in facts.items()])
    idx = tmp_path / "index"
    code, _, err = run(capsys, "-q", "index", "build", "--no-annotate", "--chunk-tokens", "600", "--chunk-overlap", "50",
                       "--index", str(idx), str(src))
    assert code == 0 and "embedded in overlapping windows" in err  # the user is told
    info = json.loads(run(capsys, "index", "info", "--json", "--index", str(idx))[1])
    assert info["manifest"]["counts"]["chunks"] == 3  # one long passage per document
    for doc_id, question in [("zoster", "shingles vaccine for older adults"), ("warfarin", "reverse warfarin with vitamin K"),
                             ("asthma", "inhaled steroids for asthma")]:
        code, out, _ = run(capsys, "search", "--index", str(idx), "--json", "--mode", "dense", "--top-k", "1", question)
        assert json.loads(out)["hits"][0]["doc_id"] == doc_id


# -- 9 new-user friction ---------------------------------------------------------------------------
@pytest.mark.integration
def test_quiet_build_prints_no_debug_lines_or_bars(tmp_path):
    src = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "text": "Aspirin lowers fever."}])
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-m", "ui.cli", "-q", "index", "build", "--no-annotate",
                           "--index", str(tmp_path / "i"), str(src)], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    noise = proc.stderr + proc.stdout
    assert "DEBUG" not in noise and "Building index" not in noise and "it/s]" not in noise and "%|" not in noise
    assert "passages per second (embedding only" in proc.stdout
    # Answering loads models: transformers' "Loading weights" bar must not print under the hits.
    env.pop("HF_HUB_DISABLE_PROGRESS_BARS", None)
    proc = subprocess.run([sys.executable, "-m", "ui.cli", "search", "--index", str(tmp_path / "i"), "--no-rerank",
                           "aspirin fever"], capture_output=True, text=True, env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "Aspirin" in proc.stdout and "Loading weights" not in proc.stderr and "%|" not in proc.stderr


@pytest.mark.integration
def test_empty_index_says_so(tmp_path, capsys):
    src = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "text": "Aspirin lowers fever."}])
    idx = tmp_path / "i"
    assert run(capsys, "-q", "index", "build", "--no-annotate", "--index", str(idx), str(src))[0] == 0
    assert run(capsys, "-q", "index", "remove", "--index", str(idx), "a")[0] == 0
    code, out, _ = run(capsys, "search", "--index", str(idx), "fever")
    assert code == 0 and "has no documents yet" in out and "clinqa index add" in out and "try other words" not in out


@pytest.mark.integration
def test_build_can_deidentify(tmp_path, capsys):
    src = write_jsonl(tmp_path / "d.jsonl", [{"id": "n", "text": "Patient: John Smith, MRN: 0048-2913, has gout."}])
    idx = tmp_path / "i"
    code, _, err = run(capsys, "-q", "index", "build", "--no-annotate", "--deidentify", "--index", str(idx), str(src))
    assert code == 0 and "de-identified 1 document" in err
    code, out, _ = run(capsys, "search", "--index", str(idx), "--json", "--mode", "bm25", "gout")
    text = json.loads(out)["hits"][0]["text"]
    assert "John Smith" not in text and "0048-2913" not in text and "gout" in text


# -- 15 small: BrokenPipe, idempotent remove ---------------------------------------------------------
@pytest.mark.integration
def test_info_piped_into_head_ends_quietly(small_index):
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(f"'{sys.executable}' -m ui.cli index info --json --index '{small_index}' | head -c 10",
                          shell=True, capture_output=True, text=True, env=env, timeout=300)
    assert "Traceback" not in proc.stderr and "BrokenPipeError" not in proc.stderr


@pytest.mark.unit
def test_broken_pipe_is_not_a_traceback(monkeypatch, capsys):
    import ui.cli as cli

    def explode(args):
        raise BrokenPipeError(32, "Broken pipe")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser.set_defaults(func=explode)
    assert cli.main([]) == 141
    assert "Traceback" not in capsys.readouterr().err


@pytest.mark.integration
def test_remove_is_idempotent(tmp_path, capsys):
    src = write_jsonl(tmp_path / "d.jsonl", [{"id": "a", "text": "Aspirin."}, {"id": "b", "text": "Beta."}])
    idx = tmp_path / "i"
    assert run(capsys, "-q", "index", "build", "--no-annotate", "--index", str(idx), str(src))[0] == 0
    assert run(capsys, "-q", "index", "remove", "--index", str(idx), "a")[0] == 0
    code, out, err = run(capsys, "-q", "index", "remove", "--index", str(idx), "a")  # already committed
    assert code == 0 and "not in the index" in err and "1 documents" in out


# -- 11 logout with other users' expired sessions ----------------------------------------------------
class _NoScrub:
    def scrub(self, text: str) -> str:
        return text


@pytest.fixture()
def access(tmp_path):
    from privacy.accounts import AccountStore
    from privacy.audit import AuditLog
    from privacy.db import SecurityConfig, SecurityDB
    from ui.auth import Access

    db = SecurityDB(SecurityConfig.for_index(tmp_path)).open(create=True)
    store = AccountStore(db, AuditLog(db, _NoScrub()))
    store.add_user("ada", "correct horse battery", role="admin")
    store.add_user("cli", "correct horse battery", role="clinician")
    store.add_user("bob", "correct horse battery", role="admin")
    db.close()
    a = Access.for_index(tmp_path, scrubber=_NoScrub())
    yield a
    a.close()


def gradio_logout(tokens, user):
    """What Gradio's /logout does with `app.tokens` (gradio/routes.py)."""
    for token in list(tokens.keys()):
        if tokens[token] == user:
            del tokens[token]


@pytest.mark.integration
def test_logout_survives_other_users_expired_sessions(access):
    from privacy.accounts import SessionConfig, SessionManager

    now = [datetime(2026, 1, 1, tzinfo=timezone.utc)]
    access.sessions = SessionManager(SessionConfig(idle_minutes=15), clock=lambda: now[0])
    tokens = access.gradio_tokens()
    tokens["old"] = "bob"  # bob goes idle
    now[0] += timedelta(minutes=10)
    tokens["mine"] = "ada"
    tokens["mine2"] = "ada"
    tokens["live"] = "cli"
    now[0] += timedelta(minutes=10)  # bob's session is now expired, the others are not
    gradio_logout(tokens, "ada")  # the reported 500: reading the expired entry raised
    assert tokens.get("mine") is None and tokens.get("mine2") is None and "mine" not in tokens
    assert tokens.get("live") == "cli" and "old" not in tokens
    del tokens["old"]  # already gone: no error
    # walking the table is not activity: it must not keep other sessions alive
    tokens["idle"] = "bob"
    now[0] += timedelta(minutes=10)
    gradio_logout(tokens, "cli")
    now[0] += timedelta(minutes=6)
    assert tokens.get("idle") is None


# -- 13 refused actions are audited ---------------------------------------------------------------------
@pytest.mark.integration
def test_refused_actions_leave_audit_rows(access, tmp_path):
    from ui.web import Refused, ServeConfig, WebApp

    web = WebApp(engine=None, config=ServeConfig(index_dir=tmp_path), access=access)
    with pytest.raises(Refused):
        web.upload([(tmp_path / "x.txt", "notes.txt")], "cli")
    with pytest.raises(Refused):
        web.remove(["file:guideline.pdf"], "cli")
    access.accounts.set_role("bob", "clinician", actor="ada")  # a demoted admin
    with pytest.raises(Refused):
        web.remove(["gout"], "bob")
    with pytest.raises(Refused):
        web.ask("gout?", 5, "hybrid", [], None)
    refused = access.audit.entries(action="refused")
    assert [(e.username, e.detail.split(":")[0]) for e in refused] == [
        ("cli", "upload"), ("cli", "remove"), ("bob", "remove"), (None, "ask")]
    assert "notes.txt" in refused[0].detail and refused[1].doc_ids == ("file:guideline.pdf",)


@pytest.mark.integration
def test_lockout_timestamps_are_kept_in_the_audit_trail(tmp_path):
    from privacy.accounts import AccountConfig, AccountStore
    from privacy.audit import AuditLog
    from privacy.db import SecurityConfig, SecurityDB
    from privacy.scrub import Scrubber

    db = SecurityDB(SecurityConfig.for_index(tmp_path)).open(create=True)
    try:
        audit = AuditLog(db, Scrubber())  # the real scrubber
        store = AccountStore(db, audit, AccountConfig(max_failed_attempts=1))
        store.add_user("ada", "correct horse battery", role="admin")
        assert store.authenticate("ada", "wrong") is None
        assert store.authenticate("ada", "correct horse battery") is None  # locked
        details = [e.detail for e in audit.entries(action="failed_login")]
        assert "<DATE>" not in " ".join(details) and all("locked until 20" in d for d in details)
        audit.record("ask", "ada", detail="seen 03/04/2021, MRN: 0048-2913")  # user text is still scrubbed
        assert audit.entries(action="ask")[-1].detail == "seen <DATE>, MRN: <MRN>"
    finally:
        db.close()


# -- 14 uploads: owner-only folder, deleted after indexing, role check on the upload route ----------------
@pytest.mark.unit
def test_upload_folder_is_private():
    from ui.web import private_upload_dir

    path = private_upload_dir()
    assert path.is_dir() and (path.stat().st_mode & 0o077) == 0
    assert os.environ["GRADIO_TEMP_DIR"] == str(path)


@pytest.mark.integration
def test_upload_route_refuses_roles_that_may_not_upload(access, tmp_path):
    import asyncio

    from ui.web import guard_upload_route

    class FakeApp:  # the parts of Gradio's App the guard reads
        cookie_id = "cid"
        middleware_stack = None

        def __init__(self, tokens):
            self.tokens = tokens
            self.reached = 0

        def build_middleware_stack(self):
            async def inner(scope, receive, send):
                self.reached += 1
                await send({"type": "http.response.start", "status": 200, "headers": []})
                await send({"type": "http.response.body", "body": b"[]"})
            return inner

    tokens = access.gradio_tokens()
    tokens["tc"] = "cli"
    tokens["ta"] = "ada"
    app = FakeApp(tokens)
    guard_upload_route(app, access)

    def post(path, cookie):
        sent = []
        scope = {"type": "http", "method": "POST", "path": path, "headers": [(b"cookie", cookie.encode())]}

        async def receive():
            return {"type": "http.request", "body": b""}

        async def send(message):
            sent.append(message)

        asyncio.run(app.middleware_stack(scope, receive, send))
        return sent[0]["status"]

    assert post("/gradio_api/upload", "access-token-cid=tc") == 403
    assert post("/gradio_api/upload", "") == 403
    assert app.reached == 0
    assert post("/gradio_api/upload", "access-token-unsecure-cid=ta") == 200
    assert post("/gradio_api/queue/join", "access-token-cid=tc") == 200  # other routes untouched
    refused = access.audit.entries(action="refused")
    assert [e.username for e in refused] == ["cli", None] and "upload route" in refused[0].detail


@pytest.mark.integration
def test_uploaded_files_are_deleted_after_indexing(tmp_path):
    from ui.web import ServeConfig, WebApp, _delete_upload

    folder = tmp_path / "gradio" / "abc123"
    folder.mkdir(parents=True)
    sent = folder / "notes.txt"
    sent.write_text("x")
    web = WebApp(engine=None, config=ServeConfig(index_dir=tmp_path / "missing"), access=None)
    web._upload = lambda files, username, progress: "report"  # indexing itself is tested in test_web_app
    assert web.upload([(sent, "notes.txt")], None, delete_sources=True) == "report"
    assert not sent.exists() and not folder.exists()

    def refuse(*_):
        raise RuntimeError("refused")

    folder.mkdir()
    sent.write_text("x")
    web._upload = refuse
    with pytest.raises(RuntimeError):
        web.upload([(sent, "notes.txt")], "cli", delete_sources=True)
    assert not sent.exists()  # deleted whatever happened
    _delete_upload(sent)  # already gone: no error


# -- 12 compressed input limits -------------------------------------------------------------------
@pytest.mark.integration
def test_one_huge_line_in_a_small_gz_is_refused_with_bounded_memory(tmp_path, capsys, monkeypatch):
    import tracemalloc

    import dataclasses

    import common.datasets.limits as limits
    import indexer.loaders as loaders

    assert limits.LIMITS.max_line_bytes == 50 << 20  # the default; smaller here to keep the test fast
    monkeypatch.setattr(limits, "LIMITS", dataclasses.replace(limits.LIMITS, max_line_bytes=1 << 20))
    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as fh:
        fh.write(b'{"id": "a", "text": "ok"}\n{"id": "b", "text": "')
        block = b"A" * (1 << 20)
        for _ in range(64):  # one 64 MB line in a file of a few hundred kB
            fh.write(block)
        fh.write(b'"}\n')
    assert path.stat().st_size < 1 << 20
    tracemalloc.start()
    report = loaders.load_documents([path])
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [d.doc_id for d in report.documents] == ["a"]
    [failure] = report.failures
    assert "bomb.jsonl.gz" in failure.path and "line 2 is longer than 1 MB" in failure.reason and failure.hint
    assert peak < 8 << 20  # bounded by the line limit, not by the 64 MB line
    code, _, err = run(capsys, "-q", "index", "build", "--no-annotate", "--index", str(tmp_path / "i"), str(path))
    assert code == 3 and "longer than 1 MB" in err and "bomb.jsonl.gz" in err


@pytest.mark.unit
def test_total_decompressed_size_is_limited(tmp_path, monkeypatch):
    import dataclasses

    import common.datasets.limits as limits
    import indexer.loaders as loaders

    monkeypatch.setattr(limits, "LIMITS", dataclasses.replace(limits.LIMITS, max_decompressed_bytes=200))
    path = tmp_path / "many.jsonl.gz"
    with gzip.open(path, "wt") as fh:
        for i in range(50):
            fh.write(json.dumps({"id": str(i), "text": "some text"}) + "\n")
    report = loaders.load_documents([path])
    assert 0 < len(report.documents) < 50
    assert "unpacks to more than" in report.failures[0].reason


@pytest.mark.unit
def test_embed_seconds_exclude_model_loading():
    from indexer.writer import ChangeReport

    r = ChangeReport("build", added=("a",), chunks_embedded=10, embed_seconds=0.5, seconds=9.0)
    assert "10 passages vectorised" in r.summary()
    assert np.isclose(r.chunks_embedded / r.embed_seconds, 20.0)
