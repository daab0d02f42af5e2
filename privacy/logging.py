"""Scrub PHI from log records before any handler writes them.

A question typed into clinqa can carry a patient's name or MRN; log lines go to files and
terminals that outlive the question. `install_log_scrubbing()` puts `PhiScrubbingFilter`
on the root logger's handlers: handler filters see records from every logger that
propagates to the root (logger filters would only see records logged on that logger).
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from privacy.scrub import default_scrubber

WITHHELD = "[log message withheld: the PHI scrubber failed on it]"


class PhiScrubbingFilter(logging.Filter):
    """Replaces `record.msg` with the scrubbed, fully formatted message and clears `args`.

    Tracebacks are formatted and scrubbed too (exception messages often quote input). If
    scrubbing fails the message is withheld rather than written raw (fail closed).
    """

    def __init__(self, scrub: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self._scrub = scrub
        self._busy = threading.local()

    def _scrubber(self) -> Callable[[str], str]:
        if self._scrub is None:
            self._scrub = default_scrubber().scrub
        return self._scrub

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "_phi_scrubbed", False):  # already done by another handler's filter
            return True
        if getattr(self._busy, "active", False):
            # A record emitted by the scrubber itself (Presidio's own logging) while it runs:
            # it may quote the text being scrubbed, so drop it.
            return False
        self._busy.active = True
        try:
            record.msg = self._scrubber()(record.getMessage())
            if record.exc_info:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._scrubber()(record.exc_text)
            if record.stack_info:
                record.stack_info = self._scrubber()(record.stack_info)
        except Exception:  # noqa: BLE001 - any failure must not let the raw text through
            record.msg, record.exc_text, record.stack_info = WITHHELD, None, None
        finally:
            self._busy.active = False
        record.args = None
        # Formatters re-render exc_info when present; the scrubbed exc_text must be used instead.
        record.exc_info = None
        record._phi_scrubbed = True
        return True


_installed: PhiScrubbingFilter | None = None
_install_lock = threading.Lock()


def install_log_scrubbing(logger: logging.Logger | None = None, warm_up: bool = True) -> PhiScrubbingFilter:
    """Attach one shared filter to every handler of `logger` (default: the root logger).

    Idempotent: call it again after adding handlers. With `warm_up` the scrubber is built
    now (a few seconds) rather than on the first log record.
    """
    global _installed
    with _install_lock:
        if _installed is None:
            _installed = PhiScrubbingFilter()
        flt = _installed
    if warm_up:
        flt._scrubber()
    target = logger or logging.getLogger()
    for handler in target.handlers:
        if flt not in handler.filters:
            handler.addFilter(flt)
    return flt
