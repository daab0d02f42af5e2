"""PubMedQA PQA-L `ori_pqal.json`: {PMID: {"QUESTION", "CONTEXTS", "LABELS", "MESHES",
"YEAR", "reasoning_required_pred", "reasoning_free_pred", "final_decision", "LONG_ANSWER"}}.

`read_pubmedqa(path)` returns one `PubMedQARecord` per PMID in file order, texts as
written. What is built from them is the consumer's choice (the index: contexts + long
answer as the abstract; the yes/no model: contexts only).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from common.datasets._io import load_json
from common.datasets.errors import DatasetFormatError

PUBMEDQA_LAYOUT = '{PMID: {"QUESTION": str, "CONTEXTS": [str, ...], "final_decision": "yes"|"no"|"maybe", ...}}'


@dataclass(frozen=True)
class PubMedQARecord:
    """One PMID. `contexts`: the abstract's sections (not the conclusion); `long_answer`:
    the conclusion ("" when absent); `final_decision`: "yes"/"no"/"maybe" as written ("" when
    absent); `labels`, `meshes`, `year`: None when the file has none."""

    pmid: str
    question: str
    contexts: tuple[str, ...]
    long_answer: str = ""
    final_decision: str = ""
    labels: tuple[str, ...] | None = None
    meshes: tuple[str, ...] | None = None
    year: str | None = None


def is_pubmedqa(data: Any) -> bool:
    """Whether parsed JSON is a non-empty object of records holding "CONTEXTS"."""
    return isinstance(data, dict) and bool(data) and all(isinstance(v, dict) and "CONTEXTS" in v for v in data.values())


def _seq(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


def pubmedqa_from_json(data: Any, path: str | Path) -> tuple[PubMedQARecord, ...]:
    """Records from already parsed JSON (see `read_pubmedqa`)."""
    if not isinstance(data, dict) or not data:
        raise DatasetFormatError(path, "PubMedQA JSON must be a non-empty object keyed by PMID",
                                 f"use ori_pqal.json-style files: {PUBMEDQA_LAYOUT}")
    out = []
    for pmid, rec in data.items():
        if not isinstance(rec, dict) or not isinstance(rec.get("QUESTION"), str) or not isinstance(rec.get("CONTEXTS"), list):
            raise DatasetFormatError(path, f"PMID {pmid}: record needs a QUESTION string and a CONTEXTS list",
                                     f"is this a PubMedQA file? expected {PUBMEDQA_LAYOUT}")
        year = rec.get("YEAR")
        out.append(PubMedQARecord(
            pmid=str(pmid), question=rec["QUESTION"], contexts=tuple(str(c) for c in rec["CONTEXTS"]),
            long_answer=str(rec.get("LONG_ANSWER") or ""), final_decision=str(rec.get("final_decision") or ""),
            labels=_seq(rec.get("LABELS")), meshes=_seq(rec.get("MESHES")), year=None if year is None else str(year),
        ))
    return tuple(out)


def read_pubmedqa(path: str | Path) -> tuple[PubMedQARecord, ...]:
    """Read `ori_pqal.json`.

    Returns one record per PMID, in file order. Raises DatasetFormatError (not found, not
    JSON, a record without QUESTION/CONTEXTS), DatasetEncodingError, DatasetLimitError.
    """
    return pubmedqa_from_json(load_json(path), path)
