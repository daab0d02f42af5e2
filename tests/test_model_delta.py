"""scripts/model_delta.py: a model trained with frozen word embeddings ships as base + delta."""
import json
from pathlib import Path

import pytest
import torch

from tasks.testing import make_tiny_base
from repo_scripts import load_script

pytestmark = pytest.mark.integration

model_delta = load_script("scripts/model_delta.py")


def _fine_tuned(base: Path, out: Path) -> Path:
    """A one-output classifier from `base` whose encoder moved but whose word embeddings did not."""
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(base), num_labels=1, dtype=torch.float32)
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "word_embeddings" not in name:
                p.add_(0.05 * torch.randn_like(p))
    model.save_pretrained(out)
    AutoTokenizer.from_pretrained(str(base)).save_pretrained(out)
    (out / "task.json").write_text('{"task": "reranker"}\n')
    return out


def _logits(path: Path) -> torch.Tensor:
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model = AutoModelForSequenceClassification.from_pretrained(str(path), dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(str(path))
    enc = tok(["what is fever?"] * 2, ["Fever is a raised body temperature.", "Cats purr."], return_tensors="pt",
              padding=True)
    with torch.no_grad():
        return model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"]).logits.view(-1)


def test_pack_drops_the_base_embeddings_and_unpack_restores_the_model(tmp_path):
    base = make_tiny_base(tmp_path / "base")
    tuned = _fine_tuned(base, tmp_path / "tuned")
    manifest = model_delta.pack(base, tuned, tmp_path / "pack", max_part_mb=0.02)
    assert list(manifest["omitted"]) == ["bert.embeddings.word_embeddings.weight"]
    assert len(manifest["parts"]) >= 2  # split at the part size
    packed = sum((tmp_path / "pack" / p).stat().st_size for p in manifest["parts"])
    assert packed < (tuned / "model.safetensors").stat().st_size / 2 * 0.5  # fp16 and no embeddings
    assert json.loads((tmp_path / "pack" / "task.json").read_text()) == {"task": "reranker"}

    out = model_delta.unpack(base, tmp_path / "pack", tmp_path / "restored")
    assert torch.allclose(_logits(out), _logits(tuned), atol=2e-3)
    assert (out / "task.json").is_file() and not (out / "delta.json").exists()


def test_unpack_refuses_another_base(tmp_path):
    base = make_tiny_base(tmp_path / "base", seed=0)
    other = make_tiny_base(tmp_path / "other", seed=1)
    model_delta.pack(base, _fine_tuned(base, tmp_path / "tuned"), tmp_path / "pack")
    with pytest.raises(model_delta.DeltaError, match="same base"):
        model_delta.unpack(other, tmp_path / "pack", tmp_path / "restored")
    with pytest.raises(model_delta.DeltaError, match="delta.json"):
        model_delta.unpack(base, tmp_path / "nowhere", tmp_path / "restored2")
