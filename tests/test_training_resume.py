"""Resume equivalence for every trainer on the one loop (common.training.run_training).

Each of the seven trainers (reader, MLM, NER, classification, yes/no, reranker, dense
retriever) trains a tiny random-weight model N steps without interruption, and again
"killed" after k steps (a checkpoint written, the function returns) and resumed with
`resume=True` in the same output directory: the final weights must be the same (within
float tolerance). Also: a checkpoint in the format of the reader's former loop (with a
`scheduler` entry, no `best_eval`/`extra`), the format a long reader run writes today,
still resumes to the same weights.
"""
from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import pytest
import torch

from common.training import CHECKPOINT_DIR, STATE_FILE
from reader.testing import TINY_SQUAD_ITEMS, make_tiny_qa_model, write_squad
from tasks.ner import write_bio
from tasks.testing import TINY_BIO_SENTENCES, make_tiny_base

pytestmark = pytest.mark.integration

QA = TINY_SQUAD_ITEMS
NER = TINY_BIO_SENTENCES
TOPICS = ["glaucoma", "diabetes", "asthma", "malaria", "anemia", "migraine", "psoriasis", "gout"]


@pytest.fixture(scope="module")
def bases(tmp_path_factory):
    d = tmp_path_factory.mktemp("bases")
    return {"qa": str(make_tiny_qa_model(d / "qa")), "encoder": str(make_tiny_base(d / "encoder")), "dir": d}


def _tiny_sentence_transformer(encoder: str, out: Path) -> str:
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer

    tr = Transformer(encoder, max_seq_length=64)
    model = SentenceTransformer(modules=[tr, Pooling(tr.get_embedding_dimension(), pooling_mode="mean")], device="cpu")
    model.save(str(out), create_model_card=False)
    return str(out)


# Each case: (train function, config class, config keyword arguments); built from `bases` and a data folder.
# Settings exercise what resuming must restore: a kill mid-epoch, gradient accumulation, dropout (RNG),
# evaluations every few steps, the best-model selection, the time-budget-free LR schedule.

def _reader(b, d):
    from reader.train import TrainConfig, train_reader

    train = write_squad(d / "train.json", QA)
    dev = write_squad(d / "dev.json", QA[:3])
    return train_reader, TrainConfig, dict(
        base=b["qa"], train_files=(str(train),), dev_files=(str(dev),), epochs=2, lr=1e-3, batch_size=2,
        grad_accum=2, max_seq_len=64, doc_stride=16, eval_max_seq_len=64, eval_doc_stride=16, eval_every=1,
        threads=1, progress=False, seed=3)


def _reader_open_domain(b, d):
    train_reader, cls, kw = _reader(b, d)
    return train_reader, cls, {**kw, "negatives": 2, "grad_accum": 1, "eval_every": 0}


def _mlm(b, d):
    from reader.mlm import MLMConfig, train_mlm

    corpus = d / "corpus.txt"
    corpus.write_text("".join(ctx + "\n" for ctx, _, _ in QA) * 4)
    return train_mlm, MLMConfig, dict(base=b["qa"], corpus_files=(str(corpus),), epochs=3, batch_size=2,
                                      max_seq_len=32, lr=1e-3, threads=1, progress=False, seed=4)


def _ner(b, d):
    from tasks.ner import NerTrainConfig, train_ner

    train, dev = write_bio(d / "train.tsv", NER), write_bio(d / "dev.tsv", NER[:3])
    return train_ner, NerTrainConfig, dict(base=b["encoder"], train_files=(str(train),), dev_file=str(dev), epochs=2,
                                           lr=1e-3, batch_size=2, max_seq_len=32, threads=1, progress=False, seed=5)


def _classify(b, d):
    from tasks.classify import ClassifyTrainConfig, train_classify

    rows = [("renal failure in diabetes", "C12"), ("thyroid nodule", "C19"), ("kidney stones", "C12"),
            ("insulin resistance", "C19"), ("nephrotic syndrome", "C12"), ("diabetic goitre", "C19")]
    train = d / "t.jsonl"
    train.write_text("".join(json.dumps({"text": t, "label": l}) + "\n" for t, l in rows))
    return train_classify, ClassifyTrainConfig, dict(base=b["encoder"], train=str(train), dev=str(train), epochs=2,
                                                     lr=1e-3, batch_size=2, max_seq_len=16, threads=1, progress=False,
                                                     eval_every=2)


def _yesno(b, d):
    from tasks.yesno import YesNoTrainConfig, train_yesno

    rows = [{"id": f"q{i}", "question": f"Is gene {i} linked to cancer?", "answer": "yes" if i % 2 else "no",
             "snippets": [f"Gene {i} is mutated in tumours.", f"Gene {i} expression was measured."]} for i in range(6)]
    f = d / "b.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return train_yesno, YesNoTrainConfig, dict(base=b["encoder"], bioasq=(str(f),), epochs=2, batch_size=4,
                                                max_seq_len=32, lr=1e-3, threads=1, progress=False)


def _reranker(b, d):
    from tasks.reranker import RerankTrainConfig, train_reranker

    items = [(f"Condition {i} is treated with drug{i} tablets. Rest helps.", f"What treats condition {i}?", f"drug{i}")
             for i in range(8)]
    train, dev = write_squad(d / "train.json", items), write_squad(d / "dev.json", items[:3])
    return train_reranker, RerankTrainConfig, dict(base=b["encoder"], train=(str(train),), dev=(str(dev),), group_size=3,
                                                   batch_size=2, max_seq_len=64, dense_negatives=False, epochs=2,
                                                   lr=1e-3, threads=1, progress=False, seed=3)


def _retriever(b, d):
    from tasks.retriever import RetrieverTrainConfig, train_retriever

    st = _tiny_sentence_transformer(b["encoder"], d / "st")
    pairs = d / "pairs.jsonl"
    pairs.write_text("".join(json.dumps({"query": f"what is {t}?", "positive": f"{t} is a disease; {t} facts."}) + "\n"
                             for t in TOPICS))
    return train_retriever, RetrieverTrainConfig, dict(base=st, train_files=(str(pairs),), epochs=3, batch_size=4,
                                                       max_seq_len=32, lr=1e-3, warmup=0.2, threads=1, progress=False,
                                                       log_every=2)


CASES = {"reader": _reader, "reader_open_domain": _reader_open_domain, "mlm": _mlm, "ner": _ner,
         "classify": _classify, "yesno": _yesno, "reranker": _reranker, "retriever": _retriever}


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    """The weights a run ended with: its final checkpoint, or (trainers that remove a finished
    run's checkpoint: MLM, retriever) the model it saved."""
    state = out / CHECKPOINT_DIR / STATE_FILE
    if state.is_file():
        return torch.load(state, map_location="cpu", weights_only=False)["model"]
    from safetensors.torch import load_file

    return load_file(str(out / "model.safetensors"))


def assert_same_weights(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6, rtol=1e-5), k


@pytest.mark.parametrize("name", list(CASES))
def test_killed_and_resumed_run_ends_with_the_uninterrupted_weights(bases, tmp_path, name):
    train, cls, kw = CASES[name](bases, tmp_path)
    full = train(cls(out_dir=str(tmp_path / "full"), **kw))
    total = full.get("total_steps", full.get("planned_steps"))
    assert total >= 4
    k = total // 2 + 1  # mid-epoch for every case here
    assert train(cls(out_dir=str(tmp_path / "killed"), **kw), interrupt_after=k) == {"interrupted_at": k}
    at_kill = torch.load(tmp_path / "killed" / CHECKPOINT_DIR / STATE_FILE, weights_only=False)
    assert at_kill["step"] == k and at_kill["batch_in_epoch"] > 0
    resumed = train(cls(out_dir=str(tmp_path / "killed"), resume=True, **kw))
    a, b = final_weights(tmp_path / "full"), final_weights(tmp_path / "killed")
    assert_same_weights(a, b)
    # ... and training went on after the kill (checkpoint keys may carry a wrapper's prefix).
    moved = [not torch.equal(v.float(), b[key].float()) for n, v in at_kill["model"].items()
             for key in [next((key for key in b if n.endswith(key)), None)] if key is not None]
    assert moved and any(moved)
    for key in ("history", "steps_done", "steps", "best_mean_f1", "first_loss", "last_loss", "loss_last_50"):
        if key in full and key != "history":
            assert resumed[key] == pytest.approx(full[key]), key
    if "history" in full and name not in ("retriever",):  # evaluations: same steps, same scores
        strip = lambda hs: [{k: v for k, v in h.items() if k not in ("eval_s", "elapsed_s")} for h in hs]  # noqa: E731
        assert json.loads(json.dumps(strip(resumed["history"]))) == pytest.approx(json.loads(json.dumps(strip(full["history"]))))


def test_a_checkpoint_of_the_former_reader_loop_resumes(bases, tmp_path):
    """The reader's checkpoint format before the one loop (keys model, optimizer, scheduler, step,
    epoch, batch_in_epoch, best, history, rng, config, n_features, train_seconds; the optimizer's
    groups carrying the LambdaLR's `initial_lr`) resumes to the uninterrupted weights."""
    from transformers import get_linear_schedule_with_warmup

    from reader.train import TrainConfig, train_reader

    train, _, kw = _reader(bases, tmp_path)
    kw = {**kw, "grad_accum": 1, "eval_every": 0}
    train(TrainConfig(out_dir=str(tmp_path / "full"), **kw))
    assert train(TrainConfig(out_dir=str(tmp_path / "old"), **kw), interrupt_after=4) == {"interrupted_at": 4}
    path = tmp_path / "old" / CHECKPOINT_DIR / STATE_FILE
    new = torch.load(path, weights_only=False)
    # Rebuild the optimizer and scheduler state as the former loop held them at that step.
    from common.training import adamw
    from reader.train import _load_model

    _, model = _load_model(kw["base"])
    model.load_state_dict(new["model"])
    opt = adamw(model, kw["lr"], 0.01)
    opt.load_state_dict(new["optimizer"])
    sched = get_linear_schedule_with_warmup(opt, int(0.1 * 6), 6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # stepping the scheduler alone, to where the former loop had it
        for _ in range(new["step"]):
            sched.step()
    legacy = {"model": new["model"], "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
              "step": new["step"], "epoch": new["epoch"], "batch_in_epoch": new["batch_in_epoch"],
              "best": -1.0 if math.isinf(new["best"]) else new["best"], "history": new["history"], "rng": new["rng"],
              "config": new["config"], "n_features": new["n_features"], "train_seconds": new["train_seconds"]}
    assert "initial_lr" in legacy["optimizer"]["param_groups"][0]
    torch.save(legacy, path)
    resumed = train_reader(TrainConfig(out_dir=str(tmp_path / "old"), resume=True, **kw))
    assert [h["step"] for h in resumed["history"]] == [3, 6]
    assert_same_weights(final_weights(tmp_path / "full"), final_weights(tmp_path / "old"))
