"""PHI scrubber: Presidio's analyzer with offline-only recognizers and clinical rules.

`Scrubber(config)` is cheap; `warm_up()` imports Presidio (seconds) and builds the
engine. The engine uses Presidio's `no_op` NLP engine: no spaCy model is loaded or
downloaded, so everything runs offline. Detection is therefore pattern-based (see
privacy/recognizers.py and docs/privacy.md for what that can and cannot find).
"""
from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from privacy.errors import PrivacyError
from tasks.ner import NerTagger
from tasks import shipped

# tldextract (used by Presidio's email/URL recognizers) otherwise tries to download the
# public suffix list at import; offline that only costs a traceback, but it must not try.
os.environ.setdefault("TLDEXTRACT_PUBLIC_SUFFIX_LIST_URLS", "")

log = logging.getLogger(__name__)

ENTITY_TYPES: tuple[str, ...] = (
    "PERSON", "DATE", "MRN", "PHONE", "EMAIL", "SSN", "ADDRESS", "AGE", "URL", "IP", "CREDIT_CARD",
)
# Presidio's predefined recognizers we use, under our (placeholder) names.
_FROM_PRESIDIO = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "US_SSN": "SSN",
    "URL": "URL",
    "IP_ADDRESS": "IP",
    "CREDIT_CARD": "CREDIT_CARD",
}
# A bare domain is only a URL when its suffix is a web one: Presidio also flags "cli.py"
# (.py is Paraguay) and "model.onnx"-like names, which fill logs.
_WEB_TLDS = frozenset(
    "com org net edu gov mil int info biz io co us uk ca au de fr nl ch eu health med nhs".split()
)
_WORD = re.compile(r"\w")
_PERSON_PART = re.compile(r"[A-Z][A-Za-z'\-]{2,}")


@dataclass(frozen=True)
class PhiSpan:
    """One identifier found in a text: `text[start:end] == self.text`."""

    start: int
    end: int
    entity_type: str
    score: float
    text: str

    def to_dict(self, include_text: bool = False) -> dict[str, Any]:
        """JSON-ready; the identifier itself only when asked, so reports never leak it by default."""
        d: dict[str, Any] = {"start": self.start, "end": self.end, "entity_type": self.entity_type,
                             "score": round(self.score, 3)}
        if include_text:
            d["text"] = self.text
        return d


@dataclass(frozen=True)
class ScrubConfig:
    """What to find and how to replace it.

    score_threshold: results below it are dropped (Presidio's weak guesses, e.g. a bare
        domain at 0.5 passes, an 8-digit "bank number" at 0.05 does not).
    propagate: once an identifier is found, every other whole-token occurrence of the same
        string in the text is scrubbed too ("Pt John Smith ... Smith tolerated it").
    placeholder: format string with `{entity}`.
    medical_ner: a PERSON candidate inside a disease/chemical mention found by the shipped
        NER model (models/ner, BC5CDR) is dropped ("Mother: Hodgkin lymphoma"), on top of
        the eponym/disease-head lexicon in privacy/recognizers.py. The model loads on the
        first text that has a PERSON candidate; without a shipped model only the lexicon
        applies.
    """

    score_threshold: float = 0.4
    entities: tuple[str, ...] = ENTITY_TYPES
    propagate: bool = True
    placeholder: str = "<{entity}>"
    medical_ner: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.score_threshold <= 1.0:
            raise PrivacyError(f"score_threshold {self.score_threshold} is outside [0, 1]",
                               "use a value such as 0.4 (the default)")
        unknown = sorted(set(self.entities) - set(ENTITY_TYPES))
        if unknown:
            raise PrivacyError(f"unknown entity types {unknown}", f"choose from {', '.join(ENTITY_TYPES)}")
        if "{entity}" not in self.placeholder:
            raise PrivacyError(f"placeholder {self.placeholder!r} has no {{entity}} field",
                               'use something like "<{entity}>" or "[{entity}]"')


class Scrubber:
    """Finds identifiers (`find`) and replaces them with typed placeholders (`scrub`)."""

    def __init__(self, config: ScrubConfig | None = None,
                 medical_spans: Callable[[str], list[tuple[int, int]]] | None = None) -> None:
        """`medical_spans(text)`: (start, end) of disease/chemical mentions; default: the
        shipped NER model when `config.medical_ner` (see ScrubConfig)."""
        self.config = config or ScrubConfig()
        self._analyzer: Any = None
        self._lock = threading.Lock()
        self._medical_spans = medical_spans
        self._ner: Any = None

    def warm_up(self) -> None:
        """Import Presidio and build the analyzer (a few seconds, once)."""
        with self._lock:
            if self._analyzer is None:
                self._analyzer = _build_analyzer()

    def find(self, text: str) -> list[PhiSpan]:
        """Identifiers in `text`, sorted, non-overlapping, each aligned to whole tokens."""
        if not text:
            return []
        if self._analyzer is None:
            self.warm_up()
        wanted = set(self.config.entities)
        raw: list[tuple[int, int, str, float]] = []
        for r in self._analyzer.analyze(text, language="en", score_threshold=self.config.score_threshold):
            entity = _FROM_PRESIDIO.get(r.entity_type, r.entity_type)
            if entity in wanted and (entity != "URL" or _plausible_url(text[r.start:r.end])):
                raw.append(_align(text, r.start, r.end) + (entity, float(r.score)))
        medical: list[tuple[int, int]] = []
        if self.config.medical_ner and any(t == "PERSON" for _, _, t, _ in raw):
            medical = self._medical(text)
            raw = [r for r in raw if r[2] != "PERSON" or not _inside_medical(text, r[0], r[1], medical)]
        spans = _merge(raw)
        # Propagation can create new overlaps (and a merged span is a new string to look for),
        # so repeat until nothing changes; two rounds suffice in practice. A propagated name
        # passes the same medical veto: "Mary Graves has Graves disease" keeps the diagnosis.
        for _ in range(4):
            if not self.config.propagate:
                break
            found = [o for o in _occurrences(text, spans)
                     if o[2] != "PERSON" or not _inside_medical(text, o[0], o[1], medical)]
            grown = _merge(spans + found)
            if grown == spans:
                break
            spans = grown
        return [PhiSpan(s, e, t, sc, text[s:e]) for s, e, t, sc in spans]

    def _medical(self, text: str) -> list[tuple[int, int]]:
        if self._medical_spans is not None:
            return self._medical_spans(text)
        with self._lock:
            if self._ner is None:
                path = shipped.shipped_ner()
                if path is None:
                    self._ner = False
                else:
                    self._ner = NerTagger(path, threads=1)
            if self._ner is False:
                return []
            return [(m.start, m.end) for m in self._ner.tag([text])[0]]

    def scrub(self, text: str) -> str:
        return self.scrub_with_spans(text)[0]

    def scrub_with_spans(self, text: str) -> tuple[str, list[PhiSpan]]:
        spans = self.find(text)
        out, pos = [], 0
        for span in spans:
            out.append(text[pos:span.start])
            out.append(self.config.placeholder.format(entity=span.entity_type))
            pos = span.end
        out.append(text[pos:])
        return "".join(out), spans


def _build_analyzer() -> Any:
    from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
    from presidio_analyzer.nlp_engine import NlpEngineProvider
    from presidio_analyzer.predefined_recognizers import (
        CreditCardRecognizer,
        EmailRecognizer,
        IpRecognizer,
        PhoneRecognizer,
        UrlRecognizer,
        UsSsnRecognizer,
    )

    from privacy.recognizers import clinical_recognizers

    # Presidio logs several INFO lines per engine and one per analyze call ("Skipping context
    # extraction"): noise in clinqa's log, and each would go through the log scrubber again.
    presidio_log = logging.getLogger("presidio-analyzer")
    if presidio_log.level == logging.NOTSET:
        presidio_log.setLevel(logging.WARNING)
    nlp = NlpEngineProvider(nlp_configuration={
        "nlp_engine_name": "no_op", "models": [{"lang_code": "en", "model_name": "no_op"}],
    }).create_engine()
    # Only the recognizers we want: the default registry adds every language's recognizers
    # (warning about each) and noisy ones (US_BANK_NUMBER on any 8-17 digit number).
    registry = RecognizerRegistry(supported_languages=["en"])
    for recognizer in (EmailRecognizer(), PhoneRecognizer(), UrlRecognizer(), IpRecognizer(),
                       CreditCardRecognizer(), UsSsnRecognizer(), *clinical_recognizers()):
        registry.add_recognizer(recognizer)
    log.debug("PHI analyzer ready: %d recognizers", len(registry.recognizers))
    return AnalyzerEngine(registry=registry, nlp_engine=nlp, supported_languages=["en"])


def _inside_medical(text: str, start: int, end: int, medical: list[tuple[int, int]]) -> bool:
    """The PERSON candidate [start, end) is part of a longer disease/chemical mention
    ("Hodgkin" in "Hodgkin lymphoma"), or a mention equal to it is an eponym that is not a
    common surname ("Tourette"; "Turner" stays a name) and not after an honorific ("Dr.
    Parkinson" stays a name).
    A mention exactly equal to a non-eponym candidate is not trusted: a tagger that calls a
    patient's name a disease must not unmask it."""
    from privacy.recognizers import EPONYM_HEADS, EPONYMS, SURNAME_EPONYMS, after_title

    words = [w.lower() for w in re.findall(r"[^\W\d_]+", text[start:end])]
    eponym = all(w in EPONYMS and w not in SURNAME_EPONYMS for w in words) and not after_title(text, start)
    for ms, me in medical:
        if ms <= start and end <= me and (me - ms) > (end - start) and "\n" not in text[ms:me]:
            # What the mention adds must read as medical: a lower-case word ("cardiomyopathy")
            # or a disease head ("Disease"), not more capitalised words or a field label.
            extra = re.findall(r"[^\W\d_]+", text[ms:start] + " " + text[end:me])
            if any(w[0].islower() or w.lower() in EPONYM_HEADS for w in extra):
                return True
        if (ms, me) == (start, end) and eponym:
            return True
    return False


def _plausible_url(s: str) -> bool:
    low = s.lower()
    if "://" in low or low.startswith("www.") or "/" in low:
        return True
    return low.rstrip(".").rsplit(".", 1)[-1] in _WEB_TLDS


def _is_word(ch: str) -> bool:
    return bool(_WORD.match(ch))


def _align(text: str, start: int, end: int) -> tuple[int, int]:
    """Grow a span to whole tokens: half a token ("...4567x2") would leak the rest."""
    while start > 0 and _is_word(text[start - 1]) and _is_word(text[start]):
        start -= 1
    while end < len(text) and _is_word(text[end - 1]) and _is_word(text[end]):
        end += 1
    return start, end


def _merge(spans: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Overlapping spans become their union, typed by the most confident (then longest) part."""
    merged: list[list[Any]] = []  # [start, end, type, score, best_len]
    for s, e, t, sc in sorted(set(spans)):
        if merged and s < merged[-1][1]:
            cur = merged[-1]
            if (sc, e - s) > (cur[3], cur[4]):
                cur[2], cur[3], cur[4] = t, sc, e - s
            cur[1] = max(cur[1], e)
        else:
            merged.append([s, e, t, sc, e - s])
    return [(s, e, t, sc) for s, e, t, sc, _ in merged]


def _occurrences(text: str, spans: list[tuple[int, int, str, float]]) -> list[tuple[int, int, str, float]]:
    """Every whole-token occurrence of each found string (and of each part of a found name)."""
    needles: dict[str, tuple[str, float]] = {}
    for s, e, t, sc in spans:
        needles.setdefault(text[s:e], (t, sc))
        if t == "PERSON":
            for part in _PERSON_PART.findall(text[s:e]):
                needles.setdefault(part, (t, sc))
    found = []
    for needle, (t, sc) in needles.items():
        # Token-aligned: no word character may continue the needle on either side.
        pattern = ("(?<!\\w)" if _is_word(needle[0]) else "") + re.escape(needle) + ("(?!\\w)" if _is_word(needle[-1]) else "")
        found.extend((m.start(), m.end(), t, sc) for m in re.finditer(pattern, text))
    return found


_default: Scrubber | None = None
_default_lock = threading.Lock()


def default_scrubber() -> Scrubber:
    """The process-wide scrubber with the default config, built on first use."""
    global _default
    with _default_lock:
        if _default is None:
            scrubber = Scrubber()
            scrubber.warm_up()
            _default = scrubber
    return _default


def scrub_text(text: str) -> str:
    """Scrub with the default scrubber: about 1-3 ms per call on a 200-character text."""
    return default_scrubber().scrub(text)
