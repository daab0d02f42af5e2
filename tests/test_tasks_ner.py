"""NER: BIO reading, sub-word label alignment, entity metrics, tiny-model training with
resume, evaluation and character-offset tagging."""
import json

import pytest
import torch

from common.datasets import DatasetFormatError
from tasks.errors import TaskError
from tasks.ner import (
    IGNORE,
    NerSentence,
    NerTagger,
    NerTrainConfig,
    align_labels,
    bio_to_spans,
    encode,
    entity_metrics,
    evaluate_ner,
    label_list,
    read_bio,
    train_ner,
    write_bio,
)
from tasks.testing import TINY_BIO_SENTENCES, make_tiny_base

BIO = """Identification\tO
of\tO
adenomatous\tB-Disease
polyposis\tI-Disease
coli\tI-Disease
.\tO

Naloxone\tB-Chemical
reverses\tO
hypertension\tB-Disease
.\tO
"""


@pytest.mark.unit
def test_read_bio_and_round_trip(tmp_path):
    p = tmp_path / "a.tsv"
    p.write_text("-DOCSTART-\tO\n\n" + BIO.replace("\n", "\r\n"))  # CRLF and DOCSTART tolerated
    s = read_bio(p)
    assert len(s) == 2
    assert s[0].tokens[2:5] == ("adenomatous", "polyposis", "coli")
    assert s[1].tags == ("B-Chemical", "O", "B-Disease", "O")
    q = write_bio(tmp_path / "b.tsv", s)
    assert read_bio(q) == s


@pytest.mark.unit
@pytest.mark.parametrize(
    "content, line, fragment",
    [
        ("fever\tO\ncough\n", 2, "expected 'token<TAB>tag'"),
        ("fever\tO\n\ncough\tB_Disease\n", 3, "invalid tag 'B_Disease'"),
        ("fever\tX-Disease\n", 1, "invalid tag"),
    ],
)
def test_read_bio_malformed_names_file_and_line(tmp_path, content, line, fragment):
    p = tmp_path / "bad.tsv"
    p.write_text(content)
    with pytest.raises(DatasetFormatError) as ei:
        read_bio(p)
    assert ei.value.line == line and ei.value.path == str(p)
    assert f"bad.tsv:{line}" in str(ei.value) and fragment in str(ei.value)


@pytest.mark.unit
def test_read_bio_missing_and_empty(tmp_path):
    with pytest.raises(DatasetFormatError, match="nope.tsv: not found"):
        read_bio(tmp_path / "nope.tsv")
    (tmp_path / "e.tsv").write_text("\n\n")
    with pytest.raises(DatasetFormatError, match="no sentences"):
        read_bio(tmp_path / "e.tsv")


@pytest.mark.unit
def test_align_labels_first_piece_only():
    # [CLS] w0 w1a w1b w1c w2 [SEP]
    word_ids = [None, 0, 1, 1, 1, 2, None]
    assert align_labels(word_ids, [0, 1, 2]) == [IGNORE, 0, 1, IGNORE, IGNORE, 2, IGNORE]


@pytest.mark.unit
def test_encode_with_real_tokenizer(minilm_path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(minilm_path)
    s = NerSentence(("Naloxone", "reverses", "hypertension"), ("B-Chemical", "O", "B-Disease"))
    label2id = {l: i for i, l in enumerate(label_list(["Chemical", "Disease"]))}
    feats, wids = encode(tok, [s], label2id, 64)
    labels, w = feats[0]["labels"], wids[0]
    assert len(labels) == len(feats[0]["input_ids"]) == len(w)
    pieces = tok.tokenize("Naloxone")
    assert len(pieces) > 1  # the test is only meaningful when a word splits
    # exactly one labelled position per word, at its first piece
    labelled = [(j, l) for j, l in enumerate(labels) if l != IGNORE]
    assert [l for _, l in labelled] == [label2id["B-Chemical"], label2id["O"], label2id["B-Disease"]]
    assert [w[j] for j, _ in labelled] == [0, 1, 2]
    assert labels[0] == IGNORE and labels[-1] == IGNORE and labels[2] == IGNORE


@pytest.mark.unit
def test_entity_metrics_hand_made():
    gold = [["B-Disease", "I-Disease", "O", "B-Chemical"], ["O", "B-Disease"]]
    # first entity exact, Chemical missed, second-sentence Disease cut short -> wrong boundary
    pred = [["B-Disease", "I-Disease", "O", "O"], ["B-Disease", "O"]]
    m = entity_metrics(gold, pred)
    assert m["n"] == 2
    assert m["precision"] == pytest.approx(50.0)  # 1 of 2 predicted entities correct
    assert m["recall"] == pytest.approx(100 / 3)  # 1 of 3 gold entities found
    assert m["f1"] == pytest.approx(40.0)
    assert m["per_type"]["Chemical"] == {"precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 1}
    assert m["per_type"]["Disease"]["support"] == 2 and m["per_type"]["Disease"]["precision"] == 50.0
    perfect = entity_metrics(gold, gold)
    assert perfect["f1"] == 100.0


@pytest.mark.unit
def test_bio_to_spans_follows_conlleval_rules():
    assert bio_to_spans(["B-D", "I-D", "O", "I-C", "I-C", "B-C", "I-D"]) == [(0, 2, "D"), (3, 5, "C"), (5, 6, "C"), (6, 7, "D")]
    assert bio_to_spans(["O", "O"]) == []


@pytest.mark.unit
def test_config_validation():
    with pytest.raises(TaskError, match="no training files"):
        NerTrainConfig(base="b", train_files=(), out_dir="o")
    with pytest.raises(TaskError, match="warmup"):
        NerTrainConfig(base="b", train_files=("t",), out_dir="o", warmup=1.5)


SENTS = TINY_BIO_SENTENCES


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    d = tmp_path_factory.mktemp("ner")
    base = make_tiny_base(d / "base")
    train = write_bio(d / "train.tsv", SENTS)
    dev = write_bio(d / "dev.tsv", SENTS[:3])
    return d, str(base), str(train), str(dev)


def _cfg(d, base, train, dev, out, **kw):
    args = dict(base=base, train_files=(train,), dev_file=dev, out_dir=str(d / out), epochs=2, lr=1e-3,
                batch_size=2, max_seq_len=32, threads=1, progress=False, seed=5)
    args.update(kw)
    return NerTrainConfig(**args)


@pytest.mark.integration
def test_train_resume_evaluate_tag(setup):
    d, base, train, dev = setup
    full = train_ner(_cfg(d, base, train, dev, "full"))
    assert full["total_steps"] == 6 and [h["step"] for h in full["history"]] == [3, 6]
    out = d / "full"
    for name in ("config.json", "model.safetensors", "tokenizer.json", "training_args.json", "metrics.json", "task.json"):
        assert (out / name).is_file(), name
    assert json.loads((out / "training_args.json").read_text())["lr"] == 1e-3
    info = json.loads((out / "task.json").read_text())
    assert info["task"] == "ner" and info["labels"] == ["O", "B-Chemical", "I-Chemical", "B-Disease", "I-Disease"]

    # "Kill" after 4 steps, then resume: the final weights equal the uninterrupted run's.
    assert train_ner(_cfg(d, base, train, dev, "killed"), interrupt_after=4) == {"interrupted_at": 4}
    resumed = train_ner(_cfg(d, base, train, dev, "killed", resume=True))
    assert [h["step"] for h in resumed["history"]] == [3, 6]
    a = torch.load(out / "checkpoint" / "state.pt", weights_only=False)["model"]
    b = torch.load(d / "killed" / "checkpoint" / "state.pt", weights_only=False)["model"]
    for k in a:
        assert torch.allclose(a[k], b[k], atol=1e-6), k
    assert resumed["history"][-1]["f1"] == pytest.approx(full["history"][-1]["f1"])

    res = evaluate_ner(out, dev)
    assert set(res) == {"precision", "recall", "f1", "n", "per_type"} and res["n"] == 3
    assert 0.0 <= res["f1"] <= 100.0

    texts = ["Naloxone reverses the effect of clonidine.", "", "Aspirin caused gastric bleeding. " * 30]
    tagger = NerTagger(out, max_seq_len=16)  # forces the long text into several chunks
    spans = tagger.tag(texts)
    assert len(spans) == 3 and spans[1] == []
    for text, ents in zip(texts, spans):
        for e in ents:
            assert text[e.start : e.end] == e.text and e.label in ("Chemical", "Disease") and 0 < e.score <= 1


@pytest.mark.integration
def test_resume_without_checkpoint_and_bad_base(setup, tmp_path):
    d, base, train, dev = setup
    with pytest.raises(TaskError, match="--resume"):
        train_ner(_cfg(d, base, train, dev, "fresh", resume=True))
    with pytest.raises(TaskError, match="cannot load base model"):
        train_ner(_cfg(d, str(tmp_path / "missing"), train, dev, "x"))


@pytest.mark.integration
def test_time_budget_and_eval_every(setup):
    d, base, train, dev = setup
    m = train_ner(_cfg(d, base, train, dev, "budget", epochs=50, eval_every=2, time_budget_min=1e-6, bf16=True))
    assert m["steps_done"] == 1 and m["total_steps"] == 150  # stopped by the budget after one step
    assert [h["tag"] for h in m["history"]] == ["final"]
