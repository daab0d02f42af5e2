"""The one error base of clinqa, its printer and the exit codes of every command line.

Every package derives its error family from `HintedError` (StoreError, IndexerError,
RetrieverError, ReaderError, TaskError, PrivacyError, PipelineError, EvaluationError, and
common.datasets' DatasetError for data files), so one
`except HintedError` catches them all and one printer shows them: a `PROG: error:` line and a
`PROG: hint:` line saying how to fix it, never a traceback.

Exit codes (README.md "Exit status"): 0 done, 1 an error (nothing changed), 2 a usage error
(argparse's own), 3 `index build/add` changed the index but some inputs failed to load,
130 interrupted, 141 the reader of the output went away.
"""
from __future__ import annotations

import logging
import os
import sys
from typing import Any, Callable, TextIO

from common.env import set_offline_defaults

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # argparse exits with 2 itself; also `clinqa` without a command
EXIT_PARTIAL = 3
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what a shell reports for a process ended by a closed pipe


class HintedError(Exception):
    """An error with a hint that says how to fix it; each package derives its own family.

    `message` says what went wrong, `hint` names the action (a flag, a command, a file to
    fix), not a restatement of the problem. `str()` gives both.
    """

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  hint: {self.hint}" if self.hint else self.message


def print_error(exc: BaseException, prog: str = "clinqa", file: TextIO | None = None) -> None:
    """The one printer: `PROG: error: MESSAGE` and, when there is one, `PROG: hint: HINT`."""
    out = file if file is not None else sys.stderr
    message = getattr(exc, "message", None) or (exc.args[0] if exc.args else str(exc))
    hint = getattr(exc, "hint", "")
    print(f"{prog}: error: {message}", file=out)
    if hint:
        print(f"{prog}: hint: {hint}", file=out)


def run_command(run: Callable[[], int | None], prog: str = "clinqa", interrupted: str = "") -> int:
    """The one exit-code policy, shared by `clinqa` and every `python -m` entry point.

    `run()`'s own status (0, or 3 for a partial index change) is returned as is; a
    HintedError is printed (`print_error`) and gives 1; a closed output pipe gives 141 without
    a trace; Ctrl-C gives 130 with `PROG: interrupted` (+ `; ` + `interrupted`, e.g. what was
    left unchanged). Anything else is a bug and keeps its traceback.
    """
    try:
        return int(run() or EXIT_OK)
    except BrokenPipeError:
        # The reader of our output went away (`clinqa ... | head`): not an error of ours.
        # Point stdout at /dev/null so the interpreter's final flush does not raise again.
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):  # stdout is not a file (captured by a test or an embedding app)
            pass
        return EXIT_BROKEN_PIPE
    except HintedError as exc:
        print_error(exc, prog)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted" + (f"; {interrupted}" if interrupted else ""), file=sys.stderr)
        return EXIT_INTERRUPTED


def run_entry_point(handler: Callable[[Any], int | None], args: Any, prog: str = "clinqa") -> int:
    """For `python -m PACKAGE.MODULE` mains: offline defaults, INFO logging, then `run_command`."""
    set_offline_defaults()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run_command(lambda: handler(args), prog)
