"""`clinqa scrub`, `clinqa user ...` and `clinqa audit export`: argument adders and handlers.

The command registry in `ui/cli.py` lists each `add_*_args(parser)` with its `cmd_*(args)`;
every handler returns an exit code and raises `PrivacyError(message, hint)` for problems the
user can fix. Importing this module is cheap: Presidio is imported when text is scrubbed.
"""
from __future__ import annotations

import argparse
import getpass
import json
import os
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from common.paths import default_index_dir
from privacy.accounts import AccountStore
from privacy.audit import AuditLog
from privacy.db import SecurityConfig, SecurityDB
from privacy.errors import PrivacyError
from privacy.fs import secure_file
from privacy.roles import ROLES
from privacy.scrub import ScrubConfig, Scrubber


def _actor() -> str:
    """Who ran a CLI command, for the audit trail (the OS account; the CLI has no login)."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def _open(args: argparse.Namespace, create: bool) -> tuple[Any, Any, Any]:
    config = SecurityConfig(args.security_db) if args.security_db else SecurityConfig.for_index(args.index)
    db = SecurityDB(config).open(create=create)
    audit = AuditLog(db)
    return db, audit, AccountStore(db, audit)


# -- scrub ---------------------------------------------------------------------------
def cmd_scrub(args: argparse.Namespace) -> int:
    text = sys.stdin.read()
    scrubbed, spans = Scrubber(ScrubConfig(score_threshold=args.threshold)).scrub_with_spans(text)
    if args.json:
        # Offsets and types only: echoing the identifiers would defeat the point.
        print(json.dumps({"text": scrubbed, "spans": [s.to_dict() for s in spans]}, indent=2))
    else:
        sys.stdout.write(scrubbed)
    return 0


# -- users ---------------------------------------------------------------------------------
def _read_password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        if not sys.stdin.isatty():
            raise PrivacyError("no terminal to ask for the password",
                               "pipe it in with --password-stdin (e.g. from a secrets manager)")
        password = getpass.getpass(f"password for {args.username}: ")
        if getpass.getpass("again: ") != password:
            raise PrivacyError("the passwords differ", "run the command again and type the same password twice")
    return password


def cmd_user_add(args: argparse.Namespace) -> int:
    password = _read_password(args)
    db, _, accounts = _open(args, create=True)
    try:
        user = accounts.add_user(args.username, password, role=args.role, actor=_actor())
    finally:
        db.close()
    print(f"added {user.username} ({user.role})")
    return 0


def cmd_user_remove(args: argparse.Namespace) -> int:
    db, _, accounts = _open(args, create=False)
    try:
        accounts.remove_user(args.username, actor=_actor())
    finally:
        db.close()
    print(f"removed {args.username}")
    return 0


def cmd_user_set_role(args: argparse.Namespace) -> int:
    db, _, accounts = _open(args, create=False)
    try:
        user = accounts.set_role(args.username, args.role, actor=_actor())
    finally:
        db.close()
    print(f"{user.username} is now {user.role}")
    return 0


def cmd_user_list(args: argparse.Namespace) -> int:
    db, _, accounts = _open(args, create=False)
    try:
        users = accounts.list_users()
    finally:
        db.close()
    now = datetime.now(timezone.utc)
    rows = [{
        "username": u.username, "role": u.role, "created_at": u.created_at.isoformat(),
        "last_login": u.last_login.isoformat() if u.last_login else None,
        "locked": bool(u.locked_until and u.locked_until > now), "failed_attempts": u.failed_attempts,
    } for u in users]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['username']:<24} {r['role']:<10} last login {r['last_login'] or 'never'}"
                  f"{'  LOCKED' if r['locked'] else ''}")
    return 0


# -- audit ----------------------------------------------------------------------------------------
def _parse_since(value: str) -> datetime:
    try:
        when = datetime.fromisoformat(value)
    except ValueError as exc:
        raise PrivacyError(f"--since {value!r} is not an ISO date or time",
                           "use e.g. 2026-11-01 or 2026-11-01T08:00:00+00:00") from exc
    # A bare date or time without zone is read as UTC: audit times are stored in UTC.
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def cmd_audit_export(args: argparse.Namespace) -> int:
    since = _parse_since(args.since) if args.since else None
    db, audit, _ = _open(args, create=False)
    try:
        lines = audit.export(since=since, format=args.format, user=_actor())
        if args.out:
            # The trail holds user names and (scrubbed) questions: owner-only like the database.
            out = secure_file(args.out)
            with open(out, "w", encoding="utf-8", newline="") as fh:
                fh.writelines(lines)
            print(f"wrote the audit trail to {out}", file=sys.stderr)
        else:
            for line in lines:
                sys.stdout.write(line)
    finally:
        db.close()
    return 0


# -- registration --------------------------------------------------------------------------------
def _add_db_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--index", type=Path, default=default_index_dir(),
                   help="index directory; security.db lives at its top level (default: %(default)s)")
    p.add_argument("--security-db", default=os.environ.get("CLINQA_SECURITY_DB"),
                   help="SQLAlchemy URL of the users/audit database instead (default: $CLINQA_SECURITY_DB, "
                        "else sqlite:///INDEX/security.db)")


def add_scrub_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true",
                   help='print {"text", "spans": [{"start","end","entity_type","score"}]} (spans never include the text)')
    p.add_argument("--threshold", type=float, default=0.4, help="drop detections scored below this (default 0.4)")


def add_user_add_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username")
    p.add_argument("--role", choices=ROLES, default="clinician", help="clinician (ask, search) or admin (default clinician)")
    p.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    _add_db_args(p)


def add_user_remove_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username")
    _add_db_args(p)


def add_user_list_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true")
    _add_db_args(p)


def add_user_set_role_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("username")
    p.add_argument("role", choices=ROLES)
    _add_db_args(p)


def add_audit_export_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--since", help="ISO date/time; entries at or after it (naive times are UTC)")
    p.add_argument("--format", choices=("csv", "jsonl"), default="jsonl", help="default jsonl")
    p.add_argument("--out", type=Path, help="write to this file (created 0600) instead of stdout")
    _add_db_args(p)
