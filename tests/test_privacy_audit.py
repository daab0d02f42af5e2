"""Audit trail: scrubbed before storage, append-only at every layer, CSV/JSONL export with --since."""
import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, select, text, update

from privacy import PrivacyError, default_scrubber
from privacy.audit import AuditLog, AuditRow
from privacy.db import SecurityConfig, SecurityDB

pytestmark = pytest.mark.unit

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=timezone.utc)


@pytest.fixture()
def db(tmp_path):
    db = SecurityDB(SecurityConfig.for_index(tmp_path)).open(create=True)
    yield db
    db.close()


@pytest.fixture()
def audit(db):
    times = iter(T0 + timedelta(hours=h) for h in range(100))
    return AuditLog(db, scrubber=default_scrubber(), clock=lambda: next(times))


def test_raw_identifier_in_a_question_never_reaches_the_table(db, audit):
    q = "Pt John Smith MRN 00123456 DOB 03/14/1952 call 555-123-4567: max dose of apixaban?"
    entry = audit.record("ask", user="drx", detail=q, doc_ids=["medquad:1", "medquad:2"])
    assert entry.detail == "Pt <PERSON> MRN <MRN> DOB <DATE> call <PHONE>: max dose of apixaban?"
    with db.engine.connect() as c:
        raw = " ".join(str(v) for row in c.execute(text("SELECT * FROM audit_log")) for v in row)
    for identifier in ("John", "Smith", "00123456", "03/14/1952", "555-123-4567"):
        assert identifier not in raw
    assert audit.entries()[0].doc_ids == ("medquad:1", "medquad:2")


def test_unknown_action_refused(audit):
    with pytest.raises(PrivacyError, match="unknown audit action"):
        audit.record("delete_everything")


def test_updates_and_deletes_are_refused_at_every_layer(db, audit):
    audit.record("search", user="drx", detail="gout")
    with db.session() as s:  # ORM unit of work
        s.scalar(select(AuditRow)).detail = "changed"
        with pytest.raises(PrivacyError, match="append-only"):
            s.commit()
    with db.session() as s:
        s.delete(s.scalar(select(AuditRow)))
        with pytest.raises(PrivacyError, match="append-only"):
            s.commit()
    for stmt in (update(AuditRow).values(detail="x"), delete(AuditRow)):  # ORM bulk statements
        with db.session() as s, pytest.raises(PrivacyError, match="append-only"):
            s.execute(stmt)
    for sql in ("UPDATE audit_log SET detail = 'x'", "DELETE FROM audit_log"):  # raw SQL: SQLite trigger
        with pytest.raises(Exception, match="append-only"), db.engine.begin() as c:
            c.execute(text(sql))
    assert [e.detail for e in audit.entries()] == ["gout"]


def test_export_csv_and_jsonl_since(audit):
    audit.record("login", user="drx")                                   # T0
    audit.record("ask", user="drx", detail="=cmd|' /C calc'!A0")         # T0+1h, a formula injection attempt
    audit.record("upload", user="admin1", detail="guideline", doc_ids=["file:g.pdf"])  # T0+2h
    since = T0 + timedelta(minutes=30)
    lines = list(audit.export(since=since, format="jsonl", user="auditor"))  # the export is recorded at T0+3h
    rows = [json.loads(line) for line in lines]
    assert [r["action"] for r in rows] == ["ask", "upload", "export"]
    assert rows[1]["doc_ids"] == ["file:g.pdf"] and rows[2]["user"] == "auditor"
    assert rows[0]["at"] == (T0 + timedelta(hours=1)).isoformat()
    table = list(csv.DictReader(io.StringIO("".join(audit.export(since=since, format="csv")))))
    assert [r["action"] for r in table] == ["ask", "upload", "export", "export"]
    assert table[0]["detail"].startswith("'=")  # neutralised for spreadsheets
    with pytest.raises(PrivacyError, match="format"):
        audit.export(format="xml")
