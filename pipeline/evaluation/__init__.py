"""Batch benchmark evaluation (`clinqa eval`): reader, retrieval, end-to-end, comparison.

Layout:
    errors.py    EvaluationError family (message + hint)
    datasets.py  validating loaders: SQuAD v1.1, BioASQ-in-SQuAD (grouped by question), BEIR/TREC folders
    metrics.py   pure metric functions (SQuAD EM/F1, BioASQ factoid/list, ranx retrieval metrics, calibration)
    runners.py   the three evaluations over a reader / an index
    report.py    metrics.json, predictions.jsonl, report.md and plots, written atomically
    compare.py   the side-by-side Markdown table of docs/results.md
    cli.py       `clinqa eval ...` (registered by ui/cli.py)

All quality metrics are percentages (0-100), including ranx's retrieval metrics
(which ranx returns as fractions and we multiply by 100).
"""
