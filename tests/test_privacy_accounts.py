"""Accounts and sessions: Argon2 hashes, lockout after N failures, roles, idle expiry with a fake clock."""
import os
import stat
from datetime import datetime, timedelta, timezone

import pytest
from argon2 import PasswordHasher

from privacy import PrivacyError
from privacy.accounts import AccountConfig, AccountStore, SessionConfig, SessionManager, UserRow
from privacy.audit import AuditLog
from privacy.db import SecurityConfig, SecurityDB

pytestmark = pytest.mark.unit

PASSWORD = "correct horse battery staple"


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, 8, 0, tzinfo=timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw: float) -> None:
        self.now += timedelta(**kw)


class Upper:
    """Stands in for the PHI scrubber: these tests are about accounts, not detection."""

    def scrub(self, text: str) -> str:
        return text


@pytest.fixture()
def clock():
    return Clock()


@pytest.fixture()
def db(tmp_path):
    db = SecurityDB(SecurityConfig.for_index(tmp_path)).open(create=True)
    yield db
    db.close()


@pytest.fixture()
def accounts(db, clock):
    # Cheap Argon2 parameters keep the suite fast; the default hasher is checked separately.
    fast = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1)
    return AccountStore(db, AuditLog(db, scrubber=Upper(), clock=clock), AccountConfig(max_failed_attempts=3,
                        lockout_minutes=15), clock=clock, hasher=fast)


def test_security_db_is_owner_only_at_index_top_level(tmp_path, db):
    path = tmp_path / "security.db"
    assert db.config.url == f"sqlite:///{path.resolve()}"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_password_stored_as_argon2id_hash_never_plaintext(db, clock):
    store = AccountStore(db, AuditLog(db, scrubber=Upper()), clock=clock)  # default hasher
    store.add_user("alice", PASSWORD, role="admin")
    with db.session() as s:
        row = s.query(UserRow).one()
    assert row.password_hash.startswith("$argon2id$") and PASSWORD not in row.password_hash
    assert store.authenticate("alice", PASSWORD).username == "alice"


def test_lockout_after_n_failures_then_expiry(accounts, clock):
    accounts.add_user("bob", PASSWORD)
    for _ in range(3):
        assert accounts.authenticate("bob", "wrong password!") is None
    assert accounts.get("bob").locked_until == clock.now + timedelta(minutes=15)
    assert accounts.authenticate("bob", PASSWORD) is None  # locked: even the right password fails
    clock.advance(minutes=16)
    user = accounts.authenticate("bob", PASSWORD)
    assert user is not None and user.failed_attempts == 0 and user.last_login == clock.now
    failed = accounts.audit.entries(action="failed_login")
    assert len(failed) == 4 and all(e.username == "bob" for e in failed)
    assert "locked" in failed[2].detail and "locked" in failed[3].detail


def test_success_resets_the_failure_count(accounts):
    accounts.add_user("carol", PASSWORD)
    accounts.authenticate("carol", "nope nope nope")
    accounts.authenticate("carol", "nope nope nope")
    assert accounts.authenticate("carol", PASSWORD) is not None
    accounts.authenticate("carol", "nope nope nope")
    accounts.authenticate("carol", "nope nope nope")
    assert accounts.get("carol").locked_until is None


def test_unknown_user_is_audited_without_the_typed_name(accounts):
    assert accounts.authenticate("Tr0ub4dor&3", "x") is None
    [entry] = accounts.audit.entries(action="failed_login")
    assert entry.username is None and "Tr0ub4dor" not in entry.detail


def test_roles_and_user_management(accounts):
    admin = accounts.add_user("root1", PASSWORD, role="admin", actor="setup")
    clin = accounts.add_user("dana", PASSWORD)
    assert admin.can("manage_users") and admin.can("ask") and admin.is_admin
    assert clin.can("ask") and clin.can("search") and not clin.can("upload") and not clin.can("manage_users")
    with pytest.raises(PrivacyError, match="last admin"):
        accounts.set_role("root1", "clinician")
    with pytest.raises(PrivacyError, match="last admin"):
        accounts.remove_user("root1")
    assert accounts.set_role("dana", "admin").role == "admin"
    accounts.remove_user("root1", actor="dana")
    assert [u.username for u in accounts.list_users()] == ["dana"]
    with pytest.raises(PrivacyError, match="already exists"):
        accounts.add_user("dana", PASSWORD)
    with pytest.raises(PrivacyError, match="unknown role"):
        accounts.add_user("erin", PASSWORD, role="nurse")
    with pytest.raises(PrivacyError, match="too short"):
        accounts.add_user("erin", "short")
    with pytest.raises(PrivacyError, match="invalid username"):
        accounts.add_user("bad name", PASSWORD)
    actions = [e.action for e in accounts.audit.entries()]
    assert actions == ["user_add", "user_add", "role_change", "user_remove"]


def test_session_idle_expiry_touch_and_revoke(accounts, clock):
    user = accounts.add_user("fay", PASSWORD)
    sessions = SessionManager(SessionConfig(idle_minutes=15, max_hours=1), clock=clock)
    token = sessions.create(user)
    assert len(token) >= 40 and sessions.validate(token).username == "fay"
    clock.advance(minutes=10)
    assert sessions.touch(token) is not None  # activity restarts the idle timer
    clock.advance(minutes=10)
    assert sessions.validate(token) is not None
    clock.advance(minutes=6)  # 16 minutes idle
    assert sessions.validate(token) is None and sessions.touch(token) is None
    t2 = sessions.create(user)
    for _ in range(5):  # active all along, but the absolute limit still ends it
        clock.advance(minutes=14)
        sessions.touch(t2)
    assert sessions.validate(t2) is None
    t3, t4 = sessions.create(user), sessions.create(user)
    assert sessions.revoke(t3) and not sessions.revoke(t3) and sessions.validate(t3) is None
    assert sessions.revoke_user("fay") == 1 and sessions.validate(t4) is None
    assert sessions.validate("forged-token") is None


def test_secure_dir_and_file_modes(tmp_path):
    from privacy.fs import secure_dir, secure_file

    d = secure_dir(tmp_path / "a" / "b")
    f = secure_file(d / "x.db")
    assert stat.S_IMODE(os.stat(d).st_mode) == 0o700 and stat.S_IMODE(os.stat(f).st_mode) == 0o600
    os.chmod(f, 0o644)
    assert stat.S_IMODE(os.stat(secure_file(f)).st_mode) == 0o600  # an existing file is tightened
