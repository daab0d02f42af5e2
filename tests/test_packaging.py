"""An installed wheel works from any directory (issue 15, "Packaging").

The wheel carries code only; the shipped models and the bundled corpus are found through
`CLINQA_HOME` (common.paths). Unit tests check the error that names it; the slow tests build
the wheel from this checkout, install it into a fresh virtual environment and run `clinqa
index build` and `clinqa ask` from a temporary directory, with and without `CLINQA_HOME`.
"""
from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
from pathlib import Path

import pytest

import common.paths
from common.paths import HomeError, check_home, home_problem
from indexer.manifest import read_manifest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("common", "indexer", "retriever", "reader", "store", "ui", "pipeline", "privacy", "tasks")
DOCS = [
    {"id": "glaucoma", "title": "What is glaucoma?",
     "text": "Glaucoma is a group of diseases that damage the optic nerve. Open-angle glaucoma is the most "
             "common form. Treatment with eye drops that lower eye pressure slows the loss of vision."},
    {"id": "metformin", "title": "Metformin",
     "text": "Metformin is the first-line drug for type 2 diabetes. It lowers blood glucose by reducing glucose "
             "production in the liver. Common side effects are nausea and diarrhoea."},
    {"id": "asthma", "title": "Asthma",
     "text": "Asthma is a chronic disease of the airways. Inhaled corticosteroids are the usual long-term "
             "treatment, and salbutamol relieves symptoms during an attack."},
]


# -- the error that names CLINQA_HOME (no I/O beyond tmp files) -----------------------------
@pytest.mark.unit
def test_home_with_models_is_fine(tmp_path):
    (tmp_path / "models").mkdir()
    assert home_problem(tmp_path, from_env=True) is None
    assert home_problem(tmp_path, from_env=False) is None


@pytest.mark.unit
def test_missing_models_name_clinqa_home_and_how_to_set_it(tmp_path):
    message, hint = home_problem(tmp_path, from_env=True)
    assert f"CLINQA_HOME={tmp_path}" in message and "models/" in message
    assert "export CLINQA_HOME=" in hint and "models/ and data/" in hint
    message, hint = home_problem(tmp_path, from_env=False)
    assert "CLINQA_HOME is not set" in message and str(tmp_path / "models") in message
    assert "export CLINQA_HOME=" in hint


@pytest.mark.unit
def test_check_home_raises_the_callers_family_with_its_way_out(tmp_path, monkeypatch):
    from reader.errors import ReaderModelError

    monkeypatch.setattr(common.paths, "HOME", tmp_path)
    monkeypatch.setattr(common.paths, "HOME_FROM_ENV", True)
    with pytest.raises(HomeError) as err:
        check_home()
    assert "CLINQA_HOME" in err.value.message and err.value.hint.startswith("set CLINQA_HOME")
    with pytest.raises(ReaderModelError) as err:
        check_home(ReaderModelError, also="or pass --reader DIR")
    assert err.value.hint.endswith("; or pass --reader DIR")
    (tmp_path / "models").mkdir()
    check_home()  # fine now


@pytest.mark.unit
def test_index_build_names_clinqa_home_before_loading_anything(tmp_path, monkeypatch, capsys):
    from ui.cli import main

    monkeypatch.setattr(common.paths, "HOME", tmp_path)
    monkeypatch.setattr(common.paths, "HOME_FROM_ENV", False)
    src = tmp_path / "tiny.jsonl"
    src.write_text(json.dumps(DOCS[0]) + "\n")
    assert main(["index", "build", "--index", str(tmp_path / "idx"), str(src)]) == 1
    err = capsys.readouterr().err
    assert "clinqa: error:" in err and "CLINQA_HOME is not set" in err
    assert "clinqa: hint: set CLINQA_HOME" in err and "--no-annotate" in err
    assert not (tmp_path / "idx").exists()


@pytest.mark.unit
def test_shipped_defaults_follow_home():
    from indexer.annotate import bundled_cache_path
    from indexer.embcache import bundled_embeddings_path
    from reader.config import DEFAULT_MODEL_DIR
    from retriever.rerank import DEFAULT_RERANKER_DIR
    from tasks import shipped

    home = common.paths.HOME
    assert DEFAULT_MODEL_DIR == home / "models" / "reader-mpnet"
    assert DEFAULT_RERANKER_DIR == home / "models" / "reranker"
    assert shipped.SHIPPED_NER_DIR == home / "models" / "ner"
    assert shipped.SHIPPED_CLASSIFIER_DIR == home / "models" / "classifier"
    assert bundled_cache_path().parent == bundled_embeddings_path().parent == common.paths.BUNDLED_CORPUS.parent
    assert common.paths.BUNDLED_CORPUS == home / "data" / "corpus" / "medquad.jsonl.gz"


# -- the wheel, installed into a fresh virtual environment ----------------------------------
def _clean_env(**extra: str) -> dict[str, str]:
    """The environment of a user who installed the wheel: no PYTHONPATH pointing at a checkout,
    no CLINQA_HOME / CLINQA_INDEX of ours; offline like every test."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "CLINQA_HOME", "CLINQA_INDEX", "VIRTUAL_ENV")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONNOUSERSITE="1", **extra)
    return env


def _run(cmd: list[str], cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """Build the wheel from a copy of this checkout's sources (the checkout stays clean), make a
    venv that reuses the installed dependencies (offline) and install the wheel without them."""
    pytest.importorskip("setuptools")
    work = tmp_path_factory.mktemp("packaging")
    src = work / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for pkg in PACKAGES:
        shutil.copytree(ROOT / pkg, src / pkg, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    dist = work / "dist"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    out = _run([*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "-w", dist, src], work, _clean_env())
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    wheel = next(dist.glob("clinqa-*.whl"))

    venv = work / "venv"
    out = _run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip", venv], work, _clean_env())
    assert out.returncode == 0, out.stderr[-3000:]
    python = venv / "bin" / "python"
    purelib = Path(_run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                        work, _clean_env()).stdout.strip())
    if sys.prefix != sys.base_prefix:
        # Running inside a venv: --system-site-packages would reach the base interpreter's
        # packages only, so the new venv also sees this one's (plain paths: no .pth runs there).
        (purelib / "_clinqa_test_parent.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    out = _run([*pip, "--python", python, "install", "--no-deps", "--no-index", wheel], work, _clean_env())
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    return {"wheel": wheel, "venv": venv, "python": python, "purelib": purelib, "clinqa": venv / "bin" / "clinqa"}


@pytest.fixture(scope="module")
def elsewhere(tmp_path_factory):
    """A working directory that is not the checkout, with a three-document corpus in it."""
    cwd = tmp_path_factory.mktemp("user")
    (cwd / "tiny.jsonl").write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    return cwd


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_wheel_carries_code_not_models(installed):
    import zipfile

    names = zipfile.ZipFile(installed["wheel"]).namelist()
    tops = {n.split("/")[0] for n in names if not n.startswith("clinqa-")}
    assert tops == set(PACKAGES)
    assert not any(n.endswith((".onnx", ".safetensors", ".gz", ".npz")) for n in names)
    assert "clinqa-0.1.0.dist-info/entry_points.txt" in names


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_the_venv_imports_the_wheels_copy_not_the_checkout(installed, elsewhere):
    code = ("import json, common.paths, ui.cli, tasks, reader, indexer, store, pipeline, privacy, retriever; "
            "print(json.dumps({m: sys.modules[m].__file__ for m in "
            "('common.paths', 'ui.cli', 'tasks', 'reader', 'indexer', 'store', 'pipeline', 'privacy', 'retriever')}))")
    out = _run([installed["python"], "-c", "import sys; " + code], elsewhere, _clean_env())
    assert out.returncode == 0, out.stderr[-3000:]
    for module, path in json.loads(out.stdout).items():
        assert Path(path).is_relative_to(installed["purelib"]), f"{module} imported from {path}, not the wheel's copy"
    assert installed["clinqa"].is_file()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_index_build_and_ask_from_any_directory_with_clinqa_home(installed, elsewhere):
    env = _clean_env(CLINQA_HOME=str(ROOT))
    index = elsewhere / "idx"
    # Annotated like a default build: the shipped NER model and classifier come from CLINQA_HOME.
    out = _run([installed["clinqa"], "index", "build", "--index", index, "--json", "tiny.jsonl"], elsewhere, env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    report = json.loads(out.stdout)
    assert report["documents"] == 3 and not report["failed"]
    manifest = read_manifest(index)
    assert manifest["annotations"] == {"ner_model": "shipped", "classifier_model": "shipped"}

    out = _run([installed["clinqa"], "ask", "--index", index, "--json", "What is the first-line drug for type 2 diabetes?"],
               elsewhere, env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    answer = json.loads(out.stdout)
    assert answer["answers"], answer
    assert "metformin" in answer["answers"][0]["text"].lower() or answer["answers"][0]["doc_id"] == "metformin"
    assert not (elsewhere / "models").exists() and not (elsewhere / "data").exists()


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_without_clinqa_home_the_error_names_it(installed, elsewhere):
    env = _clean_env()
    out = _run([installed["clinqa"], "index", "build", "--index", elsewhere / "no-idx", "tiny.jsonl"], elsewhere, env)
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "CLINQA_HOME is not set" in out.stderr and "clinqa: hint: set CLINQA_HOME" in out.stderr
    # The message names the wheel's own (empty) place: the CLI ran the installed copy.
    assert str(installed["purelib"] / "models") in out.stderr
    assert "Traceback" not in out.stderr and not (elsewhere / "no-idx").exists()

    # A wrong CLINQA_HOME is named as such.
    out = _run([installed["clinqa"], "index", "build", "--index", elsewhere / "no-idx", "tiny.jsonl"], elsewhere,
               _clean_env(CLINQA_HOME=str(elsewhere)))
    assert out.returncode == 1 and f"CLINQA_HOME={elsewhere} holds no models/" in out.stderr, out.stderr[-3000:]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_ask_without_clinqa_home_names_it(installed, elsewhere):
    index = elsewhere / "plain-idx"
    # Building without the annotation models needs no shipped file (the encoder is a package).
    out = _run([installed["clinqa"], "index", "build", "--index", index, "--no-annotate", "tiny.jsonl"],
               elsewhere, _clean_env())
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    out = _run([installed["clinqa"], "ask", "--index", index, "What is glaucoma?"], elsewhere, _clean_env())
    assert out.returncode == 1, out.stdout[-3000:] + out.stderr[-3000:]
    assert "CLINQA_HOME is not set" in out.stderr and "clinqa: hint: set CLINQA_HOME" in out.stderr
    assert "Traceback" not in out.stderr
