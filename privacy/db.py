"""The security database: users and the audit trail, apart from the document store.

It has its own declarative Base and its own database because the document database lives
inside an index generation that is swapped on every rebuild; accounts and the audit trail
must outlive those swaps, so the default is `sqlite:///<index dir>/security.db` at the
index directory's top level. Any SQLAlchemy URL works; nothing here is SQLite-only
except the optional append-only trigger, which is guarded by dialect.

The schema (users, audit_log, the append-only guards) lives here, below `privacy.accounts`
and `privacy.audit`, which hold the logic over it: opening the database needs every table,
and the tables need nothing from the logic.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import DDL, JSON, DateTime, Integer, String, Text, create_engine, event
from sqlalchemy.engine import Dialect, Engine, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, ORMExecuteState, Session, mapped_column, sessionmaker
from sqlalchemy.types import TypeDecorator

from privacy.errors import PrivacyError
from privacy.fs import secure_dir, secure_file

log = logging.getLogger(__name__)

SECURITY_DB_NAME = "security.db"


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes on every backend: SQLite drops the zone, so store naive UTC, read aware."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise PrivacyError("naive datetime given to the security database", "pass an aware datetime (UTC)")
        return value.astimezone(timezone.utc).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=timezone.utc)


class Base(DeclarativeBase):
    pass


# -- the schema: every table of the security database, so open(create=True) makes them all ----
class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64), unique=True, index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_login: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


_APPEND_ONLY = "audit_log is append-only"


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    username: Mapped[str | None] = mapped_column(String(128), nullable=True, index=True)
    action: Mapped[str] = mapped_column(String(32), index=True)
    detail: Mapped[str] = mapped_column(Text, default="")
    doc_ids: Mapped[list[str]] = mapped_column(JSON, default=list)


# -- append-only, three layers ----------------------------------------------------------
def _refuse_change(*_: Any) -> None:
    raise PrivacyError(_APPEND_ONLY, "audit entries cannot be changed or deleted; record a new entry instead")


event.listen(AuditRow, "before_update", _refuse_change)
event.listen(AuditRow, "before_delete", _refuse_change)

for _ddl in (
    "CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, '%s'); END" % _APPEND_ONLY,
    "CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, '%s'); END" % _APPEND_ONLY,
):
    event.listen(AuditRow.__table__, "after_create", DDL(_ddl).execute_if(dialect="sqlite"))
for _ddl in (
    "CREATE OR REPLACE FUNCTION clinqa_audit_append_only() RETURNS trigger AS $$ "
    "BEGIN RAISE EXCEPTION '%s'; END; $$ LANGUAGE plpgsql" % _APPEND_ONLY,
    "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
    "FOR EACH ROW EXECUTE FUNCTION clinqa_audit_append_only()",
    "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
    "FOR EACH STATEMENT EXECUTE FUNCTION clinqa_audit_append_only()",
):
    event.listen(AuditRow.__table__, "after_create", DDL(_ddl).execute_if(dialect="postgresql"))


def guard_append_only(sessions: sessionmaker[Session]) -> None:
    """Refuse ORM bulk `update(AuditRow)` / `delete(AuditRow)`, which skip the mapper events."""

    def check(state: ORMExecuteState) -> None:
        if (state.is_update or state.is_delete) and any(m.class_ is AuditRow for m in state.all_mappers):
            _refuse_change()

    event.listen(sessions, "do_orm_execute", check)




@dataclass(frozen=True)
class SecurityConfig:
    """Where users and the audit trail live: any SQLAlchemy URL."""

    url: str

    def __post_init__(self) -> None:
        try:
            make_url(self.url)
        except ArgumentError as exc:
            raise PrivacyError(
                f"invalid security database URL {self.url!r}",
                "give an SQLAlchemy URL such as sqlite:///INDEX_DIR/security.db or postgresql+psycopg://user@host/db",
            ) from exc

    @classmethod
    def for_index(cls, index_dir: str | os.PathLike[str]) -> "SecurityConfig":
        """The default: security.db at the top of the index directory (beside the generations)."""
        return cls(f"sqlite:///{Path(index_dir).resolve() / SECURITY_DB_NAME}")


class SecurityDB:
    """Engine and sessions for the security tables. `open(create=True)` makes the tables."""

    def __init__(self, config: SecurityConfig) -> None:
        self.config = config
        self._engine: Engine | None = None
        self._sessions: sessionmaker[Session] | None = None

    def open(self, create: bool = False) -> "SecurityDB":
        url = make_url(self.config.url)
        if url.get_backend_name() == "sqlite" and url.database and url.database != ":memory:":
            path = Path(url.database)
            if not path.exists() and not create:
                raise PrivacyError(f"no security database at {path}",
                                   "create it by adding the first user: clinqa user add NAME --role admin")
            if not path.parent.exists():
                secure_dir(path.parent)
            # Password hashes and the audit trail: owner-only before SQLite first writes to it.
            # SQLite gives its journal and WAL files the database file's permissions.
            secure_file(path)
        try:
            engine = create_engine(self.config.url)
            if create:
                Base.metadata.create_all(engine)
        except SQLAlchemyError as exc:
            raise PrivacyError(
                f"cannot open the security database {url.render_as_string(hide_password=True)}: {exc.__class__.__name__}",
                "check the URL, that the server is running and that you may write there",
            ) from exc
        self._engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        guard_append_only(self._sessions)
        return self

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise PrivacyError("the security database is not open", "call SecurityDB.open() first")
        return self._engine

    def session(self) -> Session:
        if self._sessions is None:
            raise PrivacyError("the security database is not open", "call SecurityDB.open() first")
        return self._sessions()

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
        self._engine = None
        self._sessions = None

    def __enter__(self) -> "SecurityDB":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
