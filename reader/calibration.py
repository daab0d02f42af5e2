"""Calibration of the reader's answer probability and the no-answer threshold.

Raw span scores (start + end logit) are not probabilities, and the softmax over the
n-best list only says how an answer compares with its rivals, not whether it is right.
We fit Platt scaling on dev: P(correct | score) = sigmoid(score / temperature + bias),
where "correct" means SQuAD F1 >= 0.5 against the gold answers. The no-answer threshold
is the probability cut that best separates correct from wrong top answers on dev.

    python -m reader.calibration --model models/reader-mpnet --dev FILE... [--backend torch]

writes MODEL/calibration.json, read by ExtractiveReader at warm_up(). The fitting
functions are pure (numpy in, numbers out) and unit-tested.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import sys
from pathlib import Path
from typing import Sequence

import numpy as np


from common.cliparse import parse_args
from common.errors import run_entry_point
from reader.config import CALIBRATION_FILE, ReaderConfig
from reader.errors import ReaderError
from reader.postprocess import softmax
from reader.reader import ExtractiveReader
from reader.squad import f1_score, load_squad, metric_max_over_ground_truths
logger = logging.getLogger(__name__)

CORRECT_F1 = 0.5


def sigmoid(x):
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # overflow-free logistic


def fit_platt(scores: Sequence[float], labels: Sequence[int], l2: float = 1e-3, iters: int = 100) -> tuple[float, float]:
    """Fit P(label=1) = sigmoid(score / temperature + bias) by Newton's method on the
    log-loss (tiny L2 on the slope keeps it finite on separable data).
    Returns (temperature, bias). Needs both classes present."""
    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(s) != len(y) or len(s) == 0:
        raise ValueError("scores and labels must be non-empty and of equal length")
    if y.min() == y.max():
        raise ValueError("calibration needs both correct and wrong answers")
    # Platt's target smoothing avoids infinite weights when classes separate perfectly.
    n1, n0 = y.sum(), len(y) - y.sum()
    t = np.where(y > 0, (n1 + 1) / (n1 + 2), 1 / (n0 + 2))
    X = np.stack([s, np.ones_like(s)], axis=1)
    w = np.array([0.1, 0.0])
    for _ in range(iters):
        p = sigmoid(X @ w)
        grad = X.T @ (p - t) + np.array([l2 * w[0], 0.0])
        H = (X * (p * (1 - p))[:, None]).T @ X + np.diag([l2, 1e-9])
        step = np.linalg.solve(H, grad)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    a, b = float(w[0]), float(w[1])
    if a <= 1e-6:
        # A non-positive slope means the score carries no signal here; fall back to a flat
        # prior rather than inverting the ranking.
        logger.warning("calibration slope %.3g <= 0: scores do not predict correctness", a)
        return 1e6, float(np.log(n1 / n0))
    return 1.0 / a, b


def apply_platt(scores, temperature: float, bias: float) -> np.ndarray:
    return sigmoid(np.asarray(scores, dtype=np.float64) / temperature + bias)


def expected_calibration_error(probs: Sequence[float], labels: Sequence[int], n_bins: int = 10) -> float:
    """ECE with equal-width bins: sum over bins of |accuracy - confidence| x bin share."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if len(p) == 0:
        return 0.0
    bins = np.minimum((p * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - p[m].mean())
    return float(ece)


def fit_threshold(probs: Sequence[float], labels: Sequence[int]) -> float:
    """Probability threshold maximising the accuracy of "answer if p >= t, else abstain"
    (a correct answer above t and a wrong one below t both count as right decisions).
    Ties go to the lowest threshold (abstain less)."""
    p = np.asarray(probs, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(p) == 0:
        return 0.5
    cands = np.unique(np.concatenate([p, [0.0, 1.0 + 1e-9]]))
    best_t, best_acc = 0.5, -1.0
    for t in cands:
        acc = float(((p >= t) & (y == 1)).sum() + ((p < t) & (y == 0)).sum()) / len(p)
        if acc > best_acc + 1e-12:
            best_t, best_acc = float(t), acc
    return min(best_t, 1.0)


def _fold(key: str) -> int:
    return int(hashlib.sha256(key.encode()).hexdigest(), 16) % 2


def calibrate(
    scores: Sequence[float], labels: Sequence[int], groups: Sequence[str], softmax_probs: Sequence[float] | None = None
) -> dict:
    """Fit temperature/bias/threshold on all data and report ECE honestly: the "after"
    ECE is 2-fold cross-fitted (folds by group, e.g. question id), so it is not measured
    on the data the parameters were fitted on."""

    s = np.asarray(scores, dtype=np.float64)
    y = np.asarray(labels, dtype=np.int64)
    if len(y) == 0 or y.min() == y.max():
        raise ReaderError(
            f"cannot calibrate: {int(y.sum())} of {len(y)} top answers are correct",
            hint="calibrate a trained reader on dev files where it gets some answers right and some wrong",
        )
    T, b = fit_platt(s, y)
    folds = np.array([_fold(g) for g in groups])
    cross = np.zeros_like(s)
    for f in (0, 1):
        tr, te = folds != f, folds == f
        if te.any():
            try:
                Tf, bf = fit_platt(s[tr], y[tr])
            except ValueError:  # a fold with one class: use the full fit
                Tf, bf = T, b
            cross[te] = apply_platt(s[te], Tf, bf)
    probs = apply_platt(s, T, b)
    thr = fit_threshold(probs, y)
    out = {
        "temperature": T,
        "bias": b,
        "no_answer_threshold": thr,
        "correct_if": f"SQuAD F1 >= {CORRECT_F1}",
        "n": int(len(s)),
        "accuracy": float(y.mean()),
        "ece_after_crossfit": expected_calibration_error(cross, y),
        "ece_after_insample": expected_calibration_error(probs, y),
        "answer_rate_at_threshold": float((probs >= thr).mean()),
        "precision_at_threshold": float(y[probs >= thr].mean()) if (probs >= thr).any() else 0.0,
    }
    if softmax_probs is not None:
        out["ece_before_softmax"] = expected_calibration_error(softmax_probs, y)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, prog="python -m reader.calibration", description="fit calibration.json on dev files")
    ap.add_argument("--model", required=True)
    ap.add_argument("--dev", nargs="+", required=True)
    ap.add_argument("--backend", default="onnx", choices=["onnx", "torch"])
    ap.add_argument("--threads", type=int, default=2)
    return run_entry_point(_fit_and_write, parse_args(ap, argv))


def _fit_and_write(args: argparse.Namespace) -> int:
    reader = ExtractiveReader(ReaderConfig(model=args.model, backend=args.backend, num_threads=args.threads))
    reader.warm_up()
    scores, labels, groups, smax = [], [], [], []
    for path in args.dev:
        exs = load_squad(path)
        cands = reader.predict_examples(exs)
        for ex in exs:
            c = cands[ex.id][0]
            if not c:
                continue
            f1 = metric_max_over_ground_truths(f1_score, c[0].text, ex.answers)
            scores.append(c[0].score)
            labels.append(int(f1 >= CORRECT_F1))
            groups.append(ex.id.rsplit("_", 1)[0])  # BioASQ: one question, many snippets
            smax.append(softmax([x.score for x in c])[0])

    res = calibrate(scores, labels, groups, smax)
    res["dev_files"] = [str(p) for p in args.dev]
    res["backend"] = reader.describe()
    out = Path(args.model) / CALIBRATION_FILE
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(res, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
