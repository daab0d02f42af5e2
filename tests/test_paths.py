"""common.paths.local_or_home: how a model named by a relative path is found (working directory,
then the checkout / CLINQA_HOME), and the warning when both hold a different folder of that name."""
import logging
from pathlib import Path

import pytest

from common.paths import local_or_home

pytestmark = pytest.mark.unit


def _model(folder: Path) -> Path:
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    return folder


def has_config(p: Path) -> bool:
    return (p / "config.json").is_file()


def test_working_directory_then_home_then_none(tmp_path, monkeypatch):
    home, work = tmp_path / "home", tmp_path / "work"
    _model(home / "models" / "m")
    work.mkdir()
    monkeypatch.chdir(work)
    assert local_or_home("models/m", has_config, home, "ner model") == home / "models" / "m"
    assert local_or_home("models/none", has_config, home, "ner model") is None
    assert local_or_home(str(home / "models" / "m"), has_config, tmp_path / "elsewhere", "ner model") == home / "models" / "m"


def test_a_shadowing_folder_in_the_working_directory_wins_with_one_warning(tmp_path, monkeypatch, caplog):
    import common.paths

    monkeypatch.setattr(common.paths, "_warned_shadowed", set())  # another test may have warned for this name
    home, work = tmp_path / "home", tmp_path / "work"
    _model(home / "models" / "enc")
    _model(work / "models" / "enc")
    monkeypatch.chdir(work)
    with caplog.at_level(logging.WARNING, logger="common.paths"):
        for _ in range(3):
            assert local_or_home("models/enc", has_config, home, "encoder") == Path("models/enc")
    warnings = [r.getMessage() for r in caplog.records]
    assert len(warnings) == 1 and "from the working directory" in warnings[0] and "absolute path" in warnings[0]
    caplog.clear()
    monkeypatch.chdir(home)  # the same folder both ways: nothing to warn about
    with caplog.at_level(logging.WARNING, logger="common.paths"):
        local_or_home("models/enc", has_config, home, "encoder")
    assert caplog.records == []


def test_an_empty_folder_or_a_file_does_not_shadow_the_checkouts_encoder(tmp_path, monkeypatch):
    import indexer.dense

    home, work = tmp_path / "home", tmp_path / "work"
    _model(home / "models" / "enc")
    (work / "models" / "enc").mkdir(parents=True)  # empty
    (work / "models" / "file").parent.mkdir(exist_ok=True)
    (work / "models" / "file").write_text("not a model")
    _model(home / "models" / "file")
    monkeypatch.setattr(indexer.dense, "HOME", home)
    monkeypatch.chdir(work)
    assert indexer.dense.resolve_encoder_path("models/enc") == str(home / "models" / "enc")
    assert indexer.dense.resolve_encoder_path("models/file") == str(home / "models" / "file")
