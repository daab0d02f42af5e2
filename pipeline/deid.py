"""PHI checks on documents before they enter an index (`clinqa index add`, web uploads)."""
from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from privacy.scrub import default_scrubber
from store.types import Document

log = logging.getLogger(__name__)


@dataclass
class PhiCheck:
    """Used as `IndexWriter.add(transform=...)`: records which documents look like they hold
    PHI and, with `deidentify`, replaces it with typed placeholders before indexing."""

    deidentify: bool = False
    flagged: dict[str, Counter] = field(default_factory=dict)
    _find: Callable | None = None

    def __call__(self, doc: Document) -> Document:
        if self._find is None:
            scrubber = default_scrubber()
            self._find = scrubber.scrub_with_spans
        title, title_spans = self._find(doc.title)
        text, text_spans = self._find(doc.text)
        spans = list(title_spans) + list(text_spans)
        if not spans:
            return doc
        self.flagged[doc.doc_id] = Counter(s.entity_type for s in spans)
        if not self.deidentify:
            return doc
        return replace(doc, title=title, text=text, metadata={**doc.metadata, "deidentified": True})

    def warning(self) -> str | None:
        if not self.flagged:
            return None
        kinds = Counter()
        for c in self.flagged.values():
            kinds.update(c)
        what = ", ".join(f"{k} x{n}" for k, n in kinds.most_common())
        ids = ", ".join(list(self.flagged)[:5]) + (" ..." if len(self.flagged) > 5 else "")
        if self.deidentify:
            return f"de-identified {len(self.flagged)} document(s) before indexing ({what}): {ids}"
        return (
            f"{len(self.flagged)} document(s) appear to contain patient identifiers ({what}): {ids}. "
            "They were indexed as they are; to scrub them, remove them and add them again with --deidentify"
        )
