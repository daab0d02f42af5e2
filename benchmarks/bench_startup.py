"""`clinqa` start-up: wall-clock seconds of subcommands that exit without real work, beside
`python -c pass`, measured side by side in one run.

    python benchmarks/bench_startup.py [--runs 3] [--json]

Each command is a fresh `python -m ui.cli ...` process of this checkout (cwd and PYTHONPATH
point at it); the time is from process start to exit, output captured. After one untimed
warm-up round (page cache), the commands run round-robin --runs times, so a busy machine
slows all of them alike; the table shows the median and the fastest run of each, and the
median as a multiple of the median of `python -c pass` (the interpreter alone). What the
`clinqa` rows add over `import ui.cli` is argument parsing and the handler; what
`import ui.cli` adds over `python -c pass` is the import of the command line and every
module it names (see its docstring: heavy libraries load only in the handlers).

`clinqa scrub` scrubs a 9-line clinical note from stdin: it loads Presidio and the clinical
NER model, so it is legitimately the slow one. `clinqa index info` on a missing directory is
the error path (exit 1). The last column lists the heavy libraries (torch, transformers, ONNX Runtime,
Gradio, Presidio, sentence-transformers, FAISS, pymilvus, Ray) found in `sys.modules` after
`ui.cli.main(ARGS)` in a separate process; it should be empty for every row but scrub.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common.cliparse import parse_args
from common.env import set_offline_defaults

ROOT = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "transformers", "onnxruntime", "gradio", "presidio_analyzer", "sentence_transformers",
         "faiss", "pymilvus", "ray")

NOTE = """\
Discharge summary, St. Mary's Hospital, ward 4B.
Patient: John Smith, DOB 03/04/1961, MRN 4481923.
Address: 12 Elm Street, Springfield. Phone 555-201-7788.
Admitted 2024-02-11 with chest pain radiating to the left arm.
Troponin raised; ECG showed ST elevation in leads II, III, aVF.
Treated with PCI to the right coronary artery, aspirin and ticagrelor.
Seen by Dr. Emily Carter (cardiology) on 2024-02-12.
Discharged home on 2024-02-15; follow-up in clinic in 6 weeks.
Contact his daughter Mary Smith at mary.smith@example.com.
"""

Case = tuple[str, list[str], str | None, int, list[str] | None]


def cases(missing_index: Path) -> list[Case]:
    """(label, arguments after `python`, stdin, expected exit status, the clinqa arguments of
    the heavy-module check or None); the first is the baseline."""
    missing = str(missing_index)
    return [
        ("python -c pass", ["-c", "pass"], None, 0, None),
        ("python -c 'import ui.cli'", ["-c", "import ui.cli"], None, 0, []),
        ("clinqa --help", ["-m", "ui.cli", "--help"], None, 0, ["--help"]),
        ("clinqa ask --help", ["-m", "ui.cli", "ask", "--help"], None, 0, ["ask", "--help"]),
        ("clinqa index build --help", ["-m", "ui.cli", "index", "build", "--help"], None, 0,
         ["index", "build", "--help"]),
        ("clinqa eval --help", ["-m", "ui.cli", "eval", "--help"], None, 0, ["eval", "--help"]),
        ("clinqa index info --index MISSING", ["-m", "ui.cli", "index", "info", "--index", missing], None, 1,
         ["index", "info", "--index", missing]),
        ("clinqa scrub < 9-line note", ["-m", "ui.cli", "scrub"], NOTE, 0, ["scrub"]),
    ]


# Runs ui.cli.main(ARGS) with its output discarded, then prints the heavy modules loaded.
HEAVY_PROBE = """\
import contextlib, io, json, sys
args = json.loads(sys.argv[1])
import ui.cli
if args:
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        try:
            ui.cli.main(args)
        except SystemExit:
            pass
print(json.dumps([m for m in json.loads(sys.argv[2]) if m in sys.modules]))
"""


def load_average() -> float | None:
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT)] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def run_once(argv: list[str], stdin: str | None, expected: int, env: dict[str, str]) -> float:
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, *argv], input=stdin, capture_output=True, text=True, cwd=ROOT, env=env)
    seconds = time.perf_counter() - t0
    if out.returncode != expected:
        raise SystemExit(f"python {' '.join(argv)}: exit {out.returncode}, expected {expected}\n{out.stderr[-2000:]}")
    return seconds


def heavy_modules(args: list[str], stdin: str | None, env: dict[str, str]) -> list[str]:
    out = subprocess.run([sys.executable, "-c", HEAVY_PROBE, json.dumps(args), json.dumps(HEAVY)], input=stdin,
                         capture_output=True, text=True, cwd=ROOT, env=env)
    if out.returncode != 0:
        raise SystemExit(f"heavy-module check of clinqa {' '.join(args)} failed\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3, help="timed runs of each command (median reported; default 3)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of a table")
    args = parse_args(ap, argv)
    if args.runs < 1:
        ap.error("--runs must be at least 1")
    set_offline_defaults()  # inherited by every child, as `clinqa` would set them itself
    env = child_env()
    load_before = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        todo = cases(Path(tmp) / "no-index-here")
        for _, cmd, stdin, expected, _ in todo:  # warm-up round: page cache, .pyc files
            run_once(cmd, stdin, expected, env)
        times: dict[str, list[float]] = {label: [] for label, *_ in todo}
        for _ in range(args.runs):
            for label, cmd, stdin, expected, _ in todo:
                times[label].append(run_once(cmd, stdin, expected, env))
        heavy = {label: heavy_modules(probe, stdin, env) for label, _, stdin, _, probe in todo if probe is not None}

    base = statistics.median(times[todo[0][0]])
    rows = {label: {"median_s": round(statistics.median(t), 4), "min_s": round(min(t), 4),
                    "ratio": round(statistics.median(t) / base, 2), "runs_s": [round(x, 4) for x in t],
                    "heavy_modules": heavy.get(label)} for label, t in times.items()}
    meta = {"python": sys.version.split()[0], "runs": args.runs, "cpus": os.cpu_count(),
            "load_1min_before": load_before, "load_1min_after": load_average()}
    if args.json:
        print(json.dumps({"meta": meta, "commands": rows}, indent=2))
        return 0
    print(f"python {meta['python']}, {meta['cpus']} CPUs, median of {args.runs} runs after one warm-up; "
          f"1-min load average {meta['load_1min_before']} before, {meta['load_1min_after']} after")
    print(f"| {'command':<36}| {'median s':>8} | {'min s':>7} | {'x python -c pass':>16} | heavy modules loaded |")
    print(f"|{'-' * 37}|{'-' * 10}|{'-' * 9}|{'-' * 18}|{'-' * 22}|")
    for label, r in rows.items():
        mods = "n/a" if r["heavy_modules"] is None else (", ".join(r["heavy_modules"]) or "none")
        print(f"| {label:<36}| {r['median_s']:8.3f} | {r['min_s']:7.3f} | {r['ratio']:16.1f} | {mods} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
