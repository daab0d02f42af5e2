"""Every argument parser refuses abbreviated options (argparse's allow_abbrev): a prefix was read
as another option (`clinqa search --encoder X` as `--encoder-backend X`, `--top 3` as `--top-k 3`)."""
import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).parents[1]
SKIP = {"tests", "runs", ".git", ".venv", "node_modules"}


def _parser_calls(tree: ast.AST):
    """ArgumentParser(...) and .add_parser(...) calls, except parents built with add_help=False
    (they never parse)."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if name not in ("ArgumentParser", "add_parser"):
            continue
        kw = {k.arg: k.value for k in node.keywords}
        if "add_help" in kw and isinstance(kw["add_help"], ast.Constant) and kw["add_help"].value is False:
            continue
        yield node, kw


def test_no_parser_accepts_abbreviated_options():
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        if SKIP & set(path.relative_to(ROOT).parts):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node, kw in _parser_calls(tree):
            value = kw.get("allow_abbrev")
            if not (isinstance(value, ast.Constant) and value.value is False):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == [], "add allow_abbrev=False to: " + ", ".join(offenders)


def test_task_cli_refuses_a_prefix(capsys):
    from tasks.cli import main

    with pytest.raises(SystemExit) as exc:
        main(["eval", "ner", "--mod", "m", "--dataset", "d"])
    assert exc.value.code == 2 and "unrecognized arguments: --mod" in capsys.readouterr().err


def test_every_entry_point_parses_through_common_cliparse():
    """argparse's own parse_args answers a misplaced option with "invalid choice" and a typo
    with a missing required option; common.cliparse.parse_args reports them with the fix."""
    offenders = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        if SKIP & set(rel.parts) or rel == Path("common/cliparse.py"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("parse_args", "parse_known_args", "parse_intermixed_args")):
                offenders.append(f"{rel}:{node.lineno}")
    assert offenders == [], "use common.cliparse.parse_args(parser, argv) in: " + ", ".join(offenders)
