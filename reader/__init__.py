"""Extractive reader: finds answer spans in retrieved passages.

Cheap to import (no torch/transformers until warm_up()). Training lives in
reader.train / reader.mlm, export in reader.export, calibration in reader.calibration,
SQuAD metrics in reader.squad, BioASQ question-level metrics in reader.bioasq.
"""
from reader.config import ReaderConfig
from reader.errors import ReaderError
from reader.reader import ExtractiveReader, ReaderOutput
from reader.types import Answer

__all__ = ["Answer", "ExtractiveReader", "ReaderConfig", "ReaderError", "ReaderOutput"]
