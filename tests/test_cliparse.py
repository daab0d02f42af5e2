"""common.cliparse: usage errors say what was wrong and how to fix it, against the command the
option belongs to (the kind of fault: argparse answered a misplaced option with "invalid
choice: '3'", and a mistyped option with a missing required one)."""
import argparse

import pytest

from common.cliparse import option_guesses, parse_args

pytestmark = pytest.mark.unit


def _parser() -> argparse.ArgumentParser:
    top = argparse.ArgumentParser(prog="tool", allow_abbrev=False)
    top.add_argument("-v", "--verbose", action="count", default=0)
    top.add_argument("-q", "--quiet", action="store_true")
    sub = top.add_subparsers(dest="command")
    ask = sub.add_parser("ask", allow_abbrev=False)
    ask.add_argument("question", nargs="?")
    ask.add_argument("--top-k", type=int, default=5)
    ask.add_argument("--shift", type=float, default=0.0)
    group = sub.add_parser("index", allow_abbrev=False).add_subparsers(dest="index_command")
    build = group.add_parser("build", allow_abbrev=False)
    build.add_argument("--dataset", required=True)
    return top


def _error(argv, capsys, parser=None, **kw) -> tuple[str, str]:
    with pytest.raises(SystemExit) as exc:
        parse_args(parser or _parser(), argv, **kw)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    error = next(line for line in err.splitlines() if ": error: " in line)
    hint = next(line for line in err.splitlines() if line.startswith("clinqa: hint: "))
    return error, hint


def test_valid_command_lines_parse_as_argparse_reads_them():
    for argv, want in ((["-vv", "ask", "--top-k", "3", "x"], ("ask", 3, "x", 2)),
                       (["-vq", "ask", "--shift", "-0.5", "--", "-x"], ("ask", 5, "-x", 1)),
                       (["ask", "--top-k=2"], ("ask", 2, None, 0))):
        a = parse_args(_parser(), argv)
        assert (a.command, a.top_k, a.question, a.verbose) == want
    assert parse_args(_parser(), ["index", "build", "--dataset", "d"]).dataset == "d"


def test_a_commands_option_before_the_command_says_where_it_goes(capsys):
    error, hint = _error(["--top-k", "3", "ask", "x"], capsys)  # argparse: invalid choice: '3'
    assert error == "tool ask: error: options before the command: --top-k" and "put --top-k after `tool ask`" in hint
    error, hint = _error(["--top-k", "3"], capsys)  # no command at all: which commands take it
    assert "unrecognized arguments: --top-k" in error and "tool ask" in hint
    error, hint = _error(["index", "--dataset", "d", "build"], capsys)
    assert error.startswith("tool index build: error:") and "put --dataset after `tool index build`" in hint


def test_a_mistyped_option_is_reported_before_a_missing_required_one(capsys):
    error, hint = _error(["index", "build", "--datset", "d"], capsys)  # argparse: --dataset is required
    assert error == "tool index build: error: unrecognized arguments: --datset"
    assert "did you mean --dataset?" in hint


def test_an_abbreviation_is_refused_with_the_options_it_begins(capsys):
    error, hint = _error(["ask", "--top", "3", "gout"], capsys)
    assert error == "tool ask: error: unrecognized arguments: --top" and "did you mean --top-k?" in hint


def test_words_left_over_get_the_callers_hint(capsys):
    error, hint = _error(["ask", "what", "is", "gout"], capsys, leftover_hints={"tool ask": "quote the question"})
    assert error == "tool ask: error: unrecognized arguments: is gout" and "quote the question" in hint


def test_option_guesses():
    opts = ["--top-k", "--rerank-depth", "--rerank", "--dataset"]
    assert option_guesses(["--rerank-dept"], opts) == ["--rerank-depth"]
    assert option_guesses(["--rer"], opts) == ["--rerank-depth", "--rerank"]
    assert option_guesses(["--top=3"], opts) == ["--top-k"]
    assert option_guesses(["--zzz"], opts) == []


def _parser_with_index() -> argparse.ArgumentParser:
    top = _parser()
    sub = next(a for a in top._actions if isinstance(a, argparse._SubParsersAction))
    sub.choices["ask"].add_argument("--index")
    return top


def test_values_argparse_reads_as_values_stay_values():
    """A fresh-clone check found these refused by the first version: argparse reads negative
    numbers ("-.5") and words holding a space (a pasted bullet "- what treats gout?") as values."""
    for argv, field, want in ((["ask", "--shift", "-.5", "x"], "shift", -0.5),
                              (["ask", "- what treats gout?"], "question", "- what treats gout?"),
                              (["ask", "--index", "-my idx", "x"], "question", "x"),
                              (["ask", "--", "--x"], "question", "--x")):
        assert getattr(parse_args(_parser_with_index(), argv), field) == want


def test_a_number_argparse_cannot_read_keeps_argparses_message(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(_parser(), ["ask", "--shift", "-3e-5", "x"])
    assert exc.value.code == 2 and "argument --shift: expected one argument" in capsys.readouterr().err


def test_help_wins_over_an_unknown_option(capsys):
    for argv in (["ask", "--foo", "--help"], ["--foo", "-h"], ["-vh"]):
        with pytest.raises(SystemExit) as exc:
            parse_args(_parser(), argv)
        assert exc.value.code == 0 and "usage:" in capsys.readouterr().out


def test_a_misplaced_options_value_may_be_a_command_name(capsys):
    error, hint = _error(["--index", "index", "ask", "x"], capsys, _parser_with_index())  # the default index folder is called "index"
    assert error.startswith("tool ask: error:") and "put --index after `tool ask`" in hint
    error, hint = _error(["--top-k", "3", "--bogus", "ask", "x"], capsys)
    assert "put --top-k after `tool ask`" in hint and "--bogus: not an option of `tool ask`" in hint


def test_leftover_hints_are_per_command(capsys):
    _, hint = _error(["index", "build", "--dataset", "d", "extra"], capsys, leftover_hints={"tool ask": "quote it"})
    assert "quote it" not in hint


def test_a_bare_dash_names_no_option():
    assert option_guesses(["--=3", "-"], ["--top-k", "--shift"]) == []


def test_command_parser_is_the_deepest_command_named():
    from common.cliparse import command_parser

    top = _parser()
    assert command_parser(top, ["-v", "index"]).prog == "tool index"
    assert command_parser(top, ["index", "build", "--dataset", "d"]).prog == "tool index build"
    assert command_parser(top, []).prog == "tool" and command_parser(top, ["--", "index"]).prog == "tool"
