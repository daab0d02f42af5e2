"""`clinqa scrub`, `clinqa user ...` and `clinqa audit export` through the real clinqa entry point."""
import io
import json
import os
import stat

import pytest

from common.errors import run_command
from ui.cli import build_parser

pytestmark = pytest.mark.integration

PASSWORD = "correct horse battery staple"


def main(argv: list[str]) -> int:
    """What `clinqa` does with these subcommands (its parser and error policy), without its
    logging set-up (the entry point itself is tested below)."""
    args = build_parser().parse_args(argv)
    return run_command(lambda: args.func(args))


def test_clinqa_entry_point_has_the_privacy_commands(monkeypatch, capsys):
    from ui.cli import main as clinqa_main

    _stdin(monkeypatch, "MRN 00123456\n")
    assert clinqa_main(["scrub"]) == 0
    assert capsys.readouterr().out == "MRN <MRN>\n"


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def test_scrub_text_and_json_never_echo_phi(monkeypatch, capsys):
    q = "Pt John Smith, MRN 00123456, asks about gout.\n"
    _stdin(monkeypatch, q)
    assert main(["scrub"]) == 0
    assert capsys.readouterr().out == "Pt <PERSON>, MRN <MRN>, asks about gout.\n"
    _stdin(monkeypatch, q)
    assert main(["scrub", "--json"]) == 0
    out = capsys.readouterr().out
    doc = json.loads(out)
    assert doc["text"] == "Pt <PERSON>, MRN <MRN>, asks about gout.\n"
    assert [(s["start"], s["end"], s["entity_type"]) for s in doc["spans"]] == [(3, 13, "PERSON"), (19, 27, "MRN")]
    assert set(doc["spans"][0]) == {"start", "end", "entity_type", "score"}
    assert "Smith" not in out and "00123456" not in out


def test_user_lifecycle_and_audit_export(tmp_path, monkeypatch, capsys):
    idx = ["--index", str(tmp_path)]
    assert main(["user", "list", *idx]) == 1  # no database yet: error with a hint
    assert "clinqa user add" in capsys.readouterr().err

    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["user", "add", "alice", "--role", "admin", "--password-stdin", *idx]) == 0
    _stdin(monkeypatch, PASSWORD + "\n")
    assert main(["user", "add", "bob", "--password-stdin", *idx]) == 0
    assert stat.S_IMODE(os.stat(tmp_path / "security.db").st_mode) == 0o600
    capsys.readouterr()

    assert main(["user", "list", "--json", *idx]) == 0
    users = json.loads(capsys.readouterr().out)
    assert [(u["username"], u["role"], u["locked"]) for u in users] == [("alice", "admin", False), ("bob", "clinician", False)]

    assert main(["user", "set-role", "bob", "admin", *idx]) == 0
    assert main(["user", "remove", "alice", *idx]) == 0
    assert main(["user", "remove", "alice", *idx]) == 1
    err = capsys.readouterr().err
    assert "clinqa: error: no user named 'alice'" in err and "clinqa: hint:" in err

    _stdin(monkeypatch, "short\n")
    assert main(["user", "add", "carol", "--password-stdin", *idx]) == 1
    assert "too short" in capsys.readouterr().err

    out = tmp_path / "audit.csv"
    assert main(["audit", "export", "--since", "2000-01-01", "--format", "csv", "--out", str(out), *idx]) == 0
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600
    lines = out.read_text().splitlines()
    assert lines[0] == "id,at,user,action,detail,doc_ids"
    assert [line.split(",")[3] for line in lines[1:]] == ["user_add", "user_add", "role_change", "user_remove", "export"]

    assert main(["audit", "export", "--since", "2999-01-01", *idx]) == 0
    assert capsys.readouterr().out == ""
    assert main(["audit", "export", "--since", "last week", *idx]) == 1
    assert "not an ISO date" in capsys.readouterr().err
