"""Medical NER, document classification and annotation import/export (issue #8).

Modules: `ner` (BIO data, token-classification training, `NerTagger`), `classify`
(CSV/JSONL/folder datasets, sequence-classification training), `annotations` (doccano and
BRAT <-> training formats, pre-annotation export), `cli` (handlers for `clinqa train ner|classify`).
"""
