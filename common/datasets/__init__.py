"""Dataset readers: the one place where clinqa parses a data file.

The indexer, the trainers and the evaluation read the same files through these readers, so
one file yields the same records everywhere. Standard library only (the bottom layer).

| format                                   | reader                          | returns                    |
|------------------------------------------|---------------------------------|----------------------------|
| SQuAD v1.1/v2.0 JSON (COVID-QA, BioASQ)  | `read_squad`                    | `SquadFile`                |
| BioASQ in BioBERT's SQuAD layout         | `read_bioasq` / `group_bioasq`  | `BioASQQuestion`s          |
| PubMedQA `ori_pqal.json`                 | `read_pubmedqa`                 | `PubMedQARecord`s          |
| MedQuAD XML, or a .tar.gz of it          | `iter_medquad`                  | `MedQuADFile` / `Problem`  |
| JSONL (questions, passages, pairs)       | `iter_jsonl` / `iter_jsonl_lines` | (line, value) / `JsonlLine` |
| BIO / CoNLL TSV                          | `read_conll`                    | `BioSentence`s             |
| classification folders / tar archives    | `read_label_folder`             | `LabelledText`s            |

Records are frozen dataclasses holding texts as written (no normalisation). Size limits
(file, unpacked, line, member count, member size) are defined once in `limits.LIMITS` and
checked by every reader; exceeding one raises `DatasetLimitError` naming the file and the
limit. Every error is a `DatasetError` (a `common.errors.HintedError`) naming the file.
"""
from common.datasets._io import Member, Problem, check_file, decode_utf8, is_archive, load_json, parse_json, read_text
from common.datasets.bioasq import (BIOASQ_ITEM_ID, BioASQQuestion, BioASQSnippet, group_bioasq, looks_like_bioasq,
                                    question_id, read_bioasq)
from common.datasets.conll import BIO_TAG, BioSentence, read_conll
from common.datasets.errors import DatasetEncodingError, DatasetError, DatasetFormatError, DatasetLimitError
from common.datasets.folders import TEXT_SUFFIXES, LabelledText, read_label_folder
from common.datasets.jsonl import JsonlLine, iter_jsonl, iter_jsonl_lines
from common.datasets.limits import LIMITS, DatasetLimits
from common.datasets.medquad import MedQuADFile, MedQuADPair, iter_medquad, parse_medquad_xml
from common.datasets.pubmedqa import PubMedQARecord, is_pubmedqa, pubmedqa_from_json, read_pubmedqa
from common.datasets.squad import (SQUAD_LAYOUT, SquadAnswer, SquadFile, SquadParagraph, SquadQuestion, is_squad,
                                   read_squad, squad_from_json)

__all__ = [
    "BIOASQ_ITEM_ID", "BIO_TAG", "LIMITS", "SQUAD_LAYOUT", "TEXT_SUFFIXES",
    "BioASQQuestion", "BioASQSnippet", "BioSentence", "DatasetEncodingError", "DatasetError", "DatasetFormatError",
    "DatasetLimitError", "DatasetLimits", "JsonlLine", "LabelledText", "MedQuADFile", "MedQuADPair", "Member",
    "Problem", "PubMedQARecord", "SquadAnswer", "SquadFile", "SquadParagraph", "SquadQuestion",
    "check_file", "decode_utf8", "group_bioasq", "is_archive", "is_pubmedqa", "is_squad", "iter_jsonl",
    "iter_jsonl_lines", "iter_medquad", "load_json", "looks_like_bioasq", "parse_json", "parse_medquad_xml",
    "pubmedqa_from_json", "question_id", "read_bioasq", "read_conll", "read_label_folder", "read_pubmedqa",
    "read_squad", "read_text", "squad_from_json",
]
