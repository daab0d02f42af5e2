"""The repository's stand-alone scripts (benchmarks/*.py, scripts/*.py) as modules for tests: they are
files, not packages, so tests import them by path."""
import importlib.util
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]


def load_script(relative: str) -> ModuleType:
    """The module of ROOT / `relative` (e.g. "benchmarks/bench_rerank.py"), named by its file stem and
    executed on each call."""
    path = ROOT / relative
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
