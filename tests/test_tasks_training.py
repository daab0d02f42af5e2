"""The one training loop's pure parts (common.training): LR schedule, batching, devices; and
the task trainers' padding (tasks.training)."""
import pytest
import torch

from common.training import epoch_batches, lr_factor, schedule_factor
from tasks.ner import IGNORE
from tasks.training import pad_batch

pytestmark = pytest.mark.unit


def test_lr_factor_warms_up_then_decays_to_zero():
    assert lr_factor(0.0, 0.1) == 0.0
    assert lr_factor(0.05, 0.1) == pytest.approx(0.5)
    assert lr_factor(0.1, 0.1) == pytest.approx(1.0)
    assert lr_factor(0.55, 0.1) == pytest.approx(0.5)
    assert lr_factor(1.0, 0.1) == 0.0 and lr_factor(1.3, 0.1) == 0.0  # past the budget: no negative LR
    assert lr_factor(0.0, 0.0) == 1.0


def test_schedule_factor_is_transformers_linear_schedule_and_follows_a_time_budget():
    from transformers import get_linear_schedule_with_warmup

    for total, warmup in ((6, 0.1), (250, 0.1), (37, 0.06), (10, 0.25)):
        opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        sched = get_linear_schedule_with_warmup(opt, int(warmup * total), total)
        for step in range(total):
            assert schedule_factor(step, total, warmup) == pytest.approx(opt.param_groups[0]["lr"], abs=1e-12)
            opt.step()
            sched.step()
    # Time further along than steps: the schedule follows time (past the budget: 0, never negative).
    assert schedule_factor(1, 100, 0.1, time_fraction=0.55) == pytest.approx(0.5)
    assert schedule_factor(1, 100, 0.1, time_fraction=1.2) == 0.0
    assert schedule_factor(60, 100, 0.1, time_fraction=0.2) == pytest.approx(40 / 90)


def test_epoch_batches_deterministic_cover_everything():
    lengths = [5, 1, 9, 3, 7, 2, 8]
    a = epoch_batches(lengths, 2, seed=1, epoch=0)
    assert a == epoch_batches(lengths, 2, seed=1, epoch=0)
    assert a != epoch_batches(lengths, 2, seed=1, epoch=1)
    assert sorted(i for b in a for i in b) == list(range(7))


def test_pad_batch_token_and_sequence_labels():
    tok = pad_batch([{"input_ids": [1, 2, 3], "labels": [IGNORE, 4, IGNORE]}, {"input_ids": [1, 2], "labels": [IGNORE, 0]}], 0, IGNORE)
    assert tok["input_ids"].tolist() == [[1, 2, 3], [1, 2, 0]]
    assert tok["attention_mask"].tolist() == [[1, 1, 1], [1, 1, 0]]
    assert tok["labels"].tolist() == [[IGNORE, 4, IGNORE], [IGNORE, 0, IGNORE]]
    cls = pad_batch([{"input_ids": [1], "labels": 2}, {"input_ids": [1, 2], "labels": 0}], 0, None)
    assert cls["labels"].dtype == torch.long and cls["labels"].tolist() == [2, 0]
    multi = pad_batch([{"input_ids": [1], "labels": [1.0, 0.0]}], 0, None)
    assert multi["labels"].dtype == torch.float


def test_resolve_device_names():
    from common.training import resolve_device
    from tasks.errors import TaskError

    assert resolve_device("cpu").type == "cpu"
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    with pytest.raises(TaskError, match="unknown device"):
        resolve_device("tpu", TaskError)  # the caller's error family
    if not torch.cuda.is_available():
        with pytest.raises(TaskError, match="no CUDA device"):
            resolve_device("cuda:0", TaskError)


def test_freeze_word_embeddings_only_freezes_the_input_matrix():
    from transformers import BertConfig, BertModel

    from common.training import adamw, freeze_word_embeddings

    model = BertModel(BertConfig(vocab_size=50, hidden_size=8, num_hidden_layers=1, num_attention_heads=2,
                                 intermediate_size=16))
    assert freeze_word_embeddings(model) == 50 * 8
    frozen = [n for n, p in model.named_parameters() if not p.requires_grad]
    assert frozen == ["embeddings.word_embeddings.weight"]
    opt = adamw(model, 1e-3, 0.01)
    assert sum(p.numel() for g in opt.param_groups for p in g["params"]) == \
        sum(p.numel() for p in model.parameters()) - 400
