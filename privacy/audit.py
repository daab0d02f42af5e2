"""Append-only audit trail: who asked, searched, uploaded, removed, logged in, managed users, exported.

`AuditLog.record` always scrubs the detail text before it is stored, so a question typed
with a patient's name or MRN never reaches the table. There is no update or delete API,
the ORM refuses updates and deletes of audit rows, and on SQLite and PostgreSQL a trigger
refuses them in the database too (other backends: grant the application INSERT and SELECT only).
"""
from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from privacy.db import AuditRow, SecurityDB, utcnow
from privacy.errors import PrivacyError
from privacy.scrub import Scrubber, default_scrubber

log = logging.getLogger(__name__)

# "refused": an attempt the user's role or session did not allow (detail: "<action>: <reason>");
# audit controls record access attempts, allowed or refused (HIPAA 164.312(b)).
ACTIONS = frozenset({
    "ask", "search", "upload", "remove", "login", "failed_login", "user_add", "user_remove", "role_change", "export",
    "refused",
})
EXPORT_FORMATS = ("csv", "jsonl")
@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    username: str | None
    action: str
    detail: str
    doc_ids: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "at": self.at.isoformat(), "user": self.username, "action": self.action,
                "detail": self.detail, "doc_ids": list(self.doc_ids)}


def _entry(row: AuditRow) -> AuditEntry:
    return AuditEntry(row.id, row.at, row.username, row.action, row.detail, tuple(row.doc_ids or ()))


# -- the log ---------------------------------------------------------------------------------
class AuditLog:
    """Record and read the audit trail. `scrubber` defaults to the process-wide one."""

    def __init__(self, db: SecurityDB, scrubber: "Scrubber | None" = None,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.db = db
        self._scrubber = scrubber
        self._clock = clock

    def _scrub(self, text: str) -> str:
        if self._scrubber is None:
            self._scrubber = default_scrubber()
        return self._scrubber.scrub(text)

    def record(self, action: str, user: str | None = None, detail: str = "",
               doc_ids: Sequence[str] = (), generated: bool = False) -> AuditEntry:
        """Append one entry; `detail` (the question, a reason) is scrubbed before it is stored.

        `generated=True`: the detail is text clinqa composed itself from no user input
        (e.g. "wrong password (5/5); locked until 2026-03-01T14:05:00+00:00"); it is stored
        as is, because scrubbing would mask the system's own timestamps as PHI dates."""
        if action not in ACTIONS:
            raise PrivacyError(f"unknown audit action {action!r}", f"use one of {', '.join(sorted(ACTIONS))}")
        row = AuditRow(at=self._clock(), username=user, action=action,
                       detail=detail if generated else self._scrub(detail),
                       doc_ids=[str(d) for d in doc_ids])
        with self.db.session() as s, s.begin():
            s.add(row)
        return _entry(row)

    def entries(self, since: datetime | None = None, until: datetime | None = None, user: str | None = None,
                action: str | None = None, limit: int | None = None) -> list[AuditEntry]:
        """Oldest first, filtered by time range [since, until), user and action."""
        q = select(AuditRow).order_by(AuditRow.at, AuditRow.id)
        if since is not None:
            q = q.where(AuditRow.at >= since)
        if until is not None:
            q = q.where(AuditRow.at < until)
        if user is not None:
            q = q.where(AuditRow.username == user)
        if action is not None:
            q = q.where(AuditRow.action == action)
        if limit is not None:
            q = q.limit(limit)
        with self.db.session() as s:
            return [_entry(r) for r in s.scalars(q)]

    def export(self, since: datetime | None = None, format: str = "jsonl", user: str | None = None) -> Iterator[str]:
        """Lines of CSV (with a header) or JSON Lines for entries at or after `since`.

        The export is itself audited (as `user`) before any line is produced.
        """
        if format not in EXPORT_FORMATS:
            raise PrivacyError(f"unknown export format {format!r}", f"use one of {', '.join(EXPORT_FORMATS)}")
        self.record("export", user=user, detail=f"format={format} since={since.isoformat() if since else 'all'}")
        entries = self.entries(since=since)
        return _csv_lines(entries) if format == "csv" else (json.dumps(e.to_dict()) + "\n" for e in entries)


_CSV_COLUMNS = ("id", "at", "user", "action", "detail", "doc_ids")


def _csv_cell(value: Any) -> str:
    text = "" if value is None else str(value)
    # Spreadsheets run cells starting with these as formulas (CSV injection): a typed
    # question such as "=HYPERLINK(...)" must stay text when an auditor opens the file.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _csv_row(values: Sequence[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow(values)
    return buf.getvalue()


def _csv_lines(entries: list[AuditEntry]) -> Iterator[str]:
    yield _csv_row(_CSV_COLUMNS)
    for e in entries:
        yield _csv_row([e.id, e.at.isoformat(), _csv_cell(e.username), e.action, _csv_cell(e.detail),
                        json.dumps(list(e.doc_ids))])
