"""User accounts (Argon2id hashes, roles, lockout) and login sessions with idle expiry.

Roles: `clinician` may ask and search; `admin` may also upload/remove documents, manage
users and export the audit trail. After `max_failed_attempts` wrong passwords in a row an
account is locked for `lockout_minutes`; every failed login is audited.
"""
from __future__ import annotations

import hashlib
import logging
import re
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from privacy.audit import AuditLog
from privacy.db import SecurityDB, UserRow, utcnow
from privacy.errors import PrivacyError
from privacy.roles import PERMISSIONS, ROLES

log = logging.getLogger(__name__)

_USERNAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{1,63}")


@dataclass(frozen=True)
class User:
    """A user as the application sees it (never carries the password hash)."""

    username: str
    role: str
    created_at: datetime
    failed_attempts: int
    locked_until: datetime | None
    last_login: datetime | None

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS[self.role]

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def _user(row: UserRow) -> User:
    return User(row.username, row.role, row.created_at, row.failed_attempts, row.locked_until, row.last_login)


@dataclass(frozen=True)
class AccountConfig:
    max_failed_attempts: int = 5
    lockout_minutes: float = 15.0
    min_password_length: int = 12

    def __post_init__(self) -> None:
        if self.max_failed_attempts < 1 or self.lockout_minutes <= 0:
            raise PrivacyError("max_failed_attempts must be >= 1 and lockout_minutes > 0",
                               "use the defaults (5 attempts, 15 minutes) unless policy says otherwise")
        if self.min_password_length < 8:
            raise PrivacyError(f"min_password_length {self.min_password_length} is too short",
                               "use at least 8 characters (12, the default, is better)")


def _check_role(role: str) -> None:
    if role not in ROLES:
        raise PrivacyError(f"unknown role {role!r}", f"use one of: {', '.join(ROLES)}")


class AccountStore:
    """Users in the security database. Every change and every login attempt is audited."""

    def __init__(self, db: SecurityDB, audit: AuditLog, config: AccountConfig | None = None,
                 clock: Callable[[], datetime] = utcnow, hasher: PasswordHasher | None = None) -> None:
        self.db = db
        self.audit = audit
        self.config = config or AccountConfig()
        self._clock = clock
        # argon2-cffi's defaults: Argon2id, RFC 9106 low-memory profile (64 MiB, t=3, p=4).
        self._hasher = hasher or PasswordHasher()
        self._dummy_hash: str | None = None

    # -- management -------------------------------------------------------------------
    def add_user(self, username: str, password: str, role: str = "clinician", actor: str | None = None) -> User:
        if not _USERNAME.fullmatch(username):
            raise PrivacyError(f"invalid username {username!r}",
                               "use 2-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit")
        _check_role(role)
        self._check_password(password)
        with self.db.session() as s, s.begin():
            if s.scalar(select(UserRow).where(UserRow.username == username)) is not None:
                raise PrivacyError(f"user {username!r} already exists",
                                   "choose another name, or change the role with `clinqa user set-role`")
            row = UserRow(username=username, password_hash=self._hasher.hash(password), role=role,
                          created_at=self._clock(), failed_attempts=0)
            s.add(row)
        self.audit.record("user_add", user=actor, detail=f"added {username} as {role}")
        log.info("user %s added with role %s", username, role)
        return _user(row)

    def remove_user(self, username: str, actor: str | None = None) -> None:
        with self.db.session() as s, s.begin():
            row = self._row(s, username)
            if row.role == "admin" and self._admin_count(s) == 1:
                raise PrivacyError(f"{username!r} is the last admin",
                                   "make another user admin first (clinqa user set-role NAME admin)")
            s.delete(row)
        self.audit.record("user_remove", user=actor, detail=f"removed {username}")
        log.info("user %s removed", username)

    def set_role(self, username: str, role: str, actor: str | None = None) -> User:
        _check_role(role)
        with self.db.session() as s, s.begin():
            row = self._row(s, username)
            old = row.role
            if old == "admin" and role != "admin" and self._admin_count(s) == 1:
                raise PrivacyError(f"{username!r} is the last admin", "make another user admin first")
            row.role = role
        self.audit.record("role_change", user=actor, detail=f"{username}: {old} -> {role}")
        return _user(row)

    def get(self, username: str) -> User | None:
        with self.db.session() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            return None if row is None else _user(row)

    def list_users(self) -> list[User]:
        with self.db.session() as s:
            return [_user(r) for r in s.scalars(select(UserRow).order_by(UserRow.username))]

    # -- login --------------------------------------------------------------------------
    def authenticate(self, username: str, password: str) -> User | None:
        """The user if the password is right and the account is not locked, else None."""
        now = self._clock()
        with self.db.session() as s, s.begin():
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            if row is None:
                # Spend the same time as a real check so response time does not reveal which
                # names exist; do not store the typed name (it may be a mistyped password).
                self._verify(self._dummy(), password)
                outcome, detail = None, "unknown username"
            elif row.locked_until is not None and row.locked_until > now:
                outcome, detail = None, f"account locked until {row.locked_until.isoformat()}"
            elif not self._verify(row.password_hash, password):
                # Atomic increment: concurrent wrong guesses must all count.
                s.execute(update(UserRow).where(UserRow.id == row.id)
                          .values(failed_attempts=UserRow.failed_attempts + 1))
                s.refresh(row)
                detail = f"wrong password ({row.failed_attempts}/{self.config.max_failed_attempts})"
                if row.failed_attempts >= self.config.max_failed_attempts:
                    row.locked_until = now + timedelta(minutes=self.config.lockout_minutes)
                    row.failed_attempts = 0  # a fresh allowance once the lock expires
                    detail += f"; locked until {row.locked_until.isoformat()}"
                    log.warning("account %s locked after %d failed logins", username, self.config.max_failed_attempts)
                outcome = None
            else:
                if self._hasher.check_needs_rehash(row.password_hash):
                    row.password_hash = self._hasher.hash(password)
                row.failed_attempts, row.locked_until, row.last_login = 0, None, now
                outcome, detail = _user(row), ""
        if outcome is None:
            # Every detail above is composed here from counts and timestamps, never from input.
            self.audit.record("failed_login", user=username if row is not None else None, detail=detail, generated=True)
        else:
            self.audit.record("login", user=username)
        return outcome

    # -- helpers ------------------------------------------------------------------------
    def _check_password(self, password: str) -> None:
        if len(password) < self.config.min_password_length:
            raise PrivacyError(f"password too short (minimum {self.config.min_password_length} characters)",
                               "use a longer passphrase, e.g. four random words")

    def _verify(self, hash_: str, password: str) -> bool:
        try:
            return self._hasher.verify(hash_, password)
        except (VerificationError, InvalidHashError):
            return False

    def _dummy(self) -> str:
        if self._dummy_hash is None:
            self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))
        return self._dummy_hash

    @staticmethod
    def _row(s: Session, username: str) -> UserRow:
        row = s.scalar(select(UserRow).where(UserRow.username == username))
        if row is None:
            raise PrivacyError(f"no user named {username!r}", "list users with `clinqa user list`")
        return row

    @staticmethod
    def _admin_count(s: Session) -> int:
        return len(s.scalars(select(UserRow.id).where(UserRow.role == "admin")).all())


# -- sessions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SessionConfig:
    idle_minutes: float = 15.0
    # Even an active session ends after this long, so a stolen token cannot live forever.
    max_hours: float = 12.0

    def __post_init__(self) -> None:
        if self.idle_minutes <= 0 or self.max_hours <= 0:
            raise PrivacyError("session lifetimes must be positive", "use e.g. idle_minutes=15, max_hours=12")


@dataclass(frozen=True)
class SessionInfo:
    username: str
    role: str
    created_at: datetime
    last_seen: datetime


@dataclass
class _Session:
    info: SessionInfo
    last_seen: datetime


class SessionManager:
    """In-memory login sessions keyed by random tokens (a restart logs everyone out).

    Tokens are 256-bit `secrets.token_urlsafe`; only their SHA-256 is kept. A role change
    or removal done elsewhere (e.g. by the CLI in another process) is not seen here: the
    UI should re-read the user with `AccountStore.get` on privileged actions.
    """

    def __init__(self, config: SessionConfig | None = None, clock: Callable[[], datetime] = utcnow) -> None:
        self.config = config or SessionConfig()
        self._clock = clock
        self._sessions: dict[str, _Session] = {}
        self._lock = threading.Lock()

    def create(self, user: User) -> str:
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._lock:
            # Abandoned sessions are otherwise only dropped when their token comes back.
            for key in [k for k, v in self._sessions.items() if self._expired(v, now)]:
                del self._sessions[key]
            self._sessions[_digest(token)] = _Session(SessionInfo(user.username, user.role, now, now), now)
        return token

    def validate(self, token: str) -> SessionInfo | None:
        """The session if it is live, without extending it."""
        return self._lookup(token, extend=False)

    def touch(self, token: str) -> SessionInfo | None:
        """The session if it is live, and restart its idle timer (call on each user request)."""
        return self._lookup(token, extend=True)

    def revoke(self, token: str) -> bool:
        with self._lock:
            return self._sessions.pop(_digest(token), None) is not None

    def revoke_user(self, username: str) -> int:
        with self._lock:
            keys = [k for k, v in self._sessions.items() if v.info.username == username]
            for k in keys:
                del self._sessions[k]
        return len(keys)

    def _expired(self, sess: _Session, now: datetime) -> bool:
        return (now - sess.last_seen > timedelta(minutes=self.config.idle_minutes)
                or now - sess.info.created_at > timedelta(hours=self.config.max_hours))

    def _lookup(self, token: str, extend: bool) -> SessionInfo | None:
        now = self._clock()
        key = _digest(token)
        with self._lock:
            sess = self._sessions.get(key)
            if sess is None:
                return None
            if self._expired(sess, now):
                del self._sessions[key]
                return None
            if extend:
                sess.last_seen = now
            return SessionInfo(sess.info.username, sess.info.role, sess.info.created_at, sess.last_seen)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()
