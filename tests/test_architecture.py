"""The layering of docs/decisions.md "Layers", checked on every run.

`pyproject.toml` [tool.importlinter] holds the contracts (ui > pipeline > indexer | retriever |
reader | tasks | privacy > store > common, with every allowed cross-import named and
explained); import-linter fails on any import that breaks them. Separately: no first-party
module may import another that (directly or not) imports it back.
"""
from __future__ import annotations

import os
import sys
from pathlib import Path

import grimp
import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "store", "indexer", "retriever", "reader", "tasks", "privacy", "pipeline", "ui")


@pytest.fixture(autouse=True)
def _this_checkout(monkeypatch):
    """Analyse this checkout's packages, whatever an installed copy says."""
    monkeypatch.chdir(ROOT)
    monkeypatch.syspath_prepend(str(ROOT))


def test_import_contracts_are_kept():
    import subprocess

    # In a child process: import-linter reconfigures logging, which would leak into later tests.
    code = ("import sys; from importlinter.cli import lint_imports; "
            f"sys.exit(lint_imports(config_filename={str(ROOT / 'pyproject.toml')!r}, no_cache=True, no_logo=True))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=240,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert out.returncode == 0, ("an import breaks the layers in pyproject.toml [tool.importlinter] "
                                 f"(run `lint-imports`):\n{out.stdout[-3000:]}{out.stderr[-2000:]}")


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    counter = 0
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_among_first_party_modules():
    graph = grimp.build_graph(*PACKAGES, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


HEAVY = ("torch", "transformers", "onnxruntime", "gradio", "pymilvus", "ray", "presidio_analyzer",
         "sentence_transformers", "faiss")


def test_cli_start_up_loads_no_heavy_library():
    """`clinqa --help`, `clinqa ask --help` and `clinqa index build --help` (the whole parser,
    then the subcommand help) load no heavy library: those load in the handlers.

    One child process runs main() with each in turn and reports what is loaded after each."""
    import json
    import subprocess

    code = ("import contextlib, io, json, sys, ui.cli\n"
            "for argv in json.loads(sys.argv[1]):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            ui.cli.main(argv)\n"
            "        except SystemExit:\n"
            "            pass\n"
            "    print(json.dumps([' '.join(argv), [m for m in json.loads(sys.argv[2]) if m in sys.modules]]))\n")
    argvs = [["--help"], ["ask", "--help"], ["index", "build", "--help"]]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    out = subprocess.run([sys.executable, "-c", code, json.dumps(argvs), json.dumps(HEAVY)],
                         capture_output=True, text=True, env=env, cwd=ROOT, timeout=240)
    assert out.returncode == 0, out.stderr
    loaded = dict(json.loads(line) for line in out.stdout.splitlines())
    assert loaded == {" ".join(a): [] for a in argvs}
