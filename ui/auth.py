"""Who may use the web UI and what they may do, on top of `privacy` (accounts, sessions, audit).

Two modes:
  * accounts: the security database (`sqlite:///<index dir>/security.db` by default) has
    users. Gradio's login page calls `Access.authenticate` (AccountStore: Argon2id,
    lockout, audited); its login tokens are backed by a `privacy.accounts.SessionManager`
    so idle sessions expire; roles are re-read from the database on every action, so a
    role change or removal made with `clinqa user ...` applies at once.
  * local: no users configured. Only allowed on a loopback address (enforced by
    `check_binding`): whoever can reach 127.0.0.1 already runs as the index's owner, so the
    single local user gets the admin role. Nothing is audited in this mode because there
    is no security database to write to (`clinqa user add` creates it).
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from common.errors import HintedError
from privacy.accounts import AccountStore, SessionConfig, SessionManager
from privacy.audit import AuditLog
from privacy.db import SecurityConfig, SecurityDB
from privacy.roles import PERMISSIONS

log = logging.getLogger(__name__)

ADD_USER_HINT = "add an admin first: clinqa user add NAME --role admin --index {index}"
LOCAL_USER = "local"


class ServeError(HintedError):
    """A problem the person starting `clinqa serve` can fix; carries a hint."""


@dataclass(frozen=True)
class Principal:
    username: str
    role: str  # "clinician" or "admin" (privacy.roles.ROLES)

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


class Access:
    """Authentication, authorisation and audit for the web UI (see the module docstring)."""

    def __init__(self, accounts: Any = None, audit: Any = None, sessions: Any = None, db: Any = None) -> None:
        self.accounts = accounts  # privacy.accounts.AccountStore, or None in local mode
        self.audit = audit  # privacy.audit.AuditLog, or None in local mode
        self.sessions = sessions  # privacy.accounts.SessionManager
        self._db = db

    @classmethod
    def for_index(cls, index_dir: Path, security_url: str | None = None, idle_minutes: float = 15.0,
                  scrubber: Any = None) -> "Access":
        """Accounts mode if the security database exists and has users, else local mode.
        `scrubber`: what the audit trail scrubs details with (default: the Presidio one)."""
        config = SecurityConfig(security_url) if security_url else SecurityConfig.for_index(index_dir)
        url = make_url(config.url)
        if url.get_backend_name() == "sqlite" and url.database and not Path(url.database).exists():
            # Nobody has been added yet (`clinqa user add` creates the file). Any other failure
            # to open the database is raised, never taken as "no accounts".
            log.info("no security database at %s: local single-user mode", url.database)
            return cls()
        db = SecurityDB(config).open(create=False)
        audit = AuditLog(db, scrubber)
        accounts = AccountStore(db, audit)
        if not accounts.list_users():
            db.close()
            return cls()
        return cls(accounts, audit, SessionManager(SessionConfig(idle_minutes=idle_minutes)), db)

    @property
    def required(self) -> bool:
        return self.accounts is not None

    def authenticate(self, username: str, password: str) -> bool:
        """Gradio's `auth=` callable (AccountStore audits success and failure)."""
        return self.accounts is not None and self.accounts.authenticate(username, password) is not None

    def principal(self, username: str | None) -> Principal | None:
        """The user behind a request (None: not logged in or no longer exists)."""
        if self.accounts is None:
            return Principal(LOCAL_USER, "admin")
        if not username:
            return None
        user = self.accounts.get(username)
        return None if user is None else Principal(user.username, user.role)

    def record(self, action: str, user: str | None, detail: str = "", doc_ids: Sequence[str] = ()) -> None:
        if self.audit is not None:
            self.audit.record(action, user=user, detail=detail, doc_ids=doc_ids)

    def gradio_tokens(self) -> dict[str, str]:
        """A replacement for Gradio's login-token table whose entries expire when idle."""
        return SessionTokens(self)

    def close(self) -> None:
        if self._db is not None:
            self._db.close()


class SessionTokens(dict):
    """Gradio's `App.tokens` (login cookie -> username), backed by a SessionManager.

    Gradio keeps a token forever; here each token maps to a privacy session, every lookup
    restarts its idle timer, and an expired or revoked session reads as "not logged in",
    so Gradio shows its login page again. Gradio uses get / [] / in / del / keys.

    Another user's expired session must never break a request: Gradio's logout walks
    `keys()` and reads `tokens[t]` for each, so listing drops expired entries, `[]` of an
    expired token reads as None (no user) instead of raising, and deleting an entry that
    is already gone is a no-op.
    """

    def __init__(self, access: Access) -> None:
        super().__init__()
        self._access = access

    def __setitem__(self, token: str, username: str) -> None:
        user = self._access.accounts.get(username)
        if user is not None:  # removed between login and now: stay logged out
            super().__setitem__(token, self._access.sessions.create(user))

    def get(self, token: Any, default: Any = None) -> Any:
        username = self._user(token, extend=True)
        return default if username is None else username

    def _user(self, token: Any, extend: bool) -> str | None:
        """The token's user; `extend` restarts the idle timer (a request by that user)."""
        session_token = super().get(token)
        if session_token is None:
            return None
        sessions = self._access.sessions
        info = sessions.touch(session_token) if extend else sessions.validate(session_token)
        if info is None:
            super().pop(token, None)
            return None
        return info.username

    def __getitem__(self, token: str) -> str | None:  # type: ignore[override]
        if not super().__contains__(token):
            raise KeyError(token)  # never issued: a programming error, as for a dict
        # Issued but expired or revoked: None, i.e. nobody. Reading while walking the table
        # (logout) is not a request by that user, so the idle timer is left alone.
        return self._user(token, extend=False)

    def __contains__(self, token: object) -> bool:
        return self.get(token) is not None

    def __delitem__(self, token: str) -> None:
        session_token = super().pop(token, None)
        if session_token is not None:
            self._access.sessions.revoke(session_token)

    def _live(self) -> list[str]:
        """Tokens whose session is still valid; expired ones are dropped on the way."""
        return [t for t in list(super().keys()) if self._user(t, extend=False) is not None]

    def keys(self) -> list[str]:  # type: ignore[override]
        return self._live()

    def __iter__(self):  # type: ignore[override]
        return iter(self._live())

    def __len__(self) -> int:
        return len(self._live())

    def items(self) -> list[tuple[str, str]]:  # type: ignore[override]
        return [(t, u) for t in list(super().keys()) if (u := self._user(t, extend=False)) is not None]

    def values(self) -> list[str]:  # type: ignore[override]
        return [u for _, u in self.items()]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_binding(host: str, access: Access, index_dir: Path) -> None:
    """Refuse to listen beyond this machine without accounts."""
    if not is_loopback(host) and not access.required:
        raise ServeError(
            f"refusing to serve on {host}: binding to a non-loopback address requires authentication, "
            "and no users are configured",
            ADD_USER_HINT.format(index=index_dir) + f", then run clinqa serve --host {host} again "
            "(or leave --host at 127.0.0.1 for local use without accounts)",
        )
