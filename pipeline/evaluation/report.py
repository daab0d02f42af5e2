"""Output files of an evaluation run: metrics.json, predictions.jsonl, report.md and plots.

Everything is written under temporary names first and renamed at the end, metrics.json
last, so a killed run never leaves files that look complete: a folder with metrics.json
holds a finished run.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

from pipeline.evaluation.runners import EvalResult

log = logging.getLogger(__name__)

METRIC_ORDER = (
    "exact_match", "f1", "strict_accuracy", "lenient_accuracy", "mrr", "list_precision", "list_recall", "list_f1",
    "recall@1", "recall@5", "recall@10", "recall@20", "recall@100", "mrr@10", "ndcg@10",
    "gold_doc_retrieved", "ece", "latency_ms_p50", "latency_ms_p95", "n",
)


def ordered(metrics: dict[str, float]) -> list[str]:
    """Stable display order: known metrics, then others (e.g. answer_recall@K) by name, `n` last."""
    known = [k for k in METRIC_ORDER if k in metrics and k != "n"]
    return known + sorted(k for k in metrics if k not in METRIC_ORDER) + (["n"] if "n" in metrics else [])


def fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def to_json(result: EvalResult) -> str:
    return json.dumps(result.to_json(), indent=2, sort_keys=False, default=str)


def metrics_table(rows: dict[str, dict[str, float]]) -> str:
    cols = ordered(next(iter(rows.values()))) if rows else []
    lines = ["| run | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, m in rows.items():
        lines.append(f"| {name} | " + " | ".join(fmt(m.get(c, "")) for c in cols) + " |")
    return "\n".join(lines)


def _plot_recall(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for name, curve in result.curves.items():
        ks = sorted(curve)
        ax.plot(ks, [curve[k] for k in ks], marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("k (documents)")
    ax.set_ylabel("Recall@k (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Recall@k per retriever")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def _plot_reliability(result: EvalResult, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    bins = result.reliability
    ax.bar([b["lo"] for b in bins], [b["accuracy"] for b in bins], width=[b["hi"] - b["lo"] for b in bins],
           align="edge", alpha=0.6, edgecolor="black", label="accuracy per bin")
    ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", color="C1", label="mean confidence")
    ax.set_xlabel("top answer probability")
    ax.set_ylabel("share correct")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(fontsize=8)
    ax.set_title(f"Reader reliability (ECE {result.metrics.get('ece', 0.0):.1f})")
    fig.tight_layout()
    fig.savefig(path, format="png", dpi=100)
    plt.close(fig)


def render_markdown(result: EvalResult, plots: list[str]) -> str:
    lines = [f"# clinqa eval {result.task}", ""]
    lines += ["All quality metrics are percentages (0-100).", ""]
    rows = result.runs or {result.config.get("reader", result.task): result.metrics}
    lines += [metrics_table(rows), ""]
    if result.runs:
        lines += [f"Primary run: `{result.config.get('primary_run')}`; latency p50 {result.metrics['latency_ms_p50']:.1f} ms, "
                  f"p95 {result.metrics['latency_ms_p95']:.1f} ms per query (both legs).", ""]
    lines += ["## Configuration", "", "| key | value |", "|---|---|"]
    lines += [f"| {k} | `{v}` |" for k, v in result.config.items()]
    lines.append("")
    for name in plots:
        lines += [f"![{name}]({name})", ""]
    lines += ["Per-question output: `predictions.jsonl`; metrics: `metrics.json`.", ""]
    return "\n".join(lines)


def write_outputs(result: EvalResult, out_dir: Path) -> Path:
    """Write the run into `out_dir` (created if needed); returns the metrics.json path."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tag = f".tmp-{os.getpid()}"
    staged: list[tuple[Path, Path]] = []

    def stage(name: str) -> Path:
        tmp = out_dir / f".{name}{tag}"
        staged.append((tmp, out_dir / name))
        return tmp

    try:
        plots = []
        if result.curves:
            _plot_recall(result, stage("recall_at_k.png"))
            plots.append("recall_at_k.png")
        if result.reliability:
            _plot_reliability(result, stage("reliability.png"))
            plots.append("reliability.png")
        with open(stage("predictions.jsonl"), "w", encoding="utf-8") as fh:
            for row in result.predictions:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
        stage("report.md").write_text(render_markdown(result, plots), encoding="utf-8")
        stage("metrics.json").write_text(to_json(result) + "\n", encoding="utf-8")
        for tmp, final in staged:  # metrics.json was staged last, so it lands last
            os.replace(tmp, final)
    finally:
        for tmp, _ in staged:
            tmp.unlink(missing_ok=True)
    log.info("wrote %s", out_dir)
    return out_dir / "metrics.json"
