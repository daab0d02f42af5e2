"""Command-line parsing with the one usage-error policy: argparse's own checks, plus a hint.

argparse alone reports a subcommand's option given before the subcommand (`clinqa --top-k 3
ask x`) as an unrelated "invalid choice: '3'", a mistyped option after a missing required one,
and an unknown option against the top-level usage. `parse_args` reports them first, against
the subcommand they belong to, with the fix: a `PROG: error:` line and a `clinqa: hint:` line
(the policy of common.errors), exit status 2 like argparse. Every parser of the repository is
built with allow_abbrev=False (tests/test_cli_options.py), so a prefix is never read as
another option; the hint names the options it begins instead.
"""
from __future__ import annotations

import argparse
import difflib
import re
import sys
from typing import Mapping, NoReturn, Sequence

from common.errors import EXIT_USAGE

__all__ = ["command_parser", "option_guesses", "parse_args", "usage_error"]


def _subcommands(p: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    return next((dict(a.choices) for a in p._actions if isinstance(a, argparse._SubParsersAction)), {})  # noqa: SLF001


def _options(p: argparse.ArgumentParser) -> list[str]:
    return [o for a in p._actions for o in a.option_strings]  # noqa: SLF001 (argparse has no public list)


def _leaf_parsers(p: argparse.ArgumentParser) -> list[argparse.ArgumentParser]:
    subs = _subcommands(p)
    return [leaf for sp in subs.values() for leaf in _leaf_parsers(sp)] if subs else [p]


def _is_option_word(word: str) -> bool:
    """argparse's rule (ArgumentParser._parse_optional, parsers without negative-number-like
    options): "-" (standard input), negative numbers ("-1", "-.5") and words holding a space
    ("- what treats gout?") are values, not options."""
    return (word.startswith("-") and word != "-" and " " not in word
            and not re.fullmatch(r"-\d+|-\d*\.\d+", word))


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def usage_error(p: argparse.ArgumentParser, message: str, hint: str) -> NoReturn:
    """Print `p`'s usage, a `PROG: error:` line and a `clinqa: hint:` line; exit 2 (argparse's code)."""
    p.print_usage(sys.stderr)
    print(f"{p.prog}: error: {message}", file=sys.stderr)
    print(f"clinqa: hint: {hint}", file=sys.stderr)
    raise SystemExit(EXIT_USAGE)


def option_guesses(words: Sequence[str], options: Sequence[str]) -> list[str]:
    """The options unknown `words` may have meant (pure): for an abbreviation, the options it
    begins; for a typo, the closest one (difflib ratio >= 0.75). `--x=1` is read as `--x`; a
    bare `-` or `--` names nothing."""
    out: list[str] = []
    for word in (w.split("=")[0] for w in words):
        if word.strip("-"):
            out += [o for o in options if o.startswith(word)] or difflib.get_close_matches(word, options, n=1,
                                                                                             cutoff=0.75)
    return list(dict.fromkeys(out))


def _known(word: str, p: argparse.ArgumentParser) -> bool:
    """`word` names an option of `p`: `--x`, `--x=1`, or combined short flags (`-vv`, `-vq`)."""
    options = _options(p)
    if word.split("=")[0] in options:
        return True
    return bool(re.fullmatch(r"-\w+", word)) and all(f"-{c}" in options for c in word[1:])


def _owners(p: argparse.ArgumentParser, names: Sequence[str]) -> str:
    owners = [c.prog for c in _leaf_parsers(p) if set(names) & set(_options(c))]
    return ", ".join(owners[:6]) + (f" and {len(owners) - 6} more" if len(owners) > 6 else "")


def _check_option_words(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.ArgumentParser:
    """The (sub)command `argv` names; exits 2 on an option before it or an unknown one after."""
    before: list[str] = []
    p, i = parser, 0
    while i < len(argv) and argv[i] != "--" and (subs := _subcommands(p)):
        word = argv[i]
        # After a misplaced option, a command name followed by another one is that option's
        # value (`clinqa --index index ask x`: the folder is called "index").
        if word in subs and not (before and i + 1 < len(argv) and argv[i + 1] in subs):
            p = subs[word]
        elif _is_option_word(word) and not _known(word, p):
            before.append(word)
        elif not _is_option_word(word) and not before:
            break  # not a command: argparse says "invalid choice" and lists them
        i += 1  # (a word after a misplaced option is taken for its value)
    if before:
        names = [w.split("=")[0] for w in before]
        if _subcommands(p):
            owners = _owners(p, names)
            fix = (f"put them after the command ({owners} take {' '.join(names)})" if owners
                   else f"see `{p.prog} --help` for the commands")
            usage_error(p, f"unrecognized arguments: {' '.join(before)}", fix)
        known = [w for w in before if _known(w, p)]
        unknown = [w for w in before if not _known(w, p)]
        fixes = ([f"put {' '.join(known)} after `{p.prog}`"] if known else []) + (
            [f"{' '.join(unknown)}: not an option of `{p.prog}` (see `{p.prog} --help`)"] if unknown else [])
        usage_error(p, f"options before the command: {' '.join(before)}", "; ".join(fixes))
    if _subcommands(p):
        return p  # no (complete) command given: argparse says what is required
    rest = argv[i:argv.index("--", i)] if "--" in argv[i:] else argv[i:]
    # A number such as "-3e-5" after an option is a value argparse cannot read: it says
    # "expected one argument" itself, the better message.
    unknown = [w for w in rest if _is_option_word(w) and not _known(w, p) and not _is_number(w)]
    if unknown:
        guesses = option_guesses(unknown, _options(p))
        hint = f"did you mean {' or '.join(guesses)}? " if guesses else ""
        usage_error(p, f"unrecognized arguments: {' '.join(unknown)}",
                     f"{hint}(options are spelled out in full; see `{p.prog} --help`)")
    return p


def command_parser(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The deepest (sub)command parser the words of a valid `argv` name (`clinqa index` → the
    `index` group's parser), for showing that command's help when no subcommand follows (pure)."""
    argv = sys.argv[1:] if argv is None else list(argv)
    p = parser
    for word in argv:
        if word == "--" or not (subs := _subcommands(p)):
            break
        if word in subs:
            p = subs[word]
    return p


def parse_args(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None, *,
               leftover_hints: Mapping[str, str] | None = None) -> argparse.Namespace:
    """argparse's parse_args with the checks above made first, for a parser with or without
    subcommands. `leftover_hints`: per command (its prog, e.g. "clinqa ask"), the hint for
    words left over once every option was read (an unquoted question). `-h`/`--help` anywhere
    shows help as argparse does. Exits 2 on a usage error, like argparse."""
    argv = sys.argv[1:] if argv is None else list(argv)
    head = argv[:argv.index("--")] if "--" in argv else argv
    if any(w == "--help" or re.fullmatch(r"-[vqh]*h[vqh]*", w) for w in head):
        return parser.parse_args(argv)  # help wins over any other problem, as in argparse
    command = _check_option_words(parser, argv)
    args, extra = parser.parse_known_args(argv)
    if extra:
        leftover = (leftover_hints or {}).get(command.prog, "")
        usage_error(command, f"unrecognized arguments: {' '.join(extra)}",
                     (leftover + "; " if leftover else "") + f"see `{command.prog} --help`")
    return args
