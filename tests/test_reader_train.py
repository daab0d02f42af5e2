"""Reader training on a tiny random BERT: steps run, checkpoints resume exactly, the
output directory is a loadable Hugging Face QA model."""
import json

import pytest
import torch

from reader.errors import TrainingError
from reader.features import locate_answer, make_train_features
from reader.squad import load_squad
from reader.testing import TINY_SQUAD_ITEMS, make_tiny_qa_model, write_squad
from reader.train import TrainConfig, add_train_reader_args, config_from_args, epoch_batches, train_reader

pytestmark = pytest.mark.integration

ITEMS = TINY_SQUAD_ITEMS


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("train")
    base = make_tiny_qa_model(d / "base")
    train = write_squad(d / "train.json", ITEMS)
    dev = write_squad(d / "dev.json", ITEMS[:3])
    return d, str(base), str(train), str(dev)


def _cfg(d, base, train, dev, out, **kw):
    args = dict(
        base=base, train_files=(train,), dev_files=(dev,), out_dir=str(d / out), epochs=2, lr=1e-3,
        batch_size=2, max_seq_len=64, doc_stride=16, eval_max_seq_len=64, eval_doc_stride=16,
        threads=1, progress=False, seed=3,
    )
    args.update(kw)
    return TrainConfig(**args)


def test_train_checkpoint_resume_and_load(setup):
    d, base, train, dev = setup
    full = train_reader(_cfg(d, base, train, dev, "full"))
    assert full["total_steps"] == 6  # 6 items / batch 2 = 3 steps per epoch, 2 epochs
    out = d / "full"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training_args.json", "metrics.json"):
        assert (out / name).is_file(), name
    assert (out / "checkpoint" / "state.pt").is_file()
    assert json.loads((out / "training_args.json").read_text())["lr"] == 1e-3
    assert [h["step"] for h in full["history"]] == [3, 6]

    # "Kill" after 4 steps, then resume: the final weights must equal the uninterrupted run.
    part = train_reader(_cfg(d, base, train, dev, "killed"), interrupt_after=4)
    assert part == {"interrupted_at": 4}
    state = torch.load(d / "killed" / "checkpoint" / "state.pt", weights_only=False)
    assert state["step"] == 4
    resumed = train_reader(_cfg(d, base, train, dev, "killed", resume=True))
    assert [h["step"] for h in resumed["history"]] == [3, 6]
    a = torch.load(out / "checkpoint" / "state.pt", weights_only=False)["model"]
    b = torch.load(d / "killed" / "checkpoint" / "state.pt", weights_only=False)["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k

    from transformers import AutoModelForQuestionAnswering, AutoTokenizer

    model = AutoModelForQuestionAnswering.from_pretrained(out)
    tok = AutoTokenizer.from_pretrained(out)
    enc = tok("What?", "Fever.", return_tensors="pt")
    assert model(**enc).start_logits.shape == enc["input_ids"].shape


def test_resume_without_checkpoint_fails(setup):
    d, base, train, dev = setup
    with pytest.raises(TrainingError) as err:
        train_reader(_cfg(d, base, train, dev, "nothing", resume=True))
    assert "resume" in err.value.hint


def test_features_point_at_answer_and_cls(setup):
    d, base, train, dev = setup
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(base)
    exs = load_squad(train)
    long_ctx = exs[0].__class__(
        id="long", question="Which receptor?", context="filler text. " * 40 + "ACE2 is the receptor.",
        answers=("ACE2",), answer_starts=(len("filler text. " * 40),),
    )
    feats, stats = make_train_features(tok, exs + [long_ctx], 48, 16, neg_ratio=1.0)
    assert stats["negative_kept"] > 0 and stats["negative_dropped"] == 0
    for f in feats:
        if f.start_position:
            ex = (exs + [long_ctx])[f.example_index]
            text = tok.decode(f.input_ids[f.start_position : f.end_position + 1])
            assert text == ex.answers[0].lower()
    _, none = make_train_features(tok, [long_ctx], 48, 16, neg_ratio=0.0)
    assert none["negative_kept"] == 0 and none["positive"] >= 1


def test_locate_answer_outside_window():
    offs = [None, (0, 4), (5, 9), None]
    assert locate_answer(offs, 5, 9) == (2, 2)
    assert locate_answer(offs, 5, 12) is None


def test_epoch_batches_deterministic_and_complete():
    lengths = [5, 50, 7, 30, 9, 12, 40, 3]
    b1 = epoch_batches(lengths, 3, seed=1, epoch=0)
    assert b1 == epoch_batches(lengths, 3, seed=1, epoch=0)
    assert sorted(i for b in b1 for i in b) == list(range(8))
    assert b1 != epoch_batches(lengths, 3, seed=1, epoch=1) or len(b1) == 1


def test_cli_args_roundtrip():
    import argparse

    p = add_train_reader_args(argparse.ArgumentParser())
    cfg = config_from_args(
        p.parse_args(["--base", "b", "--train", "a.json", "c.json", "--train-repeats", "2", "1", "--out", "o", "--lr", "1e-4"])
    )
    assert cfg.train_files == ("a.json", "c.json") and cfg.train_repeats == (2, 1) and cfg.lr == 1e-4
    with pytest.raises(TrainingError):
        TrainConfig(base="b", train_files=("a",), out_dir="o", train_repeats=(1, 2))


def test_time_budget_ends_schedule_early(setup):
    d, base, train, dev = setup
    m = train_reader(_cfg(d, base, train, dev, "budget", time_budget_min=1e-6, dev_files=()))
    # The budget is spent after the first step: training stops, the model is still saved.
    assert (d / "budget" / "model.safetensors").is_file()
    state = torch.load(d / "budget" / "checkpoint" / "state.pt", weights_only=False)
    assert state["step"] == 1 and m["total_steps"] == 6


def test_shared_norm_loss_normalises_over_the_whole_group():
    from reader.train import shared_norm_loss

    # Two windows, 4 tokens each; context = tokens 1..3; answer at (1, 2) in window 0.
    s = torch.tensor([[0.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 0.0]])
    e = torch.tensor([[0.0, 0.0, 2.0, 0.0], [0.0, 0.0, 0.0, 3.0]])
    ctx = torch.tensor([[False, True, True, True]] * 2)
    loss = shared_norm_loss(s, e, ctx, [[0, 1]], torch.tensor([1, 0]), torch.tensor([2, 0]))
    lse = torch.logsumexp(torch.tensor([2.0, 0, 0, 0, 3.0, 0]), 0)
    assert loss.item() == pytest.approx(2 * (lse - 2.0).item(), rel=1e-5)
    # A distractor window that scores higher raises the loss (scores compete across passages).
    alone = shared_norm_loss(s, e, ctx, [[0]], torch.tensor([1, 0]), torch.tensor([2, 0]))
    assert alone.item() < loss.item()


def test_open_domain_training_groups_answer_windows_with_mined_negatives(setup):
    from transformers import AutoTokenizer

    from reader.train import make_groups, mine_negative_passages

    d, base, train, dev = setup
    tok = AutoTokenizer.from_pretrained(base)
    exs = load_squad(train)
    negs = mine_negative_passages(exs, tok, k=2, seed=0)
    for ex, ns in zip(exs, negs):
        assert len(ns) <= 2 and all(a.casefold() not in n.casefold() for a in ex.answers for n in ns)
    feats, groups = make_groups(tok, exs, negs, 64, 16)
    assert len(groups) == len(exs)
    for g in groups:
        assert feats[g[0]].start_position > 0 and all(feats[i].start_position == 0 for i in g[1:])
    res = train_reader(_cfg(d, base, train, dev, "grouped", negatives=2, epochs=1))
    assert res["feature_stats"]["groups"] == len(exs) and res["total_steps"] == 3
